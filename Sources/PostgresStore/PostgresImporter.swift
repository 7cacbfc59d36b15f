import Foundation
import Logging
import NIOCore
import PostgresNIO
import RelayVocabulary

/// The PostgreSQL side of `gmail-relay store copy`: writes a whole store, read from elsewhere (SQLite)
/// row by row, into an empty PostgreSQL store in ONE transaction, so a copy that fails leaves the target
/// as empty as it was and can simply be run again.
///
/// Rows keep their ids (log ids are in SMTP replies and operators' notes) and every column the source
/// has; each identity sequence is set past the largest id copied. Bodies become `message_chunks` of
/// `PostgresRelayStore.chunkSize` bytes, spool files read one chunk at a time. Account secrets are copied as
/// the sealed bytes they are: they are sealed with the account's name as context and the key file every
/// relay reads, so they open on PostgreSQL as they did on SQLite.
public enum PostgresImporter {
    /// Where a message's body is in the source.
    public enum Body: Sendable, Equatable {
        case inline(Data)
        /// A file to read in chunks (absolute path).
        case file(String)
    }

    /// What the copy reads: pages of rows in id order, and bodies by message id.
    public struct Source: Sendable {
        public var rows: @Sendable (_ table: StoreTable, _ afterID: Int64, _ limit: Int) throws -> [StoreRow]
        public var body: @Sendable (_ messageID: Int64) throws -> Body?

        public init(
            rows: @escaping @Sendable (StoreTable, Int64, Int) throws -> [StoreRow],
            body: @escaping @Sendable (Int64) throws -> Body?
        ) {
            self.rows = rows
            self.body = body
        }
    }

    public struct Summary: Sendable, Equatable {
        public var accounts = 0
        public var credentials = 0
        /// Messages by status as they are now in PostgreSQL (`sending` ones counted as `queued`).
        public var messages: [MessageStatus: Int] = [:]
        /// Messages that were `sending` in the source (an attempt cut off) and are `queued` now.
        public var requeued = 0
        public var inlineBodies = 0
        public var spoolFileBodies = 0
        public var bodyBytes: Int64 = 0
        /// Unsent messages (queued, held, failed) whose spool file was already gone: copied without a body.
        public var missingBodies: [Int64] = []
        public var attempts = 0
        public var events = 0
    }

    /// Source columns the PostgreSQL schema has no column for on purpose: SQLite's spool file path
    /// (bodies are chunks in the database).
    static let sourceOnlyColumns: [StoreTable: Set<String>] = [.messages: ["spool_path"]]

    /// Rows per INSERT statement and per page read from the source.
    static let pageSize = 200

    /// Migrates the target, then copies everything in one transaction. A target that already holds
    /// accounts, logins or messages is refused (`targetNotEmpty`) before anything is written.
    public static func copy(into settings: PostgresSettings, from source: Source, logger: Logger) async throws -> Summary {
        _ = try await PostgresMigrator.migrate(settings, logger: logger)
        return try await PostgresMigrator.withConnection(settings, logger: logger) { connection in
            do {
                return try await connection.withTransaction(logger: logger) { connection in
                    try await copy(connection, relayName: settings.relayName, source: source, logger: logger)
                }
            } catch let error as StoreCopyError {
                throw error
            } catch let error as PostgresTransactionError {
                if let inner = error.closureError as? StoreCopyError { throw inner }
                throw PostgresStoreError.query(PostgresStoreError.reason(error))
            } catch let error as PostgresStoreError {
                throw error
            } catch {
                throw PostgresStoreError.query(PostgresStoreError.reason(error))
            }
        }
    }

    private static func copy(_ connection: PostgresConnection, relayName: String, source: Source, logger: Logger) async throws -> Summary {
        // No relay may write while the copy runs (a relay started too early on the new store.url waits).
        try await connection.query("LOCK TABLE accounts, credentials, messages, attempts, events IN EXCLUSIVE MODE", logger: logger)
        let existing = try await connection.query(
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM credentials), (SELECT count(*) FROM messages)",
            logger: logger)
        for try await (accounts, credentials, messages) in existing.decode((Int64, Int64, Int64).self)
        where accounts + credentials + messages > 0 {
            throw StoreCopyError.targetNotEmpty(accounts: Int(accounts), logins: Int(credentials), messages: Int(messages))
        }

        var summary = Summary()
        var interrupted: [MessageState] = []
        for table in StoreTable.allCases {
            let targetColumns = try await columns(of: table, connection, logger: logger)
            var afterID: Int64 = 0
            while true {
                var page = try source.rows(table, afterID, pageSize)
                guard let last = page.last?.id else { break }
                afterID = last
                for index in page.indices {
                    try adjust(&page[index], table: table, relayName: relayName, summary: &summary, interrupted: &interrupted)
                }
                try await insert(page, into: table, targetColumns: targetColumns, connection, logger: logger)
                switch table {
                case .accounts: summary.accounts += page.count
                case .credentials: summary.credentials += page.count
                case .attempts: summary.attempts += page.count
                case .events: summary.events += page.count
                case .messages:
                    for row in page {
                        guard let id = row.id else { continue }
                        if case .text(let status)? = row["status"], let status = MessageStatus(rawValue: status) {
                            summary.messages[status, default: 0] += 1
                        }
                        try await copyBody(of: id, row: row, source: source, connection, summary: &summary, logger: logger)
                    }
                }
            }
            // The next id PostgreSQL gives is past every copied one.
            try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT setval(pg_get_serial_sequence('\(table.rawValue)', 'id'), coalesce((SELECT max(id) FROM \(table.rawValue)), 0) + 1, false)
                """), logger: logger)
        }
        // The history of a requeued message says why, in the lifecycle's words (as a restart writes them).
        let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        for message in interrupted {
            guard let event = MessageLifecycle.event(for: .interrupted, of: message, next: nil, now: now) else { continue }
            try await connection.query("""
                INSERT INTO events (message_id, account_id, account, at, kind, detail)
                VALUES (\(message.id), \(message.accountID), \(message.account), \(now), \(event.kind.rawValue), \(event.detail))
                """, logger: logger)
            summary.events += 1
        }
        return summary
    }

    /// What differs between a SQLite row and its PostgreSQL form.
    private static func adjust(
        _ row: inout StoreRow, table: StoreTable, relayName: String, summary: inout Summary, interrupted: inout [MessageState]
    ) throws {
        guard table == .messages else { return }
        row["spool_path"] = nil
        // A send cut off (the relay was stopped mid-attempt) goes back to the queue, as a restart does.
        if case .text("sending")? = row["status"] {
            row["status"] = .text(MessageStatus.queued.rawValue)
            summary.requeued += 1
            if let id = row.id, case .text(let account)? = row["account"] {
                var accountID: Int64?
                if case .integer(let value)? = row["account_id"] { accountID = value }
                interrupted.append(MessageState(id: id, status: .sending, accountID: accountID, account: account))
            }
        }
        row["accepted_by"] = .text(relayName)
        row["lease_owner"] = .null
        row["lease_until"] = .null
    }

    private static func columns(of table: StoreTable, _ connection: PostgresConnection, logger: Logger) async throws -> Set<String> {
        let rows = try await connection.query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(table.rawValue)",
            logger: logger)
        var names: Set<String> = []
        for try await (name) in rows.decode(String.self) { names.insert(name) }
        return names
    }

    /// One multi-row INSERT of a page (all rows of a table have the same columns).
    private static func insert(
        _ page: [StoreRow], into table: StoreTable, targetColumns: Set<String>, _ connection: PostgresConnection, logger: Logger
    ) async throws {
        guard let columns = page.first?.columns else { return }
        let ignored = sourceOnlyColumns[table] ?? []
        if let unknown = columns.first(where: { !targetColumns.contains($0) && !ignored.contains($0) }) {
            throw StoreCopyError.unknownColumn(table: table.rawValue, column: unknown)
        }
        var bindings = PostgresBindings(capacity: page.count * columns.count)
        var tuples: [String] = []
        tuples.reserveCapacity(page.count)
        var parameter = 0
        for row in page {
            guard row.columns == columns else {
                throw StoreCopyError.unknownColumn(table: table.rawValue, column: row.columns.joined(separator: ","))
            }
            var placeholders: [String] = []
            for value in row.values {
                parameter += 1
                placeholders.append("$\(parameter)")
                switch value {
                case .null: bindings.appendNull()
                case .integer(let number): bindings.append(number)
                case .real(let number): bindings.append(number)
                case .text(let text): bindings.append(text)
                case .blob(let data): bindings.append(ByteBuffer(bytes: data))
                }
            }
            tuples.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        let sql = "INSERT INTO \(table.rawValue) (\(columns.joined(separator: ", "))) VALUES " + tuples.joined(separator: ", ")
        try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
    }

    /// The body as `message_chunks`: an inline one at once, a spool file one chunk at a time (a 35 MB
    /// message never in memory whole). An empty body is one empty chunk, as the store writes it.
    private static func copyBody(
        of id: Int64, row: StoreRow, source: Source, _ connection: PostgresConnection, summary: inout Summary, logger: Logger
    ) async throws {
        func write(_ seq: Int32, _ data: ByteBuffer) async throws {
            try await connection.query(
                "INSERT INTO message_chunks (message_id, seq, data) VALUES (\(id), \(seq), \(data))", logger: logger)
            summary.bodyBytes += Int64(data.readableBytes)
        }
        switch try source.body(id) {
        case nil:
            if case .text(let status)? = row["status"], ["queued", "held", "failed"].contains(status) {
                summary.missingBodies.append(id)
            }
        case .inline(let data):
            var seq: Int32 = 0
            var offset = 0
            repeat {
                let end = min(data.count, offset + PostgresRelayStore.chunkSize)
                try await write(seq, ByteBuffer(bytes: data[data.startIndex + offset ..< data.startIndex + end]))
                seq += 1
                offset = end
            } while offset < data.count
            summary.inlineBodies += 1
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                if case .text(let status)? = row["status"], ["queued", "held", "failed"].contains(status) {
                    summary.missingBodies.append(id)
                }
                return
            }
            defer { try? handle.close() }
            var seq: Int32 = 0
            while true {
                let chunk: Data
                do {
                    chunk = try handle.read(upToCount: PostgresRelayStore.chunkSize) ?? Data()
                } catch {
                    throw StoreCopyError.unreadableBody(messageID: id, path: path, reason: "\(error)")
                }
                if chunk.isEmpty && seq > 0 { break }
                try await write(seq, ByteBuffer(bytes: chunk))
                seq += 1
                if chunk.count < PostgresRelayStore.chunkSize { break }
            }
            summary.spoolFileBodies += 1
        }
    }
}

/// Why `store copy` stopped (nothing was written: the copy is one transaction).
public enum StoreCopyError: Error, CustomStringConvertible, Equatable {
    case targetNotEmpty(accounts: Int, logins: Int, messages: Int)
    case unknownColumn(table: String, column: String)
    case unreadableBody(messageID: Int64, path: String, reason: String)

    public var description: String {
        switch self {
        case .targetNotEmpty(let accounts, let logins, let messages):
            "the PostgreSQL store is not empty (\(accounts) accounts, \(logins) logins, \(messages) messages): store copy only "
                + "fills an empty store, so that no relay's mail is mixed with or overwritten by the copy; "
                + "copy into a new database (createdb), or drop this one if it holds nothing you need"
        case .unknownColumn(let table, let column):
            "the PostgreSQL store has no column \(table).\(column) that the SQLite store has: "
                + "this gmail-relay's PostgreSQL schema is behind its SQLite schema; nothing was copied"
        case .unreadableBody(let id, let path, let reason):
            "cannot read the body of message \(id) (\(path)): \(reason); nothing was copied"
        }
    }
}
