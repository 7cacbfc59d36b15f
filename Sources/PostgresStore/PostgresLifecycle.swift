import Foundation
import PostgresNIO
import RelayVocabulary

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The message lifecycle's writes on PostgreSQL. The table, `check` and the words of each move's event are
// StoreModel's (MessageLifecycle.swift), as for RelayStore; what is PostgreSQL's own: the body goes into
// `message_chunks`, a `sending` message carries this relay's lease, and a move out of `sending` ends it.

extension PostgresRelayStore {
    /// THE transition: checks the move, updates the row and writes the move's event, in the caller's
    /// transaction. A move to `sending` takes a lease for this relay; any other clears the lease.
    func apply(_ db: Session, _ message: MessageState, _ move: MessageMove, now: Int64) async throws {
        try MessageLifecycle.check(message, move)
        let columns = move.columns(now: now)
        let leaseOwner: String? = move.to == .sending ? relayName : nil
        let leaseUntil: Int64? = move.to == .sending ? now + leaseMillis : nil
        let changed = try await db.run("""
            UPDATE messages SET status = \(move.to.rawValue),
                problem_code = CASE WHEN \(columns.problem.isSet) THEN \(columns.problem.value??.rawValue) ELSE problem_code END,
                next_attempt_at = CASE WHEN \(columns.next.isSet) THEN \(columns.next.value ?? nil) ELSE next_attempt_at END,
                gmail_id = CASE WHEN \(columns.gmailID.isSet) THEN \(columns.gmailID.value ?? nil) ELSE gmail_id END,
                lease_owner = \(leaseOwner), lease_until = \(leaseUntil), updated_at = \(now)
            WHERE id = \(message.id) RETURNING id
            """)
        if changed == 0 { throw StoreError.unknownMessage(message.id) }
        if let event = MessageLifecycle.event(for: move, of: message, next: columns.next.value ?? nil, now: now) {
            try await record(db, message, kind: event.kind, detail: event.detail, now: now)
        }
    }

    /// Looks the message up (locking its row), then `apply`.
    func apply(_ db: Session, id: Int64, _ move: MessageMove, now: Int64) async throws {
        try await apply(db, state(db, id), move, now: now)
    }

    /// The one place a message's event row is written.
    func record(_ db: Session, _ message: MessageState, kind: EventKind, detail: String, now: Int64) async throws {
        try await db.insertEvent(at: now, kind: kind, detail: detail, messageID: message.id, accountID: message.accountID,
                                 account: message.account)
    }

    /// The message as a move sees it, its row locked until the transaction ends.
    func state(_ db: Session, _ id: Int64) async throws -> MessageState {
        guard let row = try await db.row("""
            SELECT id, status, account_id, account, EXISTS (SELECT 1 FROM message_chunks c WHERE c.message_id = messages.id) AS has_body
            FROM messages WHERE id = \(id) FOR NO KEY UPDATE
            """)
        else { throw StoreError.unknownMessage(id) }
        return try MessageState(pg: row)
    }

    /// The messages of `account` in `status`, locked, for the moves that take them all.
    func states(_ db: Session, status: MessageStatus, account: String) async throws -> [MessageState] {
        try await db.rows("""
            SELECT id, status, account_id, account FROM messages WHERE status = \(status.rawValue) AND account = \(account)
            ORDER BY id FOR NO KEY UPDATE
            """).map(MessageState.init(pg:))
    }
}

// MARK: - Accepting

extension PostgresRelayStore: MessageIntake {
    /// Bodies are stored in rows of this many bytes: a 35 MB message is ~140 rows, and neither a write
    /// nor a read holds more than about two chunks in memory.
    public static let chunkSize = 256 * 1024

    /// Stores the message, its body (`inlineBody`, or the spool file streamed in chunks) and its events in
    /// one transaction, and returns only after the commit: then SMTP may say 250. The spool file is
    /// deleted after the commit; the stored row has no spool path (its body is in `message_chunks`).
    /// Concurrent accepts run on pool connections side by side: PostgreSQL's commit is the durable point.
    public func accept(_ m: NewMessage) async throws -> MessageRecord {
        let now = nowMillis
        let stored = try await write { [self] db in
            guard let accountID: Int64 = try await db.value("SELECT id FROM accounts WHERE name = \(m.account)") else {
                throw StoreError.unknownAccount(m.account)
            }
            return try await insertAccepted(db, m, accountID: accountID, now: now)
        }
        removeCommittedSpoolFile(m)
        return stored
    }

    /// As `accept(_:)`, with the sender's account read in the same transaction, before the insert, and
    /// the status decided from it there (the SMTP commit). The account's row is read `FOR KEY SHARE`
    /// (the lock the message's foreign key takes anyway): a transaction that holds or releases the
    /// account's mail, or removes it, locks the row `FOR UPDATE` first (`lockAgainstAccepts`), so it waits
    /// for this commit and then sees the message, or this read waits for it and sees its result: a message
    /// is never left queued for an account that was held, nor held for one that was released. Concurrent
    /// accepts do not wait for each other, nor for a send's bookkeeping (`FOR NO KEY UPDATE`, which does
    /// not conflict; with `FOR SHARE` every successful send waited for the accepts in flight and the
    /// other way round: the bench's fleet section went from 250 to 307 msg/s on one relay).
    /// A store failure throws the store's own error (`PostgresStoreError`), as `accept(_:)` does.
    public func accept(
        _ m: NewMessage, readingAccountOf sender: MessageSender, decide: @escaping IntakeDecision
    ) async throws -> (record: MessageRecord, account: SenderAccount) {
        let now = nowMillis
        // The refusal is returned, not thrown, from the transaction: `write` reports any error thrown in it
        // as a store failure. Nothing was written by then; the read-only transaction just commits.
        let outcome: Result<(record: MessageRecord, account: SenderAccount), SenderError> = try await write { [self] db in
            let found: SenderAccount?
            switch sender {
            case .account(let name):
                found = try await db.row("""
                    SELECT \(unescaped: SenderAccount.columns) FROM accounts WHERE name = \(name) FOR KEY SHARE
                    """).map(SenderAccount.init(pg:))
            case .login(let username, let accountID):
                found = try await db.row("""
                    SELECT \(unescaped: SenderAccount.columns) FROM accounts
                    WHERE id = \(accountID) AND EXISTS (SELECT 1 FROM credentials WHERE username = \(username) AND account_id = accounts.id)
                    FOR KEY SHARE
                    """).map(SenderAccount.init(pg:))
            }
            guard let account = found else {
                switch sender {
                case .account(let name): return .failure(.accountMissing(name: name))
                case .login(let username, _): return .failure(.loginGone(username: username))
                }
            }
            let fallbackCanSend = account.state.isCoveredByFallback && account.fallback != nil
                ? try await fetchUsableFallback(db, account: account.name) != nil : false
            var message = m
            message.account = account.name
            message.sandbox = account.kind == .sandbox
            (message.status, message.problemCode) = decide(account, fallbackCanSend)
            return .success((try await insertAccepted(db, message, accountID: account.id, now: now), account))
        }
        let accepted = try outcome.get()
        removeCommittedSpoolFile(m)
        return accepted
    }

    /// The message's row, body and events in the caller's transaction; the row as stored.
    private func insertAccepted(_ db: Session, _ m: NewMessage, accountID: Int64, now: Int64) async throws -> MessageRecord {
        guard MessageLifecycle.initialStatuses.contains(m.status) else { throw StoreError.invalidInitialStatus(m.status) }
        // A message sent at once (sync mode) is this relay's from the start: no other relay takes it.
        let leaseOwner: String? = m.status == .sending ? relayName : nil
        let leaseUntil: Int64? = m.status == .sending ? now + leaseMillis : nil
        let next: Int64? = m.status == .queued ? now : nil
        guard let id: Int64 = try await db.value("""
            INSERT INTO messages (status, account, account_id, credential_username, peer, tls, mail_from, recipients, subject,
                message_id, size, sandbox, problem_code, next_attempt_at, rewritten_headers, accepted_by, lease_owner,
                lease_until, created_at, updated_at)
            VALUES (\(m.status.rawValue), \(m.account), \(accountID), \(m.credentialUsername), \(m.peer), \(m.tls ? 1 : 0),
                \(m.mailFrom), \(JSONList.encode(m.recipients)), \(m.subject), \(m.messageID), \(m.size), \(m.sandbox ? 1 : 0),
                \(m.problemCode?.rawValue), \(next), \(m.rewrittenHeaders), \(relayName), \(leaseOwner), \(leaseUntil),
                \(now), \(now))
            RETURNING id
            """)
        else { throw PostgresStoreError.query("INSERT INTO messages returned no id") }
        try await storeBody(db, messageID: id, m)
        let message = MessageState(id: id, status: m.status, accountID: accountID, account: m.account)
        try await record(db, message, kind: .accepted, detail: EventWords.accepted(m), now: now)
        if m.status == .held {
            try await record(db, message, kind: .held, detail: EventWords.heldAtAccept(m), now: now)
        }
        let at = Millis.date(now)
        return MessageRecord(
            id: id, status: m.status, account: m.account, mailFrom: m.mailFrom, recipients: m.recipients,
            subject: m.subject, messageID: m.messageID, size: m.size, gmailID: nil, problem: m.problemCode,
            attempts: 0, createdAt: at, updatedAt: at, sandbox: m.sandbox, peer: m.peer, tls: m.tls,
            accountID: accountID, credentialUsername: m.credentialUsername, spoolPath: nil,
            nextAttemptAt: next.map(Millis.date), rewrittenHeaders: m.rewrittenHeaders)
    }

    /// Committed: the local copy is no longer needed (a failure here only leaves a file behind).
    private func removeCommittedSpoolFile(_ m: NewMessage) {
        if let path = m.spoolPath, unlink(path) != 0 {
            logger.warning("could not remove a spool file after its message was stored",
                           metadata: ["spool.file": "\(path)", "errno": "\(errno)"])
        }
    }

    /// The body into `message_chunks`, a chunk per statement: an inline body, or the spool file read a
    /// chunk at a time (a 35 MB message is never whole in memory). An empty body is one empty chunk, so
    /// every accepted message has a stored body.
    private func storeBody(_ db: Session, messageID id: Int64, _ m: NewMessage) async throws {
        var seq: Int32 = 0
        func insert(_ bytes: ByteBuffer) async throws {
            try await db.run("INSERT INTO message_chunks (message_id, seq, data) VALUES (\(id), \(seq), \(bytes))")
            seq += 1
        }
        if let path = m.spoolPath {
            guard let file = FileHandle(forReadingAtPath: path) else { throw StoreError.fileError(path: path, errno: errno) }
            defer { try? file.close() }
            while true {
                let data: Data
                do {
                    data = try file.read(upToCount: Self.chunkSize) ?? Data()
                } catch {
                    throw StoreError.fileError(path: path, errno: EIO)
                }
                if data.isEmpty { break }
                try await insert(ByteBuffer(bytes: data))
            }
            if seq == 0 { try await insert(ByteBuffer()) }
        } else {
            let body = m.inlineBody ?? []
            var offset = 0
            repeat {
                let end = min(offset + Self.chunkSize, body.count)
                try await insert(ByteBuffer(bytes: body[offset..<end]))
                offset = end
            } while offset < body.count
        }
    }
}

// MARK: - The store's moves

extension PostgresRelayStore {
    /// As RelayStore's, for a message this relay holds. A message it no longer holds (its lease ran out and
    /// another relay took it over) is left alone: nothing is written, a warning is logged, and the call
    /// returns normally, so the worker carries on; the relay holding it now records its outcome.
    public func markStatus(
        id: Int64, status: MessageStatus, problemCode: ProblemCode? = nil, nextAttemptAt: Date? = nil, detail: String? = nil
    ) async throws {
        let now = nowMillis
        let move = MessageMove.attemptEnded(status, problemCode: problemCode, nextAttemptAt: nextAttemptAt.map(Millis.from), detail: detail)
        try await write { [self] db in
            guard let message = try await heldState(db, id, doing: "markStatus") else { return }
            try await apply(db, message, move, now: now)
        }
    }

    /// The message, locked, when this relay may record an outcome for it; nil (after a warning) when it
    /// was taken over from this relay: another relay holds it now, or held it and already finished it.
    func heldState(_ db: Session, _ id: Int64, doing what: String) async throws -> MessageState? {
        guard let row = try await db.row("""
            SELECT id, status, account_id, account, lease_owner, taken_over_from FROM messages WHERE id = \(id) FOR NO KEY UPDATE
            """)
        else { throw StoreError.unknownMessage(id) }
        let message = try MessageState(pg: row)
        let owner: String? = try row.get("lease_owner")
        let takenFrom: String? = try row.get("taken_over_from")
        let lost = message.status == .sending ? owner != relayName : takenFrom == relayName
        if lost {
            logger.warning("message taken over by another relay: this relay's outcome is not recorded", metadata: [
                "message.id": "\(id)", "store.call": "\(what)", "lease.owner": "\(owner ?? "none")",
                "message.status": "\(message.status.rawValue)",
            ])
            return nil
        }
        return message
    }

    /// Claims up to `limit` due messages for this relay (at most `capacities[account]` per account, none of
    /// an account not in the map), with a lease until now + `lease`: queued ones whose time has come, and
    /// `sending` ones whose lease ran out (their relay died or hung mid-send). A message taken over is
    /// counted (`messages.takeovers`), logged, and goes through `interrupted` first (its history says so):
    /// its send may have gone out already, the one case where Gmail may get it twice.
    ///
    /// Two relays claiming at once never get the same message, never wait for each other and do not
    /// starve each other: per account, the first `capacity` due rows nobody else is claiming are locked
    /// (`LIMIT` with `FOR NO KEY UPDATE SKIP LOCKED`: a row another relay holds is passed over, and the
    /// next one takes its place), then StoreModel's `pickClaims` takes at most `limit` of them in due
    /// order, as on SQLite. (The worker's capacities add up to `limit`, so all of them are taken.)
    public func claimDue(limit: Int, capacities: [String: Int]) async throws -> [MessageRecord] {
        let now = nowMillis
        let open = capacities.filter { $0.value > 0 }
        guard limit > 0, !open.isEmpty else { return [] }
        let until = now + leaseMillis
        let relayName = relayName
        return try await write { [self] db in
            var locked: [(state: MessageState, owner: String?, due: Int64?)] = []
            for (account, capacity) in open.sorted(by: { $0.key < $1.key }) {
                for row in try await db.rows("""
                    SELECT id, status, account_id, account, lease_owner, next_attempt_at FROM messages
                    WHERE account = \(account)
                      AND ((status = 'queued' AND coalesce(next_attempt_at, 0) <= \(now)) OR (status = 'sending' AND lease_until < \(now)))
                    ORDER BY next_attempt_at NULLS FIRST, id
                    LIMIT \(min(capacity, limit))
                    FOR NO KEY UPDATE SKIP LOCKED
                    """) {
                    locked.append((try MessageState(pg: row), try row.get("lease_owner"), try row.get("next_attempt_at")))
                }
            }
            locked.sort { ($0.due ?? .min, $0.state.id) < ($1.due ?? .min, $1.state.id) }
            let picked = Set(pickClaims(locked.map { ClaimCandidate(id: $0.state.id, account: $0.state.account) },
                                        limit: limit, capacities: open).map(\.id))
            var ids: [Int64] = []
            for candidate in locked where picked.contains(candidate.state.id) {
                var message = candidate.state
                if message.status == .sending {
                    try await takeOver(db, message, from: candidate.owner ?? "unknown", now: now)
                    message.status = .queued
                }
                try MessageLifecycle.check(message, .claimed)
                ids.append(message.id)
            }
            guard !ids.isEmpty else { return [] }
            // One statement for the claims (a claim writes no event; the attempt writes its own).
            return try await db.rows("""
                UPDATE messages SET status = 'sending', lease_owner = \(relayName), lease_until = \(until), updated_at = \(now)
                WHERE id = ANY(\(ids))
                RETURNING \(unescaped: MessageRecord.pgColumns)
                """).map(MessageRecord.init(pg:)).sorted { order($0, $1) }
        }
    }

    /// A `sending` message whose relay's lease ran out goes back to `queued` (then this relay claims it),
    /// counted and logged.
    private func takeOver(_ db: Session, _ message: MessageState, from previous: String, now: Int64) async throws {
        logger.warning("taking over a message whose relay's lease ran out: it may have been sent already", metadata: [
            "message.id": "\(message.id)", "relay.previous": "\(previous)", "relay": "\(relayName)",
        ])
        try await apply(db, message, .interrupted, now: now)
        try await db.run("UPDATE messages SET takeovers = takeovers + 1, taken_over_from = \(previous) WHERE id = \(message.id)")
    }

    /// Due messages per account, at most `limit` each: queued ones whose time has come and, on a shared
    /// store, `sending` ones whose lease ran out (the worker reserves lane slots for those too).
    public func dueCounts(limit: Int) async throws -> [String: Int] {
        let now = nowMillis
        return try await read { [self] db in
            var counts: [String: Int] = [:]
            for row in try await db.rows("""
                SELECT account, least(count(*), \(max(0, limit))) AS n FROM messages
                WHERE (status = 'queued' AND coalesce(next_attempt_at, 0) <= \(now)) OR (status = 'sending' AND lease_until < \(now))
                GROUP BY account
                """) {
                counts[try row.get("account")] = try row.get("n", as: Int.self)
            }
            return counts
        }
    }

    /// At server start: this relay's messages left `sending` (it was killed or crashed) go back to the
    /// queue. Other relays' `sending` messages are theirs (alive, or taken over when their lease runs out).
    @discardableResult
    public func requeueInterrupted() async throws -> Int {
        let now = nowMillis
        return try await write { [self] db in
            let messages = try await db.rows("""
                SELECT id, status, account_id, account FROM messages WHERE status = 'sending' AND lease_owner = \(relayName)
                ORDER BY id FOR NO KEY UPDATE
                """).map(MessageState.init(pg:))
            for message in messages {
                try await apply(db, message, .interrupted, now: now)
            }
            return messages.count
        }
    }

    public func retry(id: Int64) async throws {
        let now = nowMillis
        try await write { [self] db in
            let message = try await state(db, id)
            try MessageLifecycle.check(message, .retried)
            guard message.hasBody else { throw StoreError.spoolFileMissing(id: id) }
            try await apply(db, message, .retried, now: now)
        }
    }

    @discardableResult
    public func retryAll() async throws -> Int {
        let now = nowMillis
        return try await write { [self] db in
            let messages = try await db.rows("""
                SELECT id, account_id, account, status FROM messages
                WHERE status IN ('held', 'failed') AND EXISTS (SELECT 1 FROM message_chunks c WHERE c.message_id = messages.id)
                ORDER BY id FOR NO KEY UPDATE
                """).map(MessageState.init(pg:))
            for message in messages {
                try await apply(db, message, .retried, now: now)
            }
            return messages.count
        }
    }

    public func discard(id: Int64, detail: String = "discarded by operator") async throws {
        let now = nowMillis
        try await write { [self] db in try await apply(db, id: id, .discarded(detail: detail), now: now) }
    }
}

/// Claim order: next attempt (none first), then id, as the claim query reads them.
private func order(_ a: MessageRecord, _ b: MessageRecord) -> Bool {
    let x = a.nextAttemptAt ?? .distantPast
    let y = b.nextAttemptAt ?? .distantPast
    return x == y ? a.id < b.id : x < y
}
