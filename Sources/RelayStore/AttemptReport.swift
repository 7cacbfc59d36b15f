import Foundation
import GRDB
import RelayVocabulary

/// Everything one delivery attempt changes, written in one transaction: the send log rows, the
/// message's next state and the account's. One fsync instead of five, and no crash can leave an
/// attempt recorded without the state it led to.
public struct AttemptReport: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case sent(gmailID: String?)
        case queued(problemCode: ProblemCode?, nextAttemptAt: Date, detail: String?)
        case held(problemCode: ProblemCode)
        case failed(problemCode: ProblemCode, detail: String)
    }

    public enum AccountChange: Sendable, Equatable {
        /// The send worked: last success now; a stopped account becomes ok and its held mail is released.
        case succeeded(at: Date)
        /// What Google said about the account; with `holdQueued` its waiting mail is held too.
        case state(AccountState, problemCode: ProblemCode?, detail: ProblemDetail?, holdQueued: Bool)
    }

    /// The attempt went out through the message's account's fallback (`account` is then the fallback).
    public struct FallbackUse: Sendable, Equatable {
        /// The message's own account, which cannot send.
        public var ownAccount: String
        /// Why it cannot: its problem code (or its state when it has none).
        public var reason: String

        public init(ownAccount: String, reason: String) {
            self.ownAccount = ownAccount
            self.reason = reason
        }
    }

    public var messageID: Int64
    /// The account that made the attempt, whose state the attempt's answer changes.
    public var account: String
    public var fallback: FallbackUse?
    /// The header that went to Gmail, when not stored yet (first attempt), and what the rewrite changed.
    public var rewrittenHeaders: String?
    public var rewriteNote: String?
    public var attempts: [NewAttempt]
    public var outcome: Outcome
    public var accountChange: AccountChange?
    public var tokenExpiresAt: Date?
    /// The scopes of that token, when the token endpoint said.
    public var tokenScopes: [String]?

    public init(
        messageID: Int64, account: String, rewrittenHeaders: String? = nil, rewriteNote: String? = nil,
        attempts: [NewAttempt] = [], outcome: Outcome, accountChange: AccountChange? = nil, tokenExpiresAt: Date? = nil
    ) {
        self.messageID = messageID
        self.account = account
        self.rewrittenHeaders = rewrittenHeaders
        self.rewriteNote = rewriteNote
        self.attempts = attempts
        self.outcome = outcome
        self.accountChange = accountChange
        self.tokenExpiresAt = tokenExpiresAt
    }
}

/// What `finishAttempt` did besides the message itself.
public struct AttemptEffects: Sendable, Equatable {
    /// Held messages of the account released by its success.
    public var released = 0
    /// Queued messages of the account held with it.
    public var alsoHeld = 0
}

extension RelayStore {
    /// Writes everything one attempt learned in one transaction, shared with the other attempts that
    /// finish at the same moment (BatchedWriter): concurrent deliveries cost one commit, not one each.
    @discardableResult
    public func finishAttempt(_ report: AttemptReport) async throws -> AttemptEffects {
        try await attemptWriter.submit(report)
    }

    /// The body of `finishAttempt`, inside the batch's transaction.
    static func applyAttempt(_ db: Database, _ report: AttemptReport, now: Int64) throws -> AttemptEffects {
        let id = report.messageID
        if let headers = report.rewrittenHeaders {
            try db.execute(cached: "UPDATE messages SET rewritten_headers = ? WHERE id = ?", arguments: [headers, id])
        }
        if let note = report.rewriteNote {
            try MessageLifecycle.note(db, id: id, kind: .rewritten, detail: note, now: now)
        }
        for attempt in report.attempts {
            _ = try insertAttempt(db, attempt, now: now)
        }
        if let fallback = report.fallback {
            let sent: Bool = if case .sent = report.outcome { true } else { false }
            if sent {
                try db.execute(cached: "UPDATE messages SET sent_through = ? WHERE id = ?", arguments: [report.account, id])
            }
            let row = try Row.fetchOne(db, cached: "SELECT account_id FROM messages WHERE id = ?", arguments: [id])
            try insertEvent(db, at: now, kind: .fallback,
                            detail: "\(sent ? "sent" : "tried") through fallback \(report.account) because \(fallback.ownAccount): \(fallback.reason)",
                            messageID: id, accountID: row?["account_id"], account: fallback.ownAccount)
        }
        let move: MessageMove = switch report.outcome {
        case .sent(let gmailID):
            .sent(gmailID: gmailID)
        case .queued(let problem, let next, let detail):
            .attemptEnded(.queued, problemCode: problem, nextAttemptAt: Millis.from(next), detail: detail)
        case .held(let problem):
            .attemptEnded(.held, problemCode: problem, nextAttemptAt: nil, detail: nil)
        case .failed(let problem, let detail):
            .attemptEnded(.failed, problemCode: problem, nextAttemptAt: nil, detail: detail)
        }
        try MessageLifecycle.apply(db, id: id, move, now: now)
        var effects = AttemptEffects()
        switch report.accountChange {
        case .succeeded(let at)?:
            if try applyAccountSuccess(db, name: report.account, at: Millis.from(at)) {
                effects.released = try applyReleaseHeld(db, account: report.account, now: now)
            }
        case .state(let state, let problem, let detail, let holdQueued)?:
            try applyAccountState(db, name: report.account, state: state, problemCode: problem, detail: detail, now: now)
            if holdQueued, let problem {
                effects.alsoHeld = try applyHoldQueued(db, account: report.account, problemCode: problem, now: now)
            }
        case nil:
            break
        }
        if let expires = report.tokenExpiresAt {
            try recordToken(db, name: report.account, expiresAt: expires, scopes: report.tokenScopes, now: now)
        }
        return effects
    }
}

// MARK: - Writing an attempt's row, inside finishAttempt's transaction

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
