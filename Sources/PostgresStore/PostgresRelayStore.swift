import Foundation
import Logging
import NIOCore
import PostgresNIO
import RelayVocabulary
@_exported import StoreModel

/// The store API (StoreModel's MessageStore, AccountStore, CredentialStore and MessageIntake) on a
/// PostgreSQL database that several relays share. It behaves as RelayStore (SQLite) does: the same
/// results, errors, events and words, the lifecycle's table and the decisions taken from StoreModel.
/// What a shared store does differently:
/// - bodies live in the database (`message_chunks`), so a message row never names a local file;
/// - a relay claims with a lease (`lease_owner` = its name, `lease_until`), renews every lease it holds in
///   `heartbeat()`, and takes over `sending` messages whose lease ran out (a relay died mid-send);
/// - `finishAttempt` and `markStatus` for a message this relay no longer holds write nothing (see there);
/// - `requeueInterrupted` requeues only this relay's own `sending` messages.
///
/// Run `run()` in a long-lived task: it drives the connection pool.
public final class PostgresRelayStore: Sendable {
    public struct Options: Sendable {
        /// The secret key file every relay sharing the database reads (`GMAIL_RELAY_SECRET_KEY_FILE`).
        public var secretKeyFile: String
        /// Cost of new SMTP password hashes. Existing hashes keep the parameters they were made with.
        public var passwordHashing: PasswordHasher.Parameters
        /// How long a claim holds a message without a heartbeat: about 3 heartbeat intervals, so one
        /// missed beat does not hand a message in flight to another relay.
        public var lease: Duration
        public var maximumConnections: Int
        /// The longest one store operation may wait (for a connection, a lock, the commit). postgres-nio
        /// waits for a connection as long as it takes; a database that is gone must instead give SMTP a
        /// 451 and the page a 503 in bounded time.
        public var operationTimeout: Duration = .seconds(15)
        public var clock: @Sendable () -> Date
        public var logger: Logger

        public init(
            secretKeyFile: String, passwordHashing: PasswordHasher.Parameters = .standard, lease: Duration = .seconds(90),
            maximumConnections: Int = 10, clock: @escaping @Sendable () -> Date = { Date() },
            logger: Logger = Logger(label: "gmail-relay.store")
        ) {
            self.secretKeyFile = secretKeyFile
            self.passwordHashing = passwordHashing
            self.lease = lease
            self.maximumConnections = maximumConnections
            self.clock = clock
            self.logger = logger
        }
    }

    /// This relay's name in `relays`, `lease_owner`, `accepted_by` and `attempts.relay`.
    public let relayName: String
    public let secretKeyFile: String
    public let lease: Duration
    let operationTimeout: Duration
    /// postgres-nio's pool, renewed after an outage when the database answers again (RenewablePool).
    let pool: RenewablePool
    var client: PostgresClient { pool.client }
    let logins: LoginChecker
    /// Password checks that ran the slow KDF (the cache and fast hashes skip it), as RelayStore counts them.
    let slowChecks = LockedValue(0)
    let clock: @Sendable () -> Date
    let logger: Logger
    /// When this store (this relay process) started: `relays.started_at`.
    let startedAt: Int64
    let secrets: AccountSecrets

    /// The database must be migrated (`PostgresMigrator.migrate`) before the store is used.
    public init(settings: PostgresSettings, options: Options) {
        self.relayName = settings.relayName
        self.secretKeyFile = options.secretKeyFile
        self.lease = options.lease
        self.operationTimeout = options.operationTimeout
        self.pool = RenewablePool(settings: settings, maximumConnections: options.maximumConnections, logger: options.logger)
        let slowChecks = self.slowChecks
        self.logins = LoginChecker(hasher: PasswordHasher(parameters: options.passwordHashing),
                                   onSlowCheck: { slowChecks.withLock { $0 += 1 } })
        self.clock = options.clock
        self.logger = options.logger
        self.startedAt = Millis.from(options.clock())
        self.secrets = AccountSecrets(keyFile: options.secretKeyFile)
    }

    /// Drives the connection pool (and renews it after an outage) until the task is cancelled.
    public func run() async {
        await pool.run()
    }

    var nowMillis: Int64 { Millis.from(clock()) }
    var leaseMillis: Int64 { lease.milliseconds }

    // MARK: Running statements

    /// One transaction: committed when `body` returns, rolled back when it throws. StoreError comes out
    /// as it was thrown; database errors become PostgresStoreError, which says why.
    ///
    /// Rows a step changes are locked `FOR NO KEY UPDATE` (not `FOR UPDATE`), so the key-share locks of
    /// concurrent inserts that reference them (a message's chunks and events, an accept's account) do not
    /// wait for it. A transaction PostgreSQL aborts as a deadlock victim runs again (twice at most): every
    /// step reads what it needs inside its transaction, so running it again is safe.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (Session) async throws -> T) async throws -> T {
        try await bounded { try await self.writeUnbounded(body) }
    }

    private func writeUnbounded<T: Sendable>(_ body: (Session) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                let result = try await client.withTransaction(logger: logger) { connection in
                    try await body(Session(connection: connection, logger: logger))
                }
                pool.noteSuccess()
                return result
            } catch {
                pool.noteFailure(error)
                attempt += 1
                guard attempt < 3, isDeadlock(error) else { throw Self.translate(error) }
                logger.debug("transaction chosen as a deadlock victim, running it again", metadata: ["attempt": "\(attempt)"])
            }
        }
    }

    /// Statements on one pooled connection, each in its own implicit transaction (reads).
    func read<T: Sendable>(_ body: @escaping @Sendable (Session) async throws -> T) async throws -> T {
        try await bounded { try await self.readUnbounded(body) }
    }

    private func readUnbounded<T: Sendable>(_ body: (Session) async throws -> T) async throws -> T {
        do {
            let result = try await client.withConnection { connection in
                try await body(Session(connection: connection, logger: logger))
            }
            pool.noteSuccess()
            return result
        } catch {
            pool.noteFailure(error)
            throw Self.translate(error)
        }
    }

    /// Runs `operation` for at most `operationTimeout`; past it `noAnswer` is thrown and the operation is
    /// cancelled and left to end on its own. The caller never waits for it: a query sent on a connection
    /// the server dropped at that moment may never answer nor honour cancellation (seen when the database
    /// stopped mid-load), and waiting for it hung the delivery worker and so the relay's stop. Cancelling
    /// the caller cancels the operation and ends the wait at once.
    private func bounded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = operationTimeout
        let outcome = OneOutcome<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                outcome.start(continuation, operation: operation, timeout: timeout) { [logger, pool] in
                    pool.noteFailure(PostgresStoreError.noAnswer(seconds: Int(timeout.components.seconds)))
                    logger.warning("a PostgreSQL store operation did not answer in time; left to end on its own",
                                   metadata: ["seconds": "\(timeout.components.seconds)"])
                }
            }
        } onCancel: {
            outcome.cancel()
        }
    }

    static func translate(_ error: any Error) -> any Error {
        if let store = error as? StoreError { return store }
        if let transaction = error as? PostgresTransactionError, let inner = transaction.closureError {
            return translate(inner)
        }
        return PostgresStoreError.wrapping(error)
    }
}

/// One connection (in a transaction or not) and the statements the store runs on it.
struct Session {
    let connection: PostgresConnection
    let logger: Logger

    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }

    func row(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? {
        try await rows(query).first
    }

    /// Runs a statement; with RETURNING, the number of rows it returned (what it changed).
    @discardableResult
    func run(_ query: PostgresQuery) async throws -> Int {
        try await connection.query(query, logger: logger).collect().count
    }

    /// The first column of the first row, or nil.
    func value<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type = T.self) async throws -> T? where T._DecodableType == T {
        guard let row = try await row(query) else { return nil }
        return try row[0].decode(T?.self)
    }

    /// A line in `events`.
    func insertEvent(
        at: Int64, kind: EventKind, detail: String, messageID: Int64? = nil, accountID: Int64? = nil, account: String? = nil,
        problem: ProblemCode? = nil
    ) async throws {
        try await run("""
            INSERT INTO events (message_id, account_id, account, at, kind, detail, problem_code)
            VALUES (\(messageID), \(accountID), \(account), \(at), \(kind.rawValue), \(detail), \(problem?.rawValue))
            """)
    }
}

/// Whether PostgreSQL aborted the transaction to break a deadlock (40P01) or a serialization conflict (40001).
func isDeadlock(_ error: any Error) -> Bool {
    var error = error
    if let transaction = error as? PostgresTransactionError, let inner = transaction.closureError ?? transaction.commitError {
        error = inner
    }
    guard let state = (error as? PSQLError)?.serverInfo?[.sqlState] else { return false }
    return state == "40P01" || state == "40001"
}

/// Whether a statement failed on a UNIQUE constraint (SQLSTATE 23505): two relays adding the same name at once.
func isUniqueViolation(_ error: any Error) -> Bool {
    (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
}

extension PostgresRandomAccessRow {
    func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }

    /// A 0/1 INTEGER column (the schema's booleans, as in SQLite).
    func flag(_ column: String) throws -> Bool {
        try get(column, as: Int.self) != 0
    }

    func date(_ column: String) throws -> Date {
        Millis.date(try get(column, as: Int64.self))
    }

    func dateIfAny(_ column: String) throws -> Date? {
        Millis.dateIfAny(try get(column, as: Int64?.self))
    }
}

// MARK: - Rows to models

extension Account {
    /// Every column but the secret itself (an account read does not copy the encrypted grant).
    static let pgColumns = """
        id, name, kind, from_addresses, state, problem_code, problem_detail, secret IS NOT NULL AS has_secret,
        consented_at, last_success_at, token_expires_at, checked_at, granted_scopes, fallback_account, secret_stored_at,
        created_at, updated_at
        """

    init(pg row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            name: try row.get("name"),
            kind: AccountKind(rawValue: try row.get("kind")) ?? .sandbox,
            fromAddresses: JSONList.decode(try row.get("from_addresses", as: String.self)),
            state: AccountState(rawValue: try row.get("state")) ?? .unconfigured,
            problemCode: ProblemCode(stored: try row.get("problem_code", as: String?.self)),
            problemDetail: ProblemDetail(json: try row.get("problem_detail", as: String?.self)),
            hasSecret: try row.get("has_secret"),
            consentedAt: try row.dateIfAny("consented_at"),
            lastSuccessAt: try row.dateIfAny("last_success_at"),
            tokenExpiresAt: try row.dateIfAny("token_expires_at"),
            checkedAt: try row.dateIfAny("checked_at"),
            grantedScopes: try row.get("granted_scopes", as: String?.self).map { $0.split(separator: " ").map(String.init) },
            fallback: try row.get("fallback_account"),
            secretStoredAt: try row.dateIfAny("secret_stored_at"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}

extension MessageRecord {
    /// The columns a MessageRecord is read from (a PostgreSQL row has no spool path: bodies are chunks).
    static let pgColumns = """
        id, status, account, account_id, credential_username, peer, tls, mail_from, recipients, subject, message_id, size,
        gmail_id, sandbox, problem_code, attempts, next_attempt_at, rewritten_headers, created_at, updated_at, sent_through
        """

    init(pg row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            status: MessageStatus(rawValue: try row.get("status")) ?? .failed,
            account: try row.get("account"),
            mailFrom: try row.get("mail_from"),
            recipients: JSONList.decode(try row.get("recipients", as: String.self)),
            subject: try row.get("subject"),
            messageID: try row.get("message_id"),
            size: try row.get("size"),
            gmailID: try row.get("gmail_id"),
            problem: ProblemCode(stored: try row.get("problem_code", as: String?.self)),
            attempts: try row.get("attempts"),
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"),
            sandbox: try row.flag("sandbox"),
            peer: try row.get("peer"),
            tls: try row.flag("tls"),
            accountID: try row.get("account_id"),
            credentialUsername: try row.get("credential_username"),
            spoolPath: nil,
            nextAttemptAt: try row.dateIfAny("next_attempt_at"),
            rewrittenHeaders: try row.get("rewritten_headers"),
            sentThrough: try row.get("sent_through"))
    }
}

extension AttemptRecord {
    init(pg row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"),
            messageID: try row.get("message_id"),
            startedAt: try row.date("started_at"),
            finishedAt: try row.date("finished_at"),
            endpoint: try row.get("endpoint"),
            httpStatus: try row.get("http_status"),
            responseBody: try row.get("response_body"),
            problem: ProblemCode(stored: try row.get("problem_code", as: String?.self)),
            nextDelaySeconds: try row.get("next_delay_seconds"),
            detail: ProblemDetail(json: try row.get("problem_detail", as: String?.self)))
    }
}

extension EventRecord {
    /// Nil for a kind this version does not know (written by a newer relay): history shows what it can.
    init?(pg row: PostgresRandomAccessRow) throws {
        guard let kind = EventKind(rawValue: try row.get("kind")) else { return nil }
        self.init(
            id: try row.get("id"), messageID: try row.get("message_id"), account: try row.get("account"),
            at: try row.date("at"), kind: kind, detail: try row.get("detail"),
            problem: ProblemCode(stored: try row.get("problem_code", as: String?.self)))
    }
}

extension MessageState {
    /// From a row with id, status, account_id, account and, when selected, has_body.
    init(pg row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"), status: MessageStatus(rawValue: try row.get("status")) ?? .failed,
            accountID: try row.get("account_id"), account: try row.get("account"),
            hasBody: row.contains("has_body") ? try row.get("has_body", as: Bool.self) : true)
    }
}

/// A non-Sendable operation handed to one child task of a group that its caller awaits to the end
/// (`bounded`): it never runs concurrently with the caller's use of it, nor after the call returns.
/// The first of: the operation's result, the time-out, the caller's cancellation. Whichever comes first
/// resumes the caller; the others find the continuation gone.
private final class OneOutcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, Never>?
        var cancelled = false
    }
    private let state = LockedValue(State())

    func start(
        _ continuation: CheckedContinuation<T, any Error>, operation: @escaping @Sendable () async throws -> T,
        timeout: Duration, onTimeout: @escaping @Sendable () -> Void
    ) {
        let cancelledAlready = state.withLock { state in
            state.continuation = continuation
            state.work = Task {
                do {
                    _ = self.finish(.success(try await operation()))
                } catch {
                    _ = self.finish(.failure(error))
                }
            }
            state.timer = Task {
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                if self.finish(.failure(PostgresStoreError.noAnswer(seconds: Int(timeout.components.seconds)))) { onTimeout() }
            }
            return state.cancelled
        }
        if cancelledAlready { cancel() }
    }

    func cancel() {
        let started = state.withLock { state in
            state.cancelled = true
            return state.continuation != nil
        }
        if started { _ = finish(.failure(CancellationError())) }
    }

    /// Resumes the caller once; true when this call did.
    private func finish(_ result: Result<T, any Error>) -> Bool {
        let (continuation, work, timer) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.work, state.timer)
        }
        guard let continuation else { return false }
        timer?.cancel()
        work?.cancel()
        continuation.resume(with: result)
        return true
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
