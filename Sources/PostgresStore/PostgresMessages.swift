import Foundation
import PostgresNIO
import RelayVocabulary

// The send log's reads, counts and retention, as RelayStore's Messages.swift, AccountCounts.swift and
// HourlyStats.swift.

extension PostgresRelayStore: MessageStore {
    /// The body as received, from its chunks in order; nil when the message (or its body) is gone.
    /// Every message accepted by this store has one (spool files were streamed in at accept).
    public func inlineBody(messageID id: Int64) async throws -> [UInt8]? {
        try await read { [self] db in
            let rows = try await db.connection.query(
                "SELECT data FROM message_chunks WHERE message_id = \(id) ORDER BY seq", logger: db.logger)
            var body: [UInt8]?
            for try await (chunk) in rows.decode(ByteBuffer.self) {
                if body == nil { body = [] }
                body!.append(contentsOf: chunk.readableBytesView)
            }
            return body
        }
    }

    /// The body one chunk per element, each read (a bounded read of its own) only when the consumer asks
    /// for it: a 35 MB message is never whole in memory, and a slow consumer slows the reads. A missing
    /// chunk or a size that disagrees with the message row ends the sequence with `corruptBody` rather
    /// than handing Gmail a truncated message.
    public func bodyPieces(messageID id: Int64) -> AsyncThrowingStream<[UInt8], any Error> {
        let reader = ChunkReader(store: self, messageID: id)
        return AsyncThrowingStream { try await reader.next() }
    }

    public func message(id: Int64) async throws -> MessageRecord? {
        try await read { [self] db in
            try await db.row("SELECT \(unescaped: MessageRecord.pgColumns) FROM messages WHERE id = \(id)").map(MessageRecord.init(pg:))
        }
    }

    /// Newest first. `query` matches (case-insensitively, as a substring) the sender, recipients, subject,
    /// Message-ID and Gmail id, or the log id exactly.
    public func messages(
        status: MessageStatus? = nil, account: String? = nil, query: String? = nil, limit: Int = 50, offset: Int = 0
    ) async throws -> [MessageRecord] {
        var clauses: [String] = []
        var binds = PostgresBindings()
        func bind(_ value: some PostgresNonThrowingEncodable & Sendable) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let status { clauses.append("status = " + bind(status.rawValue)) }
        if let account { clauses.append("account = " + bind(account)) }
        if let query = query?.trimmingCharacters(in: .whitespaces), !query.isEmpty {
            let pattern = bind(likePattern(containing: query))
            var alternatives = ["mail_from", "recipients", "subject", "message_id", "gmail_id"].map { "\($0) ILIKE \(pattern) ESCAPE '\\'" }
            if let id = Int64(query) { alternatives.append("id = " + bind(id)) }
            clauses.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        var sql = "SELECT \(MessageRecord.pgColumns) FROM messages"
        if !clauses.isEmpty { sql += " WHERE " + clauses.joined(separator: " AND ") }
        sql += " ORDER BY id DESC LIMIT \(bind(max(0, min(limit, 10_000)))) OFFSET \(bind(max(0, offset)))"
        let statement = PostgresQuery(unsafeSQL: sql, binds: binds)
        return try await read { [self] db in try await db.rows(statement).map(MessageRecord.init(pg:)) }
    }

    public func attempts(messageID: Int64) async throws -> [AttemptRecord] {
        try await read { [self] db in
            try await db.rows("SELECT * FROM attempts WHERE message_id = \(messageID) ORDER BY id").map(AttemptRecord.init(pg:))
        }
    }

    public func events(messageID: Int64) async throws -> [EventRecord] {
        try await read { [self] db in
            try await db.rows("SELECT * FROM events WHERE message_id = \(messageID) ORDER BY id").compactMap(EventRecord.init(pg:))
        }
    }

    public func events(account: String, limit: Int = 50) async throws -> [EventRecord] {
        try await read { [self] db in
            try await db.rows("""
                SELECT * FROM events WHERE account = \(account) AND message_id IS NULL ORDER BY id DESC LIMIT \(max(0, limit))
                """).compactMap(EventRecord.init(pg:))
        }
    }

    public func accountHadProblem(_ account: String, _ problem: ProblemCode) async throws -> Bool {
        try await read { [self] db in
            try await db.value("""
                SELECT EXISTS (SELECT 1 FROM events WHERE account = \(account) AND message_id IS NULL
                    AND kind = \(EventKind.accountState.rawValue) AND problem_code = \(problem.rawValue))
                """) ?? false
        }
    }

    public func oldestWaiting() async throws -> [MessageStatus: Date] {
        try await read { [self] db in
            var oldest: [MessageStatus: Date] = [:]
            for row in try await db.rows("""
                SELECT status, min(created_at) AS oldest FROM messages WHERE status IN ('queued', 'sending', 'held') GROUP BY status
                """) {
                if let status = MessageStatus(rawValue: try row.get("status")) { oldest[status] = try row.date("oldest") }
            }
            return oldest
        }
    }

    public func queueCounts() async throws -> QueueCounts {
        let since = Millis.from(clock().addingTimeInterval(-24 * 3600))
        return try await read { [self] db in
            var counts = QueueCounts.none
            for row in try await db.rows("""
                SELECT status, count(*) AS n FROM messages WHERE status IN ('queued', 'sending', 'held', 'failed') GROUP BY status
                """) {
                counts.add(MessageStatus(rawValue: try row.get("status")), try row.get("n"))
            }
            counts.sent24h = try await db.value("SELECT count(*) FROM messages WHERE status = 'sent' AND updated_at >= \(since)") ?? 0
            return counts
        }
    }

    public func messageCountsByAccount() async throws -> [String: AccountMessageCounts] {
        try await read { [self] db in
            var counts: [String: AccountMessageCounts] = [:]
            for row in try await db.rows("""
                SELECT account, status, count(*) AS n FROM messages
                WHERE status IN ('queued', 'sending', 'held', 'failed') GROUP BY account, status
                """) {
                counts[try row.get("account", as: String.self), default: .init()].add(MessageStatus(rawValue: try row.get("status")), try row.get("n"))
            }
            return counts
        }
    }

    /// When the earliest queued message is due; with other relays' `sending` messages, also when the
    /// first of their leases runs out (then this relay may take it over). Nil when neither exists.
    public func nextDueDate() async throws -> Date? {
        try await read { [self] db in
            let due: Int64? = try await db.value("""
                SELECT least(
                    (SELECT min(coalesce(next_attempt_at, 0)) FROM messages WHERE status = 'queued'),
                    (SELECT min(lease_until) FROM messages WHERE status = 'sending' AND lease_owner <> \(relayName)))
                """)
            return due.map(Millis.date)
        }
    }

    /// As RelayStore's: the last `hours` UTC hours (1...720), oldest first, every hour present (the
    /// series makes the empty ones), each count a range of the index `events_kind_at`.
    public func hourlyCounts(hours: Int) async throws -> [HourlyCounts] {
        let hours = min(max(hours, 1), 720)
        let hourMillis: Int64 = 3_600_000
        let currentHour = nowMillis / hourMillis
        let firstHour = currentHour - Int64(hours - 1)
        return try await read { [self] db in
            try await db.rows("""
                SELECT hour,
                    (SELECT count(*) FROM events WHERE kind = 'sent' AND at >= hour * 3600000 AND at < (hour + 1) * 3600000) AS sent,
                    (SELECT count(*) FROM events WHERE kind = 'failed' AND at >= hour * 3600000 AND at < (hour + 1) * 3600000) AS failed,
                    (SELECT count(*) FROM events WHERE kind = 'held' AND at >= hour * 3600000 AND at < (hour + 1) * 3600000) AS held,
                    (SELECT count(*) FROM events WHERE kind = 'accepted' AND at >= hour * 3600000 AND at < (hour + 1) * 3600000) AS queued
                FROM generate_series(\(firstHour), \(currentHour)) AS hour ORDER BY hour
                """).map { row in
                HourlyCounts(hour: Millis.date(try row.get("hour", as: Int64.self) * hourMillis),
                             sent: try row.get("sent"), failed: try row.get("failed"), held: try row.get("held"), queued: try row.get("queued"))
            }
        }
    }

    /// Deletes sent, failed and discarded messages last changed before `date` (their chunks, attempts and
    /// events go with them), and older account events. No files: `spoolFilesRemoved` is 0.
    @discardableResult
    public func purge(before date: Date) async throws -> PurgeResult {
        let cutoff = Millis.from(date)
        return try await write { [self] db in
            let removed = try await db.run("""
                DELETE FROM messages WHERE status IN ('sent', 'failed', 'discarded') AND updated_at < \(cutoff) RETURNING id
                """)
            try await db.run("DELETE FROM events WHERE message_id IS NULL AND at < \(cutoff)")
            return PurgeResult(messagesRemoved: removed, spoolFilesRemoved: 0)
        }
    }

    /// Nothing to do: bodies live in the database, committed with their rows, so none can be orphaned.
    @discardableResult
    public func removeOrphanSpoolFiles(minimumAge: TimeInterval = 60) async throws -> Int {
        0
    }
}

/// Where a body read has got to: which chunk comes next and how many bytes came so far.
private actor ChunkReader {
    let store: PostgresRelayStore
    let messageID: Int64
    private var expected: (size: Int64, chunks: Int64)?
    private var seq: Int64 = 0
    private var total: Int64 = 0

    init(store: PostgresRelayStore, messageID: Int64) {
        self.store = store
        self.messageID = messageID
    }

    func next() async throws -> [UInt8]? {
        let id = messageID
        if expected == nil {
            expected = try await store.read { [self] db in
                guard let row = try await db.row("""
                    SELECT m.size, count(c.seq) FROM messages m LEFT JOIN message_chunks c ON c.message_id = m.id
                    WHERE m.id = \(id) GROUP BY m.size
                    """) else { return nil }
                return (try row[0].decode(Int64.self), try row[1].decode(Int64.self))
            }
            guard expected != nil else { throw PostgresStoreError.corruptBody(messageID: id, reason: "no such message") }
        }
        guard let expected, seq < expected.chunks else {
            guard total == expected?.size else {
                throw PostgresStoreError.corruptBody(
                    messageID: id, reason: "the chunks hold \(total) bytes, the message row says \(expected?.size ?? 0)")
            }
            return nil
        }
        let seq = self.seq
        let chunk = try await store.read { [self] db in
            try await db.value("SELECT data FROM message_chunks WHERE message_id = \(id) AND seq = \(Int32(clamping: seq))", as: ByteBuffer.self)
        }
        guard let chunk else { throw PostgresStoreError.corruptBody(messageID: id, reason: "chunk \(seq) is missing") }
        self.seq += 1
        total += Int64(chunk.readableBytes)
        return Array(chunk.readableBytesView)
    }
}
