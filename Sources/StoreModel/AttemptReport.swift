import Foundation
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

extension AttemptReport.FallbackUse {
    /// The fallback stands in for `account`, which cannot send.
    public init(standingInFor account: Account) {
        self.init(ownAccount: account.name, reason: account.problemCode?.rawValue ?? account.state.rawValue)
    }
}

/// What `finishAttempt` did besides the message itself.
public struct AttemptEffects: Sendable, Equatable {
    /// Held messages of the account released by its success.
    public var released = 0
    /// Queued messages of the account held with it.
    public var alsoHeld = 0

    public init(released: Int = 0, alsoHeld: Int = 0) {
        self.released = released
        self.alsoHeld = alsoHeld
    }
}
