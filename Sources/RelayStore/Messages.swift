#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import GRDB
import RelayVocabulary

extension RelayStore {
    /// Longest response body kept per attempt; Google's error bodies are far smaller, but a proxy's
    /// HTML error page should not bloat the database.
    public static let maximumResponseBodyBytes = 1 << 20

    // MARK: - Accepting

    /// Records one received message in one durable transaction and returns its id (the "log id").
    /// With WAL and synchronous=FULL the row is on disk when this returns: only then may SMTP say 250.
    public func acceptMessage(_ message: NewMessage) async throws -> Int64 {
        try await acceptMessages([message])[0].get()
    }

    /// Records several messages in one transaction (one fsync for all of them). Each gets its own
    /// result: a message for an unknown account fails alone. A database error fails the whole batch,
    /// and then nothing was committed. (The SMTP path goes through GroupCommitter, which batches
    /// concurrent accepts and syncs the spool directory first.)
    public func acceptMessages(_ messages: [NewMessage]) async throws -> [Result<Int64, StoreError>] {
        guard !messages.isEmpty else { return [] }
        let now = nowMillis
        return try await pool.write { db in
            try messages.map { message -> Result<Int64, StoreError> in
                do {
                    return .success(try RelayStore.applyAccept(db, message, now: now))
                } catch let error as StoreError {
                    return .failure(error)  // only .unknownAccount, found before anything was written
                }
            }
        }
    }

    /// One accepted message in the caller's transaction: its row and its "accepted" event. Fails with
    /// `.unknownAccount` before writing anything when the account is gone.
    static func applyAccept(_ db: Database, _ message: NewMessage, now: Int64) throws -> Int64 {
        guard let accountID = try Int64.fetchOne(db, cached: "SELECT id FROM accounts WHERE name = ?", arguments: [message.account]) else {
            throw StoreError.unknownAccount(message.account)
        }
        return try insertMessage(db, message, accountID: accountID, now: now)
    }

    private static func insertMessage(_ db: Database, _ m: NewMessage, accountID: Int64, now: Int64) throws -> Int64 {
        try db.execute(cached: """
                INSERT INTO messages (status, account, account_id, credential_username, peer, tls, mail_from,
                    recipients, subject, message_id, size, spool_path, sandbox, problem_code, next_attempt_at,
                    rewritten_headers, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                m.status.rawValue, m.account, accountID, m.credentialUsername, m.peer, m.tls, m.mailFrom,
                JSONList.encode(m.recipients), m.subject, m.messageID, m.size, m.spoolPath, m.sandbox,
                m.problemCode?.rawValue, m.status == .queued ? now : nil, m.rewrittenHeaders, now, now,
            ])
        let id = db.lastInsertedRowID
        if let body = m.inlineBody {
            try db.execute(cached: "INSERT INTO message_bodies (message_id, body) VALUES (?, ?)", arguments: [id, Data(body)])
        }
        var detail = "from <\(m.mailFrom)> for \(m.recipients.count) recipient(s), \(m.size) bytes, peer \(m.peer)"
        detail += m.tls ? " over TLS" : " without TLS"
        if let user = m.credentialUsername { detail += ", user \(user)" }
        if m.sandbox { detail += ", sandbox" }
        try insertEvent(db, at: now, kind: .accepted, detail: detail, messageID: id, accountID: accountID, account: m.account)
        if m.status == .held {
            try insertEvent(db, at: now, kind: .held, detail: m.problemCode?.rawValue ?? "account cannot send",
                            messageID: id, accountID: accountID, account: m.account)
        }
        return id
    }

    // MARK: - Send log

    /// The message as received, when it is stored in the database (small messages); nil when it is a
    /// spool file (`MessageRecord.spoolPath`) or gone.
    public func inlineBody(messageID id: Int64) async throws -> [UInt8]? {
        try await pool.read { db in
            try Data.fetchOne(db, cached: "SELECT body FROM message_bodies WHERE message_id = ?", arguments: [id]).map { Array($0) }
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
            var counts = QueueCounts(queued: 0, sending: 0, held: 0, failed: 0, sent24h: 0)
            let rows = try Row.fetchAll(db, cached: "SELECT status, COUNT(*) AS n FROM messages WHERE status IN ('queued', 'sending', 'held', 'failed') GROUP BY status")
            for row in rows {
                let n: Int = row["n"]
                switch MessageStatus(rawValue: row["status"]) {
                case .queued: counts.queued = n
                case .sending: counts.sending = n
                case .held: counts.held = n
                case .failed: counts.failed = n
                default: break
                }
            }
            counts.sent24h = try Int.fetchOne(db, cached: "SELECT COUNT(*) FROM messages WHERE status = 'sent' AND updated_at >= ?", arguments: [since]) ?? 0
            return counts
        }
    }

    // MARK: - Delivery

    /// Records one call to Gmail and counts it on the message.
    @discardableResult
    public func recordAttempt(_ attempt: NewAttempt) async throws -> Int64 {
        let now = nowMillis
        return try await pool.write { db in try insertAttempt(db, attempt, now: now) }
    }

    /// Gmail accepted the message (`gmailID` is nil only for sandbox accounts, which never call Google).
    public func markSent(id: Int64, gmailID: String?) async throws {
        let now = nowMillis
        try await pool.write { db in try applySent(db, id: id, gmailID: gmailID, now: now) }
    }

    /// Moves a message to `status` as the delivery path decides: `.queued` with `nextAttemptAt` for a retry
    /// (now when nil), `.held` or `.failed` with a problem code, `.sending` when a sender claims it.
    /// Every change but to `.sending` adds an event, with `detail` when given.
    public func markStatus(
        id: Int64, status: MessageStatus, problemCode: ProblemCode? = nil, nextAttemptAt: Date? = nil, detail: String? = nil
    ) async throws {
        let now = nowMillis
        try await pool.write { db in
            try applyStatus(db, id: id, status: status, problemCode: problemCode, nextAttemptAt: nextAttemptAt, detail: detail, now: now)
        }
    }

    public func setRewrittenHeaders(id: Int64, headers: String?) async throws {
        try await pool.write { db in
            try db.execute(cached: "UPDATE messages SET rewritten_headers = ? WHERE id = ?", arguments: [headers, id])
            if db.changesCount == 0 { throw StoreError.unknownMessage(id) }
        }
    }

    /// Claims up to `limit` queued messages that are due (oldest due first) by moving them to `.sending`,
    /// in one transaction, so two workers never take the same message.
    public func claimDue(limit: Int) async throws -> [MessageRecord] {
        try await claimDue(limit: limit, capacities: [:], defaultCapacity: limit)
    }

    /// Like `claimDue(limit:)`, but at most `capacities[account]` messages of each account (accounts not
    /// in the map get `defaultCapacity`), so the worker never claims more than an account may send now.
    public func claimDue(limit: Int, capacities: [String: Int], defaultCapacity: Int) async throws -> [MessageRecord] {
        let now = nowMillis
        let blocked = capacities.filter { $0.value <= 0 }.map(\.key)
        return try await pool.write { db in
            var sql = "SELECT * FROM messages WHERE status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            var values: [(any DatabaseValueConvertible)?] = [now]
            if !blocked.isEmpty {
                sql += " AND account NOT IN (" + blocked.map { _ in "?" }.joined(separator: ", ") + ")"
                values.append(contentsOf: blocked)
            }
            sql += " ORDER BY next_attempt_at, id LIMIT ?"
            values.append(max(limit * 4, 64))
            var taken: [String: Int] = [:]
            var claimed: [MessageRecord] = []
            for row in try Row.fetchAll(db, cached: sql, arguments: StatementArguments(values)) {
                guard claimed.count < limit else { break }
                var record = MessageRecord(row: row)
                let used = taken[record.account, default: 0]
                guard used < capacities[record.account, default: defaultCapacity] else { continue }
                taken[record.account] = used + 1
                try db.execute(cached: "UPDATE messages SET status = 'sending', updated_at = ? WHERE id = ?",
                               arguments: [now, record.id])
                record.status = .sending
                record.updatedAt = Millis.date(now)
                claimed.append(record)
            }
            return claimed
        }
    }

    /// The account cannot send: its other queued messages are held too (not those being sent right now),
    /// so a burst does not make one doomed call each. Returns how many.
    @discardableResult
    public func holdQueued(account: String, problemCode: ProblemCode) async throws -> Int {
        let now = nowMillis
        return try await pool.write { db in try applyHoldQueued(db, account: account, problemCode: problemCode, now: now) }
    }

    /// A line in a message's history that is not a state change (e.g. what the header rewrite changed).
    public func recordEvent(messageID id: Int64, kind: EventKind, detail: String) async throws {
        let now = nowMillis
        try await pool.write { db in
            let row = try messageState(db, id)
            try insertEvent(db, at: now, kind: kind, detail: detail, messageID: id, accountID: row.accountID, account: row.account)
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

    /// At server start: messages left `.sending` by a crash or kill go back to the queue. (Gmail has no
    /// idempotency key, so one of them may be sent twice; losing it would be worse.) Only the server may
    /// call this, never a CLI command while a server runs.
    @discardableResult
    public func requeueInterrupted() async throws -> Int {
        let now = nowMillis
        return try await pool.write { db in
            let rows = try Row.fetchAll(db, cached: "SELECT id, account_id, account FROM messages WHERE status = 'sending'")
            for row in rows {
                try db.execute(cached: "UPDATE messages SET status = 'queued', next_attempt_at = ?, updated_at = ? WHERE id = ?",
                    arguments: [now, now, row["id"] as Int64])
                try insertEvent(db, at: now, kind: .queued, detail: "interrupted by a restart",
                                messageID: row["id"], accountID: row["account_id"], account: row["account"])
            }
            return rows.count
        }
    }

    /// After reauth (or when an account is unblocked): its held messages go back to the queue, due now.
    @discardableResult
    public func releaseHeld(account: String) async throws -> Int {
        let now = nowMillis
        return try await pool.write { db in try applyReleaseHeld(db, account: account, now: now) }
    }

    /// `queue retry ID`: a held or failed (or waiting queued) message is due again now.
    public func retry(id: Int64) async throws {
        let now = nowMillis
        try await pool.write { db in
            let row = try messageState(db, id)
            switch row.status {
            case .held, .failed, .queued:
                guard row.hasBody else { throw StoreError.spoolFileMissing(id: id) }
                try requeue(db, id: id, accountID: row.accountID, account: row.account, now: now,
                            kind: .retry, detail: "retry requested (was \(row.status.rawValue))")
            case .sending, .sent, .discarded:
                throw StoreError.invalidTransition(id: id, from: row.status, to: .queued)
            }
        }
    }

    /// `queue retry --all`: every held or failed message that still has its body.
    @discardableResult
    public func retryAll() async throws -> Int {
        let now = nowMillis
        return try await pool.write { db in
            let rows = try Row.fetchAll(db, cached: """
                SELECT id, account_id, account, status FROM messages
                WHERE status IN ('held', 'failed')
                  AND (spool_path IS NOT NULL OR EXISTS (SELECT 1 FROM message_bodies b WHERE b.message_id = messages.id))
                """)
            for row in rows {
                let previous: String = row["status"]
                try requeue(db, id: row["id"], accountID: row["account_id"], account: row["account"], now: now,
                            kind: .retry, detail: "retry requested (was \(previous))")
            }
            return rows.count
        }
    }

    /// `queue discard ID`: drop a message that is waiting (queued, held) or failed. One being sent cannot be.
    public func discard(id: Int64, detail: String = "discarded by operator") async throws {
        let now = nowMillis
        try await pool.write { db in
            let row = try messageState(db, id)
            switch row.status {
            case .queued, .held, .failed:
                try db.execute(cached: "UPDATE messages SET status = 'discarded', next_attempt_at = NULL, updated_at = ? WHERE id = ?",
                    arguments: [now, id])
                try insertEvent(db, at: now, kind: .discarded, detail: detail,
                                messageID: id, accountID: row.accountID, account: row.account)
            case .sending, .sent, .discarded:
                throw StoreError.invalidTransition(id: id, from: row.status, to: .discarded)
            }
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


// MARK: - Steps of a transaction, shared by the single-purpose methods and `finishAttempt`

func insertAttempt(_ db: Database, _ attempt: NewAttempt, now: Int64) throws -> Int64 {
    var body = attempt.responseBody
    if let text = body, text.utf8.count > RelayStore.maximumResponseBodyBytes {
        let kept = String(decoding: text.utf8.prefix(RelayStore.maximumResponseBodyBytes), as: UTF8.self)
        body = kept + "\n[truncated: \(text.utf8.count) bytes in all]"
    }
    try db.execute(cached: "UPDATE messages SET attempts = attempts + 1, updated_at = ? WHERE id = ?",
                   arguments: [now, attempt.messageID])
    if db.changesCount == 0 { throw StoreError.unknownMessage(attempt.messageID) }
    try db.execute(cached: """
            INSERT INTO attempts (message_id, started_at, finished_at, endpoint, http_status, response_body,
                problem_code, problem_detail, next_delay_seconds)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
        arguments: [attempt.messageID, Millis.from(attempt.startedAt), Millis.from(attempt.finishedAt),
                    attempt.endpoint, attempt.httpStatus, body, attempt.problemCode?.rawValue,
                    attempt.problemDetail?.json, attempt.nextDelaySeconds])
    return db.lastInsertedRowID
}

func applySent(_ db: Database, id: Int64, gmailID: String?, now: Int64) throws {
    let row = try messageState(db, id)
    try db.execute(cached: """
            UPDATE messages SET status = 'sent', gmail_id = ?, problem_code = NULL, next_attempt_at = NULL,
                updated_at = ? WHERE id = ?
            """,
        arguments: [gmailID, now, id])
    try insertEvent(db, at: now, kind: .sent,
                    detail: gmailID.map { "Gmail id \($0)" } ?? "sandbox: not sent to Google",
                    messageID: id, accountID: row.accountID, account: row.account)
}

func applyStatus(
    _ db: Database, id: Int64, status: MessageStatus, problemCode: ProblemCode?, nextAttemptAt: Date?, detail: String?, now: Int64
) throws {
    let next: Int64? = status == .queued ? Millis.from(nextAttemptAt ?? Millis.date(now)) : nil
    let row = try messageState(db, id)
    try db.execute(cached: "UPDATE messages SET status = ?, problem_code = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?",
        arguments: [status.rawValue, problemCode?.rawValue, next, now, id])
    guard let kind = EventKind(entering: status) else { return }
    var text = detail ?? problemCode?.rawValue ?? "was \(row.status.rawValue)"
    if status == .queued, let next, next > now {
        text += ", next attempt at \(ISO8601.string(Millis.date(next)))"
    }
    try insertEvent(db, at: now, kind: kind, detail: text,
                    messageID: id, accountID: row.accountID, account: row.account)
}

func applyHoldQueued(_ db: Database, account: String, problemCode: ProblemCode, now: Int64) throws -> Int {
    let rows = try Row.fetchAll(db, cached: "SELECT id, account_id FROM messages WHERE status = 'queued' AND account = ?", arguments: [account])
    for row in rows {
        try db.execute(cached: "UPDATE messages SET status = 'held', problem_code = ?, next_attempt_at = NULL, updated_at = ? WHERE id = ?",
            arguments: [problemCode.rawValue, now, row["id"] as Int64])
        try insertEvent(db, at: now, kind: .held, detail: "\(problemCode.rawValue) (account \(account) cannot send)",
                        messageID: row["id"], accountID: row["account_id"], account: account)
    }
    return rows.count
}

func applyReleaseHeld(_ db: Database, account: String, now: Int64) throws -> Int {
    let rows = try Row.fetchAll(db, cached: "SELECT id, account_id FROM messages WHERE status = 'held' AND account = ?", arguments: [account])
    for row in rows {
        try requeue(db, id: row["id"], accountID: row["account_id"], account: account, now: now,
                    kind: .released, detail: "account \(account) can send again")
    }
    return rows.count
}

private struct MessageState {
    var status: MessageStatus
    var accountID: Int64?
    var account: String
    /// A spool file or an inline body: something to send.
    var hasBody: Bool
}

private func messageState(_ db: Database, _ id: Int64) throws -> MessageState {
    guard let row = try Row.fetchOne(db, cached: """
            SELECT status, account_id, account, spool_path,
                   EXISTS (SELECT 1 FROM message_bodies b WHERE b.message_id = messages.id) AS inline
            FROM messages WHERE id = ?
            """, arguments: [id])
    else { throw StoreError.unknownMessage(id) }
    return MessageState(
        status: MessageStatus(rawValue: row["status"]) ?? .failed,
        accountID: row["account_id"], account: row["account"],
        hasBody: (row["spool_path"] as String?) != nil || (row["inline"] as Bool? ?? false))
}

private func requeue(
    _ db: Database, id: Int64, accountID: Int64?, account: String, now: Int64, kind: EventKind, detail: String
) throws {
    try db.execute(cached: "UPDATE messages SET status = 'queued', problem_code = NULL, next_attempt_at = ?, updated_at = ? WHERE id = ?",
        arguments: [now, now, id])
    try insertEvent(db, at: now, kind: kind, detail: detail, messageID: id, accountID: accountID, account: account)
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
            rewrittenHeaders: row["rewritten_headers"])
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
