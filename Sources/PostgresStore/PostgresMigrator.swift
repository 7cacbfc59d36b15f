import Logging
import NIOCore
import PostgresNIO

/// Brings a PostgreSQL database to this binary's schema version, safely when several relays start at once.
///
/// Everything happens in one transaction that first takes a transaction-scoped advisory lock: a second
/// relay starting at the same moment waits for the first to commit and then finds nothing left to do.
/// PostgreSQL's DDL is transactional, so a migration that fails leaves the database as it was.
public enum PostgresMigrator {
    /// The schema version this binary writes and understands.
    public static var knownVersion: Int { Migrations.latestVersion }

    /// pg_advisory_xact_lock key: "gmrelay" in ASCII, so it will not collide with another application's lock.
    static let lockKey: Int64 = 0x676d_7265_6c61_79

    public struct Outcome: Sendable, Equatable {
        /// The version before (0: an empty database).
        public var from: Int
        /// The version now.
        public var to: Int
        public var applied: [Int] { from < to ? Array((from + 1)...to) : [] }
    }

    /// Connects, migrates and disconnects. A database newer than this binary is `schemaTooNew`.
    public static func migrate(_ settings: PostgresSettings, logger: Logger) async throws -> Outcome {
        try await withConnection(settings, logger: logger) { connection in
            try await migrate(connection, relayName: settings.relayName, logger: logger)
        }
    }

    /// The version recorded in `schema_migrations`, 0 when the database has none (never migrated).
    public static func currentVersion(_ settings: PostgresSettings, logger: Logger) async throws -> Int {
        try await withConnection(settings, logger: logger) { connection in
            do {
                return try await version(connection, logger: logger)
            } catch {
                throw PostgresStoreError.wrapping(error)
            }
        }
    }

    /// Refuses a database whose schema is newer than this binary (a relay must not write rows it does
    /// not understand); an older one is migrated.
    static func migrate(_ connection: PostgresConnection, relayName: String, logger: Logger) async throws -> Outcome {
        do {
            return try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY,
                        name TEXT NOT NULL,
                        applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                        applied_by TEXT NOT NULL
                    )
                    """, logger: logger)
                let current = try await version(connection, logger: logger)
                guard current <= knownVersion else {
                    throw PostgresStoreError.schemaTooNew(databaseVersion: current, knownVersion: knownVersion)
                }
                for migration in Migrations.all where migration.version > current {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO schema_migrations (version, name, applied_by) VALUES (\(migration.version), \(migration.name), \(relayName))",
                        logger: logger)
                    logger.notice("PostgreSQL store migrated", metadata: ["store.schema_version": "\(migration.version)"])
                }
                return Outcome(from: current, to: max(current, knownVersion))
            }
        } catch {
            throw PostgresStoreError.wrapping(error)
        }
    }

    static func version(_ connection: PostgresConnection, logger: Logger) async throws -> Int {
        let exists = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL", logger: logger)
        var found = false
        for try await (flag) in exists.decode(Bool.self) { found = flag }
        guard found else { return 0 }
        let rows = try await connection.query("SELECT coalesce(max(version), 0)::INTEGER FROM schema_migrations", logger: logger)
        var current = 0
        for try await (value) in rows.decode(Int32.self) { current = Int(value) }
        return current
    }

    /// One connection for the whole step, closed afterwards, with connection errors said plainly.
    static func withConnection<Result: Sendable>(
        _ settings: PostgresSettings, logger: Logger, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: try settings.connectionConfiguration(), id: 1, logger: logger)
        } catch let error as PostgresStoreError {
            throw error
        } catch {
            throw PostgresStoreError.cannotConnect(location: settings.description, reason: PostgresStoreError.reason(error))
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
