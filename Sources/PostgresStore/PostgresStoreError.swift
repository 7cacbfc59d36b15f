import NIOCore
import NIOSSL
import PostgresNIO

/// What went wrong with the PostgreSQL store, as one sentence for the operator. Never contains the
/// password: locations are shown through `PostgresLocation.description`.
public enum PostgresStoreError: StoreUnavailableError, CustomStringConvertible, Equatable {
    /// The database could not be reached or refused the login.
    case cannotConnect(location: String, reason: String)
    /// Another relay with a newer gmail-relay has migrated the database past what this binary knows.
    case schemaTooNew(databaseVersion: Int, knownVersion: Int)
    /// A statement failed.
    case query(String)
    /// A message body read back does not match what was stored (a missing or extra chunk).
    case corruptBody(messageID: Int64, reason: String)
    /// No answer within the store's operation time-out: the database is down or unreachable.
    case noAnswer(seconds: Int)

    public var description: String {
        switch self {
        case .cannotConnect(let location, let reason):
            "cannot connect to the PostgreSQL store \(location): \(reason)"
        case .schemaTooNew(let database, let known):
            "the PostgreSQL store's schema is version \(database), but this gmail-relay knows only up to version \(known): "
                + "a newer gmail-relay migrated it; upgrade this relay before starting it"
        case .query(let reason):
            "PostgreSQL store: \(reason)"
        case .corruptBody(let id, let reason):
            "PostgreSQL store: the body of message \(id) is damaged: \(reason)"
        case .noAnswer(let seconds):
            "the PostgreSQL store did not answer within \(seconds) s: is the database running and reachable?"
        }
    }

    /// postgres-nio's errors say only "PSQLError" in their description (on purpose, to keep server
    /// details out of user-facing text); the operator needs the reason, which holds no secret.
    static func reason(_ error: any Error) -> String {
        if let transaction = error as? PostgresTransactionError {
            if let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError {
                return reason(inner)
            }
        }
        if let store = error as? PostgresStoreError { return store.description }
        // The pool's own error says only its case.
        if isPoolError(error) {
            if String(describing: error).contains("CircuitBreaker") {
                return "the database cannot be reached: connection attempts keep failing (is it running and reachable?)"
            }
            return "the connection pool refused: \(error)"
        }
        guard let psql = error as? PSQLError else { return String(describing: error) }
        switch psql.code {
        case .server:
            let message = psql.serverInfo?[.message] ?? "the server refused"
            let state = psql.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + state
        case .sslUnsupported:
            return "the server does not offer TLS (use sslmode=disable only on a network you trust)"
        case .connectionError, .failedToAddSSLHandler:
            if let underlying = psql.underlying { return describeUnderlying(underlying) }
            return "the connection failed"
        case .serverClosedConnection:
            return "the server closed the connection"
        case .authMechanismRequiresPassword:
            return "the server asks for a password and none is configured (store.password_file, GMAIL_RELAY_STORE_PASSWORD or the URL)"
        case .unsupportedAuthMechanism:
            return "the server asks for a login method gmail-relay does not support (use scram-sha-256 or md5)"
        case .poolClosed, .clientClosedConnection:
            return "the connection pool is closed"
        default:
            return psql.code.description
        }
    }

    private static func describeUnderlying(_ error: any Error) -> String {
        if let ssl = error as? NIOSSLError {
            switch ssl {
            case .handshakeFailed(let inner):
                return "the TLS handshake failed (is the server's certificate trusted and issued for this host? sslrootcert names a CA file): \(inner)"
            default:
                return "TLS failed: \(ssl)"
            }
        }
        if let io = error as? IOError { return io.description }
        return String(describing: error)
    }

    /// postgres-nio's pool refused (its circuit breaker, mostly). Matched by type name: the type lives in
    /// postgres-nio's underscored module, which this one does not import.
    static func isPoolError(_ error: any Error) -> Bool {
        String(reflecting: type(of: error)).hasSuffix("ConnectionPoolError")
    }

    static func wrapping(_ error: any Error) -> PostgresStoreError {
        if let store = error as? PostgresStoreError { return store }
        // withTransaction wraps what the closure threw; our own errors come back out as they were.
        if let transaction = error as? PostgresTransactionError, let inner = transaction.closureError as? PostgresStoreError {
            return inner
        }
        return .query(reason(error))
    }
}
