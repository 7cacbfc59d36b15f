import Foundation
import ProblemCatalogue
import RelayStore
import RelayVocabulary

/// Why an alert goes out.
public enum AlertEvent: String, Codable, Sendable, Equatable, CaseIterable {
    /// The account moved to another state that is not ok.
    case stateChange = "state_change"
    /// The problem still lasts `alerts.remind_hours` after the last alert about it.
    case reminder
    /// The account is ok again.
    case resolved
    /// `gmail-relay alerts test` or the page's "Send test alert" button.
    case test
}

/// The alert as data; the `json` webhook format POSTs it as is:
/// `{"event", "account", "email", "kind", "from_state", "to_state", "problem": {code, title, explanation, causes,
/// steps, disposition} | null, "at"}`. The other formats are made from it by `WebhookFormatter`.
public struct AccountStateAlert: Codable, Sendable, Equatable {
    public var event: AlertEvent
    public var account: String
    public var email: String?
    /// The account's kind; nil (written "") for the test alert, which is about no account.
    public var kind: AccountKind?
    public var fromState: AccountState
    public var toState: AccountState
    /// The account's problem after the change; null when it is ok again.
    public var problem: Explanation?
    public var at: Date

    enum CodingKeys: String, JSONFormKey {
        case event, account, email, kind, problem, at
        case fromState = "from_state"
        case toState = "to_state"
    }

    public init(
        event: AlertEvent? = nil, account: String, email: String?, kind: AccountKind?, fromState: AccountState,
        toState: AccountState, problem: Explanation?, at: Date
    ) {
        self.event = event ?? (toState == .ok ? .resolved : .stateChange)
        self.account = account
        self.email = email
        self.kind = kind
        self.fromState = fromState
        self.toState = toState
        self.problem = problem
        self.at = at
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(event, forKey: .event)
        try c.encode(account, forKey: .account)
        try c.encode(email, forKey: .email)
        try c.encode(kind?.rawValue ?? "", forKey: .kind)
        try c.encode(fromState, forKey: .fromState)
        try c.encode(toState, forKey: .toState)
        try c.encode(problem, forKey: .problem)
        try c.encode(at, forKey: .at)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        account = try c.decode(String.self, forKey: .account)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        let kindText = try c.decode(String.self, forKey: .kind)
        if kindText.isEmpty {
            kind = nil
        } else if let known = AccountKind(rawValue: kindText) {
            kind = known
        } else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown account kind \(kindText)")
        }
        fromState = try c.decode(AccountState.self, forKey: .fromState)
        toState = try c.decode(AccountState.self, forKey: .toState)
        event = try c.decodeIfPresent(AlertEvent.self, forKey: .event) ?? (toState == .ok ? .resolved : .stateChange)
        problem = try c.decodeIfPresent(Explanation.self, forKey: .problem)
        at = try c.decode(Date.self, forKey: .at)
    }
}

/// Which state changes are worth a message: every change of `state` (ok, needs_reauth, blocked,
/// unconfigured), judged between two readings of the accounts table. Pure.
public enum StateChanges {
    public struct Change: Sendable, Equatable {
        public var account: Account
        public var from: AccountState
    }

    /// Accounts that appear or disappear between readings are not changes: a new account starts where
    /// `account add` put it, and a removed one has nobody left to warn about.
    public static func between(_ before: [String: AccountState], _ after: [Account]) -> [Change] {
        after.compactMap { account in
            guard let previous = before[account.name], previous != account.state else { return nil }
            return Change(account: account, from: previous)
        }
    }
}
