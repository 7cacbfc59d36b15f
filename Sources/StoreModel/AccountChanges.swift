import Foundation
import RelayVocabulary

/// What `account update` changes, written in one transaction (`RelayStore.updateAccount`), so an
/// interrupted update leaves the old account or all of the new one, and a running `serve` never
/// sees a new grant with the old blocked state.
public struct AccountUpdate: Sendable {
    /// How the account stands afterwards.
    public enum Afterwards: Sendable, Equatable {
        /// Only the from addresses changed: state and held mail stay as they are.
        case unchanged
        /// The new grant cannot send before Google's consent (`reauth`): state `needs_reauth`.
        case needsReauth(problemCode: ProblemCode)
        /// The new grant gets its chance: state `ok`, held mail queued again.
        case readyToSend
    }

    public var name: String
    /// The new grant (sealed before it is stored); nil keeps the stored one.
    public var secret: Data?
    /// When the operator's consent for a new refresh token was given (the Testing-mode warning counts from it).
    public var consentedAt: Date?
    /// Replaces the from addresses; nil keeps them.
    public var fromAddresses: [String]?
    public var afterwards: Afterwards

    public init(name: String, secret: Data? = nil, consentedAt: Date? = nil, fromAddresses: [String]? = nil, afterwards: Afterwards) {
        self.name = name
        self.secret = secret
        self.consentedAt = consentedAt
        self.fromAddresses = fromAddresses
        self.afterwards = afterwards
    }
}

/// What one check of an account's grant found (the health probe), written in one transaction with
/// the check time (`RelayStore.recordGrantCheck`).
public enum GrantCheck: Sendable, Equatable {
    /// Google issued a token: its expiry and, when known, its scopes.
    case tokenIssued(expiresAt: Date, scopes: [String]?)
    /// The grant cannot send: the account's new state and problem; `holdQueued` holds its queued mail.
    case cannotSend(state: AccountState, problemCode: ProblemCode, detail: ProblemDetail?, holdQueued: Bool)
    /// Nothing learned about the grant (a network error, or an account already not ok): only the time.
    case inconclusive
}
