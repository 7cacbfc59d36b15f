import Foundation
import RelayVocabulary

// What `MessageIntake.accept(_:readingAccountOf:decide:)` takes and gives: the SMTP commit names the
// sender, and the store reads that sender's account in the transaction that inserts the message.

/// Whose account sends a message: resolved by the store in the accept's own transaction.
public enum MessageSender: Sendable, Equatable {
    /// The trusted networks' account, by name.
    case account(named: String)
    /// The account of a login AUTH verified, while that login still sends for it.
    case login(username: String, accountID: Int64)
}

/// Why a message's sender could not be used at commit (nothing of the message was stored).
public enum SenderError: Error, Sendable {
    /// The login was removed, or moved to another account, since AUTH (or its account was removed).
    case loginGone(username: String)
    /// The trusted account does not exist.
    case accountMissing(name: String)
    /// The account could not be read (a database error), not the sender's fault.
    case unreadable(any Error)
}

/// What the commit of a message needs of its sender's account, as it is in the commit's transaction
/// (a few columns: decoding a whole `Account` was a measurable part of each SQLite commit).
public struct SenderAccount: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var kind: AccountKind
    public var state: AccountState
    public var problemCode: ProblemCode?
    /// The account's fallback, if it has one (whether it can send now is the decision's second argument).
    public var fallback: String?

    public init(id: Int64, name: String, kind: AccountKind, state: AccountState, problemCode: ProblemCode?, fallback: String?) {
        self.id = id
        self.name = name
        self.kind = kind
        self.state = state
        self.problemCode = problemCode
        self.fallback = fallback
    }

    /// The columns of `accounts` both stores read for it (same names on SQLite and PostgreSQL).
    package static let columns = "id, name, kind, state, problem_code, fallback_account"
}

/// The status (and, for `held`, the problem) of a message, decided from its sender's account as the
/// accept's transaction read it, and whether, when that account needs reauthorization or is blocked,
/// its fallback can send for it now. Runs inside the store's transaction: it must be quick and pure
/// (a store may run it again when it retries the transaction).
public typealias IntakeDecision = @Sendable (_ account: SenderAccount, _ fallbackCanSend: Bool)
    -> (status: MessageStatus, problem: ProblemCode?)
