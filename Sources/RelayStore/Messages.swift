#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import StoreModel
import GRDB
import RelayVocabulary

extension RelayStore {
    /// Longest response body kept per attempt; Google's error bodies are far smaller, but a proxy's
    /// HTML error page should not bloat the database.
    public static var maximumResponseBodyBytes: Int { maximumStoredResponseBodyBytes }

    // MARK: - Send log

    /// The message as received, when it is stored in the database (small messages); nil when it is a
    /// spool file (`MessageRecord.spoolPath`) or gone.
    public func inlineBody(messageID id: Int64) async throws -> [UInt8]? {
        try await pool.read { db in
            try fetchInlineBody(db, messageID: id)
        }
    }

    /// One read for the whole claimed batch, where reading each message's account and body alone was
    /// two hand-offs to a reader per message.
    public func deliveryInputs(for messages: [MessageRecord]) async throws -> DeliveryInputs {
        let names = Set(messages.map(\.account))
        let ids = DeliveryInputs.bodiesToRead(messages)
        return try await pool.read { db in
            var inputs = DeliveryInputs()
            for name in names {
                inputs.accounts[name] = try fetchAccount(db, name: name)
            }
            for id in ids {
                inputs.inlineBodies[id] = try fetchInlineBody(db, messageID: id)
            }
            return inputs
        }
    }

    public func message(id: Int64) async throws -> MessageRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, cached: "SELECT * FROM messages WHERE id = ?", arguments: [id]).map(MessageRecord.init(row:))
        }
    }

    /// Newest first. `query` matches (case-insensitively, as a substring) the sender, recipients, subject,
    /// Message-ID and Gmail id, or the log id exactly.
    public func messages(
        status: MessageStatus? = nil, account: String? = nil, query: String? = nil, limit: Int = 50, offset: Int = 0
    ) async throws -> [MessageRecord] {
        var clauses: [String] = []
        var values: [(any DatabaseValueConvertible)?] = []
        if let status {
            clauses.append("status = ?")
            values.append(status.rawValue)
        }
        if let account {
            clauses.append("account = ?")
            values.append(account)
        }
        if let query = query?.trimmingCharacters(in: .whitespaces), !query.isEmpty {
            let pattern = likePattern(containing: query)
            let columns = ["mail_from", "recipients", "subject", "message_id", "gmail_id"]
            var alternatives = columns.map { "\($0) LIKE ? ESCAPE '\\'" }
            values.append(contentsOf: columns.map { _ in pattern })
            if let id = Int64(query) {
                alternatives.append("id = ?")
                values.append(id)
            }
            clauses.append("(" + alternatives.joined(separator: " OR ") + ")")
        }
        var sql = "SELECT * FROM messages"
        if !clauses.isEmpty { sql += " WHERE " + clauses.joined(separator: " AND ") }
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        values.append(max(0, min(limit, 10_000)))
        values.append(max(0, offset))
        let arguments = StatementArguments(values)
        return try await pool.read { [sql] db in
            try Row.fetchAll(db, cached: sql, arguments: arguments).map(MessageRecord.init(row:))
        }
    }

    /// Oldest first.
    public func attempts(messageID: Int64) async throws -> [AttemptRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, cached: "SELECT * FROM attempts WHERE message_id = ? ORDER BY id", arguments: [messageID])
                .map(AttemptRecord.init(row:))
        }
    }

    /// Oldest first.
    public func events(messageID: Int64) async throws -> [EventRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, cached: "SELECT * FROM events WHERE message_id = ? ORDER BY id", arguments: [messageID])
                .compactMap(EventRecord.init(row:))
        }
    }

    /// Whether the account ever stopped with `problem` (its account-state events name it in a field).
    /// The status page warns of a Testing-mode app this way.
    public func accountHadProblem(_ account: String, _ problem: ProblemCode) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, cached: """
                    SELECT EXISTS (SELECT 1 FROM events WHERE account = ? AND message_id IS NULL AND kind = ? AND problem_code = ?)
                    """, arguments: [account, EventKind.accountState.rawValue, problem.rawValue]) ?? false
        }
    }

    /// The account's own history (added, state changes, secret stored, ...), newest first.
    public func events(account: String, limit: Int = 50) async throws -> [EventRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, cached: "SELECT * FROM events WHERE account = ? AND message_id IS NULL ORDER BY id DESC LIMIT ?",
                arguments: [account, limit]
            ).compactMap(EventRecord.init(row:))
        }
    }

    /// When the oldest message of each waiting status (queued, sending, held) was accepted; a status with
    /// no message is absent. For the `relay_oldest_message_age_seconds` gauge (alert: held mail too old).
    public func oldestWaiting() async throws -> [MessageStatus: Date] {
        try await pool.read { db in
            var oldest: [MessageStatus: Date] = [:]
            let rows = try Row.fetchAll(db, cached: """
                SELECT status, MIN(created_at) AS oldest FROM messages
                WHERE status IN ('queued', 'sending', 'held') GROUP BY status
                """)
            for row in rows {
                if let status = MessageStatus(rawValue: row["status"]) { oldest[status] = Millis.date(row["oldest"] as Int64) }
            }
            return oldest
        }
    }

    public func queueCounts() async throws -> QueueCounts {
        let since = Millis.from(now.addingTimeInterval(-24 * 3600))
        return try await pool.read { db in
            var counts = QueueCounts.none
            let rows = try Row.fetchAll(db, cached: "SELECT status, COUNT(*) AS n FROM messages WHERE status IN ('queued', 'sending', 'held', 'failed') GROUP BY status")
            for row in rows { counts.add(MessageStatus(rawValue: row["status"]), row["n"]) }
            counts.sent24h = try Int.fetchOne(db, cached: "SELECT COUNT(*) FROM messages WHERE status = 'sent' AND updated_at >= ?", arguments: [since]) ?? 0
            return counts
        }
    }

    /// When the earliest queued message becomes due; nil when none is queued. The worker sleeps until then.
    public func nextDueDate() async throws -> Date? {
        try await pool.read { db in
            let row = try Row.fetchOne(db, cached: """
                    SELECT COUNT(*) AS n, MIN(COALESCE(next_attempt_at, 0)) AS due FROM messages WHERE status = 'queued'
                    """)
            guard let row, (row["n"] as Int) > 0 else { return nil }
            return Millis.date(row["due"] as Int64)
        }
    }


    // MARK: - Retention and recovery

    /// Deletes sent, failed and discarded messages (with their attempts, events and spool files) last
    /// changed before `date`, and account events older than it. Files are unlinked after the commit, so a
    /// crash in between leaves orphans for `removeOrphanSpoolFiles`, never rows without bodies.
    @discardableResult
    public func purge(before date: Date) async throws -> PurgeResult {
        let cutoff = Millis.from(date)
        let paths: [String?] = try await pool.write { db in
            let paths = try String?.fetchAll(
                db,
                sql: "SELECT spool_path FROM messages WHERE status IN ('sent', 'failed', 'discarded') AND updated_at < ?",
                arguments: [cutoff])
            try db.execute(cached: "DELETE FROM messages WHERE status IN ('sent', 'failed', 'discarded') AND updated_at < ?",
                arguments: [cutoff])
            try db.execute(cached: "DELETE FROM events WHERE message_id IS NULL AND at < ?", arguments: [cutoff])
            return paths
        }
        var removed = 0
        for case let path? in paths where unlink(path) == 0 {
            removed += 1
        }
        return PurgeResult(messagesRemoved: paths.count, spoolFilesRemoved: removed)
    }

    /// Removes files in `spool/messages/` that no message references: left by a crash between
    /// `SpoolFile.finish()` and the accept commit. Files younger than `minimumAge` are kept, because a
    /// running server may be about to commit them. The directory is listed before the database is read,
    /// so a file committed in between is seen as referenced.
    @discardableResult
    public func removeOrphanSpoolFiles(minimumAge: TimeInterval = 60) throws -> Int {
        let files = spool.messageFiles()
        guard !files.isEmpty else { return 0 }
        let referenced: Set<String> = try pool.read { db in
            Set(try String.fetchAll(db, cached: "SELECT spool_path FROM messages WHERE spool_path IS NOT NULL")
                .map { ($0 as NSString).lastPathComponent })
        }
        let cutoff = now.addingTimeInterval(-minimumAge)
        var removed = 0
        for file in files where !referenced.contains(file.name) && file.modified < cutoff {
            if unlink(spool.messagesDirectory + "/" + file.name) == 0 {
                removed += 1
                logger.debug("removed orphan spool file", metadata: ["spool.file": "\(file.name)"])
            }
        }
        return removed
    }
}

extension MessageRecord {
    init(row: Row) {
        self.init(
            id: row["id"],
            status: MessageStatus(rawValue: row["status"]) ?? .failed,
            account: row["account"],
            mailFrom: row["mail_from"],
            recipients: JSONList.decode(row["recipients"]),
            subject: row["subject"],
            messageID: row["message_id"],
            size: row["size"],
            gmailID: row["gmail_id"],
            problem: ProblemCode(stored: row["problem_code"]),
            attempts: row["attempts"],
            createdAt: Millis.date(row["created_at"] as Int64),
            updatedAt: Millis.date(row["updated_at"] as Int64),
            sandbox: row["sandbox"],
            peer: row["peer"],
            tls: row["tls"],
            accountID: row["account_id"],
            credentialUsername: row["credential_username"],
            spoolPath: row["spool_path"],
            nextAttemptAt: Millis.dateIfAny(row["next_attempt_at"] as Int64?),
            rewrittenHeaders: row["rewritten_headers"],
            sentThrough: row["sent_through"])
    }
}

extension AttemptRecord {
    init(row: Row) {
        self.init(
            id: row["id"],
            messageID: row["message_id"],
            startedAt: Millis.date(row["started_at"] as Int64),
            finishedAt: Millis.date(row["finished_at"] as Int64),
            endpoint: row["endpoint"],
            httpStatus: row["http_status"],
            responseBody: row["response_body"],
            problem: ProblemCode(stored: row["problem_code"]),
            nextDelaySeconds: row["next_delay_seconds"],
            detail: ProblemDetail(json: row["problem_detail"]))
    }
}

extension EventRecord {
    /// Nil for a kind this version does not know (written by a newer relay): history shows what it can.
    init?(row: Row) {
        guard let kind = EventKind(rawValue: row["kind"]) else { return nil }
        self.init(
            id: row["id"], messageID: row["message_id"], account: row["account"],
            at: Millis.date(row["at"] as Int64), kind: kind, detail: row["detail"],
            problem: ProblemCode(stored: row["problem_code"]))
    }
}

/// The body kept with the message's row (small messages), or nil: one statement for every reader of it.
func fetchInlineBody(_ db: Database, messageID id: Int64) throws -> [UInt8]? {
    try Data.fetchOne(db, cached: "SELECT body FROM message_bodies WHERE message_id = ?", arguments: [id]).map { Array($0) }
}
