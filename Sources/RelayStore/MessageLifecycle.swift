import Foundation
import StoreModel
import GRDB
import RelayVocabulary

// The lifecycle's table, its moves and their events are in StoreModel/MessageLifecycle.swift (shared with
// the PostgreSQL store); here are the SQLite writes.

extension MessageLifecycle {
    /// THE transition: checks the move, updates the row and writes the move's event, all in the caller's
    /// transaction. Every status change of a stored message goes through here.
    static func apply(_ db: Database, _ message: MessageState, _ move: MessageMove, now: Int64) throws {
        try check(message, move)
        let columns = move.columns(now: now)
        let (problem, next, gmailID) = (columns.problem, columns.next, columns.gmailID)
        try db.execute(cached: """
                UPDATE messages SET status = ?,
                    problem_code = CASE WHEN ? THEN ? ELSE problem_code END,
                    next_attempt_at = CASE WHEN ? THEN ? ELSE next_attempt_at END,
                    gmail_id = CASE WHEN ? THEN ? ELSE gmail_id END,
                    updated_at = ?
                WHERE id = ?
                """,
            arguments: [move.to.rawValue, problem.isSet, problem.value??.rawValue, next.isSet, next.value ?? nil,
                        gmailID.isSet, gmailID.value ?? nil, now, message.id])
        if db.changesCount == 0 { throw StoreError.unknownMessage(message.id) }
        if let event = event(for: move, of: message, next: next.value ?? nil, now: now) {
            try record(db, message, kind: event.kind, detail: event.detail, now: now)
        }
    }

    /// Looks the message up, then `apply`.
    static func apply(_ db: Database, id: Int64, _ move: MessageMove, now: Int64) throws {
        try apply(db, state(db, id), move, now: now)
    }

    /// A new message: its row (in one of `initialStatuses`), its inline body, and its "accepted" event
    /// (and "held" when it is born held).
    /// Returns the row as written, so a caller that sends it at once (sync mode) need not read it back.
    static func accept(_ db: Database, _ m: NewMessage, accountID: Int64, now: Int64) throws -> MessageRecord {
        guard initialStatuses.contains(m.status) else { throw StoreError.invalidInitialStatus(m.status) }
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
        let message = MessageState(id: id, status: m.status, accountID: accountID, account: m.account)
        try record(db, message, kind: .accepted, detail: EventWords.accepted(m), now: now)
        if m.status == .held {
            try record(db, message, kind: .held, detail: EventWords.heldAtAccept(m), now: now)
        }
        let at = Millis.date(now)
        return MessageRecord(
            id: id, status: m.status, account: m.account, mailFrom: m.mailFrom, recipients: m.recipients,
            subject: m.subject, messageID: m.messageID, size: m.size, gmailID: nil, problem: m.problemCode,
            attempts: 0, createdAt: at, updatedAt: at, sandbox: m.sandbox, peer: m.peer, tls: m.tls,
            accountID: accountID, credentialUsername: m.credentialUsername, spoolPath: m.spoolPath,
            nextAttemptAt: m.status == .queued ? at : nil, rewrittenHeaders: m.rewrittenHeaders)
    }

    /// A line in the message's history that is not a status change (what the header rewrite changed).
    static func note(_ db: Database, id: Int64, kind: EventKind, detail: String, now: Int64) throws {
        try record(db, state(db, id), kind: kind, detail: detail, now: now)
    }

    /// The one place a message's event row is written.
    private static func record(_ db: Database, _ message: MessageState, kind: EventKind, detail: String, now: Int64) throws {
        try insertEvent(db, at: now, kind: kind, detail: detail, messageID: message.id,
                        accountID: message.accountID, account: message.account)
    }

    static func state(_ db: Database, _ id: Int64) throws -> MessageState {
        guard let row = try Row.fetchOne(db, cached: """
                SELECT id, status, account_id, account, spool_path,
                       EXISTS (SELECT 1 FROM message_bodies b WHERE b.message_id = messages.id) AS inline
                FROM messages WHERE id = ?
                """, arguments: [id])
        else { throw StoreError.unknownMessage(id) }
        return MessageState(row: row)
    }

    /// The messages of `account` in `status`, for the moves that take them all.
    static func states(_ db: Database, status: MessageStatus, account: String) throws -> [MessageState] {
        try Row.fetchAll(db, cached: """
                SELECT id, status, account_id, account FROM messages WHERE status = ? AND account = ?
                """, arguments: [status.rawValue, account]).map(MessageState.init(row:))
    }
}

extension MessageState {
    /// From a row with id, status, account_id, account and, when selected, spool_path and inline.
    init(row: Row) {
        self.init(
            id: row["id"], status: MessageStatus(rawValue: row["status"]) ?? .failed,
            accountID: row["account_id"], account: row["account"],
            hasBody: row.hasColumn("spool_path")
                ? (row["spool_path"] as String?) != nil || (row["inline"] as Bool? ?? false) : true)
    }
}

// MARK: - The store's moves

extension RelayStore {
    /// Records one received message in one durable transaction and returns its id (the "log id").
    /// With WAL and synchronous=FULL the row is on disk when this returns: only then may SMTP say 250.
    /// (The SMTP path goes through GroupCommitter, which batches concurrent accepts.)
    static func applyAccept(_ db: Database, _ message: NewMessage, now: Int64) throws -> MessageRecord {
        guard let accountID = try Int64.fetchOne(db, cached: "SELECT id FROM accounts WHERE name = ?", arguments: [message.account]) else {
            throw StoreError.unknownAccount(message.account)
        }
        return try MessageLifecycle.accept(db, message, accountID: accountID, now: now)
    }

    /// Moves a message that is being sent to `status` as the delivery path decides: `.queued` with
    /// `nextAttemptAt` for a retry (now when nil), `.held` or `.failed` with a problem code. Adds an
    /// event, with `detail` when given. Anything else is `.invalidTransition`.
    public func markStatus(
        id: Int64, status: MessageStatus, problemCode: ProblemCode? = nil, nextAttemptAt: Date? = nil, detail: String? = nil
    ) async throws {
        let now = nowMillis
        let move = MessageMove.attemptEnded(status, problemCode: problemCode, nextAttemptAt: nextAttemptAt.map(Millis.from), detail: detail)
        try await pool.write { db in try MessageLifecycle.apply(db, id: id, move, now: now) }
    }

    /// Claims up to `limit` queued messages that are due (oldest due first) by moving them to `.sending`,
    /// in one transaction, so two workers never take the same message: at most `capacities[account]`
    /// of each account, none of an account not in the map. The capacities are slots the caller has
    /// already reserved (`DeliveryLanes.reserve(upTo:)`), so every claimed message has one.
    ///
    /// The claim's commit is not synced to disk by itself (`writeUnsynced`): a claim lost to a power cut
    /// leaves its messages `queued`, which is what the start after a crash makes of `sending` anyway
    /// (`requeueInterrupted`), and the next synced commit (an accept, the attempt's result) makes it
    /// durable with itself. That is one fdatasync less per message: at one SMTP connection each message
    /// otherwise cost three (accept, claim, result), Postfix one.
    public func claimDue(limit: Int, capacities: [String: Int]) async throws -> [MessageRecord] {
        let now = nowMillis
        let open = capacities.filter { $0.value > 0 }
        guard limit > 0, !open.isEmpty else { return [] }
        return try await writeUnsynced { db in
            var sql = "SELECT * FROM messages WHERE status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            var values: [(any DatabaseValueConvertible)?] = [now]
            sql += " AND account IN (" + open.map { _ in "?" }.joined(separator: ", ") + ")"
            values.append(contentsOf: open.keys.sorted())
            sql += " ORDER BY next_attempt_at, id LIMIT ?"
            values.append(max(limit * 4, 64))
            let records = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(values)).map(MessageRecord.init(row:))
            let picked = Set(pickClaims(records.map { ClaimCandidate(id: $0.id, account: $0.account) }, limit: limit, capacities: open).map(\.id))
            var claimed: [MessageRecord] = []
            for var record in records where picked.contains(record.id) {
                try MessageLifecycle.apply(db, MessageState(record), .claimed, now: now)
                record.status = .sending
                record.updatedAt = Millis.date(now)
                claimed.append(record)
            }
            return claimed
        }
    }

    /// How many due queued messages each account has (at most `limit` counted per account): what the
    /// worker asks its lanes to reserve before it claims.
    public func dueCounts(limit: Int) async throws -> [String: Int] {
        let now = nowMillis
        return try await pool.read { db in
            var counts: [String: Int] = [:]
            let rows = try Row.fetchAll(db, cached: """
                    SELECT account, MIN(COUNT(*), ?) AS n FROM messages
                    WHERE status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
                    GROUP BY account
                    """, arguments: [max(0, limit), now])
            for row in rows { counts[row["account"]] = row["n"] }
            return counts
        }
    }

    /// At server start: messages left `.sending` by a crash or kill go back to the queue. (Gmail has no
    /// idempotency key, so one of them may be sent twice; losing it would be worse.) Only the server may
    /// call this, never a CLI command while a server runs.
    @discardableResult
    public func requeueInterrupted() async throws -> Int {
        let now = nowMillis
        return try await pool.write { db in
            let rows = try Row.fetchAll(db, cached: "SELECT id, status, account_id, account FROM messages WHERE status = 'sending'")
            for row in rows {
                try MessageLifecycle.apply(db, MessageState(row: row), .interrupted, now: now)
            }
            return rows.count
        }
    }

    /// `queue retry ID`: a held or failed (or waiting queued) message is due again now.
    public func retry(id: Int64) async throws {
        let now = nowMillis
        try await pool.write { db in
            let message = try MessageLifecycle.state(db, id)
            try MessageLifecycle.check(message, .retried)
            guard message.hasBody else { throw StoreError.spoolFileMissing(id: id) }
            try MessageLifecycle.apply(db, message, .retried, now: now)
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
                try MessageLifecycle.apply(db, MessageState(row: row), .retried, now: now)
            }
            return rows.count
        }
    }

    /// `queue discard ID`: drop a message that is waiting (queued, held) or failed. One being sent cannot be.
    public func discard(id: Int64, detail: String = "discarded by operator") async throws {
        let now = nowMillis
        try await pool.write { db in try MessageLifecycle.apply(db, id: id, .discarded(detail: detail), now: now) }
    }
}

extension MessageState {
    init(_ record: MessageRecord) {
        self.init(id: record.id, status: record.status, accountID: record.accountID, account: record.account)
    }
}

// MARK: - Moves shared by several transactions (finishAttempt, reauth, account update, grant check)

func applyHoldQueued(_ db: Database, account: String, problemCode: ProblemCode, now: Int64) throws -> Int {
    // An account whose fallback can send keeps its mail queued: it goes out through the fallback.
    if try fetchUsableFallback(db, account: account) != nil { return 0 }
    let messages = try MessageLifecycle.states(db, status: .queued, account: account)
    for message in messages {
        try MessageLifecycle.apply(db, message, .heldWithAccount(problemCode: problemCode), now: now)
    }
    return messages.count
}

func applyReleaseHeld(_ db: Database, account: String, now: Int64) throws -> Int {
    let messages = try MessageLifecycle.states(db, status: .held, account: account)
    for message in messages {
        try MessageLifecycle.apply(db, message, .released(through: nil), now: now)
    }
    return messages.count + (try applyReleaseHeldOfDependents(db, fallback: account, now: now))
}
