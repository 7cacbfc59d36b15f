import Foundation
import ProblemCatalogue
import RelayStore
import RelayVocabulary

/// What the status page, `gmail-relay status` and /api/status show: every account with its state and
/// its current problem explained, and the queue. Its JSON form is the /api/status contract
/// (docs/status-page.md "JSON API"); extra keys are only ever added.
public struct StatusReport: Codable, Sendable, Equatable {
    public var accounts: [AccountStatus]
    public var queue: QueueCounts
    /// Problems of the relay itself, not of an account (an SMTP certificate about to end); usually empty.
    public var relayProblems: [Explanation] = []
    /// Every SMTP login with its messages today (since 00:00 UTC) and its daily limit.
    public var logins: [LoginStatus] = []
    /// The relays sharing a PostgreSQL store (`store.url`), by name; empty on SQLite (one relay).
    public var relays: [RelayStatus] = []

    enum CodingKeys: String, JSONFormKey {
        case accounts, queue, logins, relays
        case relayProblems = "relay_problems"
    }
}

// In an extension, so the memberwise initializer stays (RelayStatus builds reports; nobody else does).
extension StatusReport {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        accounts = try c.decode([AccountStatus].self, forKey: .accounts)
        queue = try c.decode(QueueCounts.self, forKey: .queue)
        // Reports of relays older than the key have none.
        relayProblems = try c.decodeIfPresent([Explanation].self, forKey: .relayProblems) ?? []
        logins = try c.decodeIfPresent([LoginStatus].self, forKey: .logins) ?? []
        relays = try c.decodeIfPresent([RelayStatus].self, forKey: .relays) ?? []
    }
}

/// One relay of a fleet sharing a PostgreSQL store: `up` while its heartbeat is fresher than its lease
/// (`gone` after: another relay takes over the messages it held), and how many messages it is sending.
public struct RelayStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case up, gone }

    public var name: String
    public var startedAt: Date
    public var lastSeen: Date
    public var state: State
    public var claimed: Int

    enum CodingKeys: String, JSONFormKey {
        case name, state, claimed
        case startedAt = "started_at"
        case lastSeen = "last_seen"
    }

    /// `goneAfter`: how long without a heartbeat before a relay counts as gone (its lease).
    public init(_ record: RelayRecord, now: Date, goneAfter: TimeInterval) {
        name = record.name
        startedAt = record.startedAt
        lastSeen = record.lastSeen
        state = now.timeIntervalSince(record.lastSeen) > goneAfter ? .gone : .up
        claimed = record.claimed
    }
}

/// One SMTP login on the status page: which account it sends for, and how much of its daily limit
/// (`credential add|update USER --daily-limit N`) today has used; `daily_limit` null means none.
public struct LoginStatus: Codable, Sendable, Equatable {
    public var username: String
    public var account: String
    public var sentToday: Int
    public var dailyLimit: Int?

    enum CodingKeys: String, JSONFormKey {
        case username, account
        case sentToday = "sent_today"
        case dailyLimit = "daily_limit"
    }

    public init(username: String, account: String, sentToday: Int, dailyLimit: Int?) {
        self.username = username
        self.account = account
        self.sentToday = sentToday
        self.dailyLimit = dailyLimit
    }

    public init(_ credential: Credential) {
        self.init(username: credential.username, account: credential.account, sentToday: credential.sentToday,
                  dailyLimit: credential.dailyLimit)
    }

    /// Whether the login has used its whole limit: its next message is refused until 00:00 UTC.
    public var isAtLimit: Bool { dailyLimit.map { sentToday >= $0 } ?? false }
}

public struct AccountStatus: Codable, Sendable, Equatable {
    public var name: String
    /// The account's address (its first from address).
    public var email: String?
    public var kind: AccountKind
    public var state: AccountState
    public var tokenExpiresAt: Date?
    public var lastSuccessAt: Date?
    public var consentedAt: Date?
    /// When the token health probe last checked the grant with a token refresh.
    public var checkedAt: Date?
    public var problem: Explanation?
    public var messages: AccountMessageCounts
    /// A grant known or likely to stop soon (Testing-mode apps end grants 7 days after consent).
    public var warning: GrantWarning?
    /// The account that sends this one's mail while this one needs reauthorization or is blocked.
    public var fallback: String?
    /// Whether the fallback sends this account's mail now (this account cannot, the fallback can).
    public var fallbackInUse = false
    /// Problems to act on while mail still flows (catalogue codes with disposition `unaffected`: an old
    /// service-account key, a Testing-mode grant about to end); empty when there are none.
    public var warnings: [Explanation] = []

    enum CodingKeys: String, JSONFormKey {
        case name, email, kind, state, problem, messages, warning, fallback, warnings
        case fallbackInUse = "fallback_in_use"
        case tokenExpiresAt = "token_expires_at"
        case lastSuccessAt = "last_success_at"
        case consentedAt = "consented_at"
        case checkedAt = "checked_at"
    }
}

// In an extension, so the memberwise initializer stays (RelayStatus builds these; nobody else does).
extension AccountStatus {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        kind = try c.decode(AccountKind.self, forKey: .kind)
        state = try c.decode(AccountState.self, forKey: .state)
        tokenExpiresAt = try c.decodeIfPresent(Date.self, forKey: .tokenExpiresAt)
        lastSuccessAt = try c.decodeIfPresent(Date.self, forKey: .lastSuccessAt)
        consentedAt = try c.decodeIfPresent(Date.self, forKey: .consentedAt)
        checkedAt = try c.decodeIfPresent(Date.self, forKey: .checkedAt)
        problem = try c.decodeIfPresent(Explanation.self, forKey: .problem)
        messages = try c.decode(AccountMessageCounts.self, forKey: .messages)
        warning = try c.decodeIfPresent(GrantWarning.self, forKey: .warning)
        // Reports of relays older than these keys have none of them.
        fallback = try c.decodeIfPresent(String.self, forKey: .fallback)
        fallbackInUse = try c.decodeIfPresent(Bool.self, forKey: .fallbackInUse) ?? false
        warnings = try c.decodeIfPresent([Explanation].self, forKey: .warnings) ?? []
    }
}

public struct GrantWarning: Codable, Sendable, Equatable {
    /// "warning" when the end is near or known, "note" otherwise.
    public var level: String
    public var expiresAt: Date
    public var text: String

    enum CodingKeys: String, JSONFormKey {
        case level, text
        case expiresAt = "expires_at"
    }
}
