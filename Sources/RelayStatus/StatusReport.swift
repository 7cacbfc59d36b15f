import Foundation
import ProblemCatalogue
import RelayStore
import RelayVocabulary

/// What the status page, `gmail-relay status` and /api/status show: every account with its state and
/// its current problem explained, and the queue. Its JSON form is the /api/status contract
/// (docs/status-page.md "JSON API"); extra keys are only ever added.
public struct StatusReport: Codable, Sendable, Equatable {
    public var accounts: [AccountStatus]
    public var queue: QueueSummary
    /// Problems of the relay itself, not of an account (an SMTP certificate about to end); usually empty.
    public var relayProblems: [Explanation]
    /// Every SMTP login with its messages today (since 00:00 UTC) and its daily limit.
    public var logins: [LoginStatus]

    enum CodingKeys: String, CodingKey {
        case accounts, queue, logins
        case relayProblems = "relay_problems"
    }

    public init(accounts: [AccountStatus], queue: QueueSummary, relayProblems: [Explanation] = [], logins: [LoginStatus] = []) {
        self.accounts = accounts
        self.queue = queue
        self.relayProblems = relayProblems
        self.logins = logins
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        accounts = try c.decode([AccountStatus].self, forKey: .accounts)
        queue = try c.decode(QueueSummary.self, forKey: .queue)
        // Reports of relays older than the key have none.
        relayProblems = try c.decodeIfPresent([Explanation].self, forKey: .relayProblems) ?? []
        logins = try c.decodeIfPresent([LoginStatus].self, forKey: .logins) ?? []
    }
}

/// One SMTP login on the status page: which account it sends for, and how much of its daily limit
/// (`credential add|update USER --daily-limit N`) today has used; `daily_limit` null means none.
public struct LoginStatus: Codable, Sendable, Equatable {
    public var username: String
    public var account: String
    public var sentToday: Int
    public var dailyLimit: Int?

    enum CodingKeys: String, CodingKey {
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

    // Explicit null for no limit: every key is always present.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(username, forKey: .username)
        try c.encode(account, forKey: .account)
        try c.encode(sentToday, forKey: .sentToday)
        try c.encode(dailyLimit, forKey: .dailyLimit)
    }
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
    public var fallbackInUse: Bool
    /// Problems to act on while mail still flows (catalogue codes with disposition `unaffected`: an old
    /// service-account key, a Testing-mode grant about to end); empty when there are none.
    public var warnings: [Explanation]

    enum CodingKeys: String, CodingKey {
        case name, email, kind, state, problem, messages, warning, fallback, warnings
        case fallbackInUse = "fallback_in_use"
        case tokenExpiresAt = "token_expires_at"
        case lastSuccessAt = "last_success_at"
        case consentedAt = "consented_at"
        case checkedAt = "checked_at"
    }

    public init(
        name: String, email: String?, kind: AccountKind, state: AccountState, tokenExpiresAt: Date?, lastSuccessAt: Date?,
        consentedAt: Date?, checkedAt: Date? = nil, problem: Explanation?, messages: AccountMessageCounts, warning: GrantWarning?,
        fallback: String? = nil, fallbackInUse: Bool = false, warnings: [Explanation] = []
    ) {
        self.name = name
        self.email = email
        self.kind = kind
        self.state = state
        self.tokenExpiresAt = tokenExpiresAt
        self.lastSuccessAt = lastSuccessAt
        self.consentedAt = consentedAt
        self.checkedAt = checkedAt
        self.problem = problem
        self.messages = messages
        self.warning = warning
        self.fallback = fallback
        self.fallbackInUse = fallbackInUse
        self.warnings = warnings
    }

    // Explicit nulls: every key is always present, as the contract lists them.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(email, forKey: .email)
        try c.encode(kind, forKey: .kind)
        try c.encode(state, forKey: .state)
        try c.encode(tokenExpiresAt.map(ISO8601.string), forKey: .tokenExpiresAt)
        try c.encode(lastSuccessAt.map(ISO8601.string), forKey: .lastSuccessAt)
        try c.encode(consentedAt.map(ISO8601.string), forKey: .consentedAt)
        try c.encode(checkedAt.map(ISO8601.string), forKey: .checkedAt)
        try c.encode(problem, forKey: .problem)
        try c.encode(messages, forKey: .messages)
        try c.encode(warning, forKey: .warning)
        try c.encode(fallback, forKey: .fallback)
        try c.encode(fallbackInUse, forKey: .fallbackInUse)
        try c.encode(warnings, forKey: .warnings)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        kind = try c.decode(AccountKind.self, forKey: .kind)
        state = try c.decode(AccountState.self, forKey: .state)
        tokenExpiresAt = try c.decodeIfPresent(String.self, forKey: .tokenExpiresAt).flatMap(ISO8601.date)
        lastSuccessAt = try c.decodeIfPresent(String.self, forKey: .lastSuccessAt).flatMap(ISO8601.date)
        consentedAt = try c.decodeIfPresent(String.self, forKey: .consentedAt).flatMap(ISO8601.date)
        checkedAt = try c.decodeIfPresent(String.self, forKey: .checkedAt).flatMap(ISO8601.date)
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

    enum CodingKeys: String, CodingKey {
        case level, text
        case expiresAt = "expires_at"
    }

    public init(level: String, expiresAt: Date, text: String) {
        self.level = level
        self.expiresAt = expiresAt
        self.text = text
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(level, forKey: .level)
        try c.encode(ISO8601.string(expiresAt), forKey: .expiresAt)
        try c.encode(text, forKey: .text)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        level = try c.decode(String.self, forKey: .level)
        text = try c.decode(String.self, forKey: .text)
        let date = try c.decode(String.self, forKey: .expiresAt)
        guard let parsed = ISO8601.date(date) else {
            throw DecodingError.dataCorruptedError(forKey: .expiresAt, in: c, debugDescription: "not ISO-8601")
        }
        expiresAt = parsed
    }
}

/// The queue part of /api/status.
public struct QueueSummary: Codable, Sendable, Equatable {
    public var queued: Int
    public var sending: Int
    public var held: Int
    public var failed: Int
    public var sent24h: Int

    enum CodingKeys: String, CodingKey {
        case queued, sending, held, failed
        case sent24h = "sent_24h"
    }

    public init(_ counts: QueueCounts) {
        queued = counts.queued
        sending = counts.sending
        held = counts.held
        failed = counts.failed
        sent24h = counts.sent24h
    }
}
