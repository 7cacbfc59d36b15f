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

    public var messageID: Int64
    public var account: String
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
            let row = try Row.fetchOne(db, cached: "SELECT account_id FROM messages WHERE id = ?", arguments: [id])
            try insertEvent(db, at: now, kind: .rewritten, detail: note, messageID: id,
                            accountID: row?["account_id"], account: report.account)
        }
        for attempt in report.attempts {
            _ = try insertAttempt(db, attempt, now: now)
        }
        switch report.outcome {
        case .sent(let gmailID):
            try applySent(db, id: id, gmailID: gmailID, now: now)
        case .queued(let problem, let next, let detail):
            try applyStatus(db, id: id, status: .queued, problemCode: problem, nextAttemptAt: next, detail: detail, now: now)
        case .held(let problem):
            try applyStatus(db, id: id, status: .held, problemCode: problem, nextAttemptAt: nil, detail: nil, now: now)
        case .failed(let problem, let detail):
            try applyStatus(db, id: id, status: .failed, problemCode: problem, nextAttemptAt: nil, detail: detail, now: now)
        }
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
