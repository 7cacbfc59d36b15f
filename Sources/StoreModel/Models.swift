import Foundation
import RelayVocabulary

public struct Account: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var kind: AccountKind
    /// The account's address first, then verified send-as aliases.
    public var fromAddresses: [String]
    public var state: AccountState
    public var problemCode: ProblemCode?
    /// What Google said when the account stopped (or was paused); its JSON form is `problem_detail`.
    public var problemDetail: ProblemDetail?
    /// Whether an encrypted secret (refresh token, service-account key) is stored; the secret itself
    /// is only returned by `RelayStore.accountSecret(named:)`, so it cannot leak through this value.
    public var hasSecret: Bool
    public var consentedAt: Date?
    public var lastSuccessAt: Date?
    public var tokenExpiresAt: Date?
    /// When the health probe or `doctor` last checked the grant with a token refresh.
    public var checkedAt: Date?
    /// The scopes Google last reported for the account's access token; nil when never reported.
    public var grantedScopes: [String]?
    /// The account that sends this one's mail while this one needs reauthorization or is blocked.
    public var fallback: String?
    /// When the secret was last stored (`account add`/`update` with a key or grant, `reauth`); nil without one.
    /// For a service account this is when the relay got the key, not when Google created it.
    public var secretStoredAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    /// The address the account sends as by default.
    public var primaryAddress: String? { fromAddresses.first }

    package enum CodingKeys: String, JSONFormKey {
        case id, name, kind, state, fallback
        case fromAddresses = "from_addresses"
        case problemCode = "problem_code"
        case problemDetail = "problem_detail"
        case hasSecret = "has_secret"
        case consentedAt = "consented_at"
        case lastSuccessAt = "last_success_at"
        case tokenExpiresAt = "token_expires_at"
        case checkedAt = "checked_at"
        case grantedScopes = "granted_scopes"
        case secretStoredAt = "secret_stored_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    package init(
        id: Int64, name: String, kind: AccountKind, fromAddresses: [String], state: AccountState,
        problemCode: ProblemCode?, problemDetail: ProblemDetail?, hasSecret: Bool, consentedAt: Date?,
        lastSuccessAt: Date?, tokenExpiresAt: Date?, checkedAt: Date? = nil, grantedScopes: [String]? = nil,
        fallback: String? = nil, secretStoredAt: Date? = nil, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.fromAddresses = fromAddresses
        self.state = state
        self.problemCode = problemCode
        self.problemDetail = problemDetail
        self.hasSecret = hasSecret
        self.consentedAt = consentedAt
        self.lastSuccessAt = lastSuccessAt
        self.tokenExpiresAt = tokenExpiresAt
        self.checkedAt = checkedAt
        self.grantedScopes = grantedScopes
        self.fallback = fallback
        self.secretStoredAt = secretStoredAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

// An account's `problem_detail` is written as its stored text (`ProblemDetail.json`, a JSON string), as the
// database keeps it; text that is not one reads back as nil.
extension KeyedEncodingContainer where Key == Account.CodingKeys {
    mutating func encodeIfPresent(_ detail: ProblemDetail?, forKey key: Key) throws {
        try encode(detail?.json, forKey: key)
    }
}

extension KeyedDecodingContainer where Key == Account.CodingKeys {
    func decodeIfPresent(_ type: ProblemDetail.Type, forKey key: Key) throws -> ProblemDetail? {
        ProblemDetail(json: try decodeIfPresent(String.self, forKey: key))
    }
}

/// One SMTP login (one CMS site). The password hash never leaves the store.
public struct Credential: Codable, Sendable, Equatable {
    public var username: String
    public var account: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    /// Messages this login may send per UTC day (nil: no limit of its own).
    public var dailyLimit: Int?
    /// Messages accepted for this login since 00:00 UTC today.
    public var sentToday: Int

    package enum CodingKeys: String, JSONFormKey {
        case username, account
        case createdAt = "created_at"
        case lastUsedAt = "last_used_at"
        case dailyLimit = "daily_limit"
        case sentToday = "sent_today"
    }

    public init(username: String, account: String, createdAt: Date, lastUsedAt: Date?, dailyLimit: Int? = nil, sentToday: Int = 0) {
        self.username = username
        self.account = account
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.dailyLimit = dailyLimit
        self.sentToday = sentToday
    }

}

/// The result of a successful SMTP AUTH.
public struct VerifiedCredential: Sendable, Equatable {
    public var username: String
    public var accountID: Int64
    public var account: String
    public var kind: AccountKind
    public var state: AccountState
    /// The login's daily message limit when it was verified (nil: none); MAIL FROM checks it.
    public var dailyLimit: Int? = nil

    public init(username: String, accountID: Int64, account: String, kind: AccountKind, state: AccountState, dailyLimit: Int? = nil) {
        self.username = username
        self.accountID = accountID
        self.account = account
        self.kind = kind
        self.state = state
        self.dailyLimit = dailyLimit
    }
}

/// A login's messages today against its daily limit.
public struct DailyUsage: Sendable, Equatable {
    /// The limit now (nil: none, or the login is gone).
    public var limit: Int?
    /// Messages accepted for the login since `since`.
    public var count: Int
    /// 00:00 UTC today: the count starts here and the limit resets at the next one.
    public var since: Date
    public var resetsAt: Date { since.addingTimeInterval(86_400) }

    public init(limit: Int?, count: Int, since: Date) {
        self.limit = limit
        self.count = count
        self.since = since
    }

    /// The limit is used up: the login's next message is refused until `resetsAt`.
    public var isExhausted: Bool { limit.map { count >= $0 } ?? false }
}

/// A message as the SMTP listener hands it over, after its body is in the spool.
public struct NewMessage: Sendable, Equatable {
    public var account: String
    public var credentialUsername: String?
    /// The client's address, e.g. "192.0.2.7:53422".
    public var peer: String
    public var tls: Bool
    public var mailFrom: String
    public var recipients: [String]
    public var subject: String?
    public var messageID: String?
    public var size: Int64
    /// The path `SpoolFile.finish()` returned; nil when the body is `inlineBody`.
    public var spoolPath: String?
    /// The whole message, stored in the database with its row (small messages; see `IncomingMessage`).
    public var inlineBody: [UInt8]?
    public var sandbox: Bool
    /// `.queued` for the worker, `.sending` when the caller sends it right away (sync mode),
    /// `.held` when the account is known to be blocked.
    public var status: MessageStatus
    public var problemCode: ProblemCode?
    public var rewrittenHeaders: String?

    static func withoutNUL(_ text: String) -> String {
        text.contains("\u{0}") ? text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}") : text
    }

    public init(
        account: String, credentialUsername: String?, peer: String, tls: Bool, mailFrom: String,
        recipients: [String], subject: String?, messageID: String?, size: Int64, spoolPath: String?,
        inlineBody: [UInt8]? = nil, sandbox: Bool, status: MessageStatus = .queued, problemCode: ProblemCode? = nil,
        rewrittenHeaders: String? = nil
    ) {
        self.account = account
        self.credentialUsername = credentialUsername
        self.peer = peer
        self.tls = tls
        self.mailFrom = mailFrom
        self.recipients = recipients
        // A NUL can reach header text through an encoded word (`=?utf-8?q?a=00b?=`): SQLite would cut the
        // text at it and PostgreSQL refuse the whole message, so it is stored as U+FFFD on every store.
        self.subject = subject.map(Self.withoutNUL)
        self.messageID = messageID.map(Self.withoutNUL)
        self.size = size
        self.spoolPath = spoolPath
        self.inlineBody = inlineBody
        self.sandbox = sandbox
        self.status = status
        self.problemCode = problemCode
        self.rewrittenHeaders = rewrittenHeaders
    }
}

/// One row of the send log. Its JSON form is part of the outside contract (`--json`, /api/messages):
/// only the keys listed in `CodingKeys` are encoded; the delivery fields below them are for the worker.
public struct MessageRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var status: MessageStatus
    public var account: String
    public var mailFrom: String
    public var recipients: [String]
    public var subject: String?
    public var messageID: String?
    public var size: Int64
    public var gmailID: String?
    /// The account the message went out through when that was its account's fallback; else nil.
    public var sentThrough: String?
    /// Problem code from the explanation catalogue, or nil.
    public var problem: ProblemCode?
    public var attempts: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var sandbox: Bool
    public var peer: String
    public var tls: Bool

    // Not part of the JSON form (decoding leaves them empty).
    public var accountID: Int64? = nil
    public var credentialUsername: String? = nil
    public var spoolPath: String? = nil
    public var nextAttemptAt: Date? = nil
    public var rewrittenHeaders: String? = nil

    package enum CodingKeys: String, JSONFormKey, CaseIterable {
        case id, status, account, recipients, subject, size, problem, attempts, sandbox, peer, tls
        case mailFrom = "mail_from"
        case messageID = "message_id"
        case gmailID = "gmail_id"
        case sentThrough = "sent_through"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// The JSON keys, for tests and docs.
    public static var jsonKeys: Set<String> { Set(CodingKeys.allCases.map(\.rawValue)) }

    package init(
        id: Int64, status: MessageStatus, account: String, mailFrom: String, recipients: [String],
        subject: String?, messageID: String?, size: Int64, gmailID: String?, problem: ProblemCode?,
        attempts: Int, createdAt: Date, updatedAt: Date, sandbox: Bool, peer: String, tls: Bool,
        accountID: Int64?, credentialUsername: String?, spoolPath: String?, nextAttemptAt: Date?,
        rewrittenHeaders: String?, sentThrough: String? = nil
    ) {
        self.id = id
        self.status = status
        self.account = account
        self.mailFrom = mailFrom
        self.recipients = recipients
        self.subject = subject
        self.messageID = messageID
        self.size = size
        self.gmailID = gmailID
        self.problem = problem
        self.attempts = attempts
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.sandbox = sandbox
        self.peer = peer
        self.tls = tls
        self.accountID = accountID
        self.credentialUsername = credentialUsername
        self.spoolPath = spoolPath
        self.nextAttemptAt = nextAttemptAt
        self.rewrittenHeaders = rewrittenHeaders
        self.sentThrough = sentThrough
    }
}

/// One call to Gmail for a message, as the delivery worker reports it.
public struct NewAttempt: Sendable, Equatable {
    public var messageID: Int64
    public var startedAt: Date
    public var finishedAt: Date
    /// The URL called (no query secrets), e.g. ".../upload/gmail/v1/users/me/messages/send?uploadType=media".
    public var endpoint: String
    /// nil when no HTTP response came (connection refused, timeout).
    public var httpStatus: Int?
    public var responseBody: String?
    public var problemCode: ProblemCode?
    /// The classified answer (endpoint, HTTP status, Google's reason and words), stored with the attempt
    /// so the status side never reads the body or the URL again.
    public var problemDetail: ProblemDetail?
    /// The delay chosen before the next attempt, if one is scheduled.
    public var nextDelaySeconds: Double?

    public init(
        messageID: Int64, startedAt: Date, finishedAt: Date, endpoint: String, httpStatus: Int?,
        responseBody: String?, problemCode: ProblemCode?, problemDetail: ProblemDetail? = nil, nextDelaySeconds: Double?
    ) {
        self.messageID = messageID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.endpoint = endpoint
        self.httpStatus = httpStatus
        self.responseBody = responseBody
        self.problemCode = problemCode
        self.problemDetail = problemDetail
        self.nextDelaySeconds = nextDelaySeconds
    }
}

public struct AttemptRecord: Codable, Sendable, Equatable {
    // Not part of the JSON form, nor is `detail` (decoding leaves them 0 and nil).
    public var id: Int64 = 0
    public var messageID: Int64 = 0
    public var startedAt: Date
    public var finishedAt: Date
    public var endpoint: String
    public var httpStatus: Int?
    public var responseBody: String?
    public var problem: ProblemCode?
    public var nextDelaySeconds: Double?
    /// What the answer said, as classified when it came (not part of the JSON form, which keeps the body).
    public var detail: ProblemDetail? = nil

    package enum CodingKeys: String, JSONFormKey, CaseIterable {
        case endpoint, problem
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case httpStatus = "http_status"
        case responseBody = "response_body"
        case nextDelaySeconds = "next_delay_seconds"
    }

    public static var jsonKeys: Set<String> { Set(CodingKeys.allCases.map(\.rawValue)) }

    package init(
        id: Int64, messageID: Int64, startedAt: Date, finishedAt: Date, endpoint: String, httpStatus: Int?,
        responseBody: String?, problem: ProblemCode?, nextDelaySeconds: Double?, detail: ProblemDetail? = nil
    ) {
        self.detail = detail
        self.id = id
        self.messageID = messageID
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.endpoint = endpoint
        self.httpStatus = httpStatus
        self.responseBody = responseBody
        self.problem = problem
        self.nextDelaySeconds = nextDelaySeconds
    }
}

/// A line of history: a message's state changes and operator actions, an account's changes.
public struct EventRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var messageID: Int64?
    public var account: String?
    public var at: Date
    public var kind: EventKind
    public var detail: String
    /// The problem an account-state event records (a field, so nobody searches `detail` for it); not part
    /// of the JSON form.
    public var problem: ProblemCode? = nil

    package enum CodingKeys: String, JSONFormKey {
        case id, account, at, kind, detail
        case messageID = "message_id"
    }

    package init(id: Int64, messageID: Int64?, account: String?, at: Date, kind: EventKind, detail: String, problem: ProblemCode? = nil) {
        self.problem = problem
        self.id = id
        self.messageID = messageID
        self.account = account
        self.at = at
        self.kind = kind
        self.detail = detail
    }
}

/// The queue summary of the status page and /api/status.
public struct QueueCounts: Codable, Sendable, Equatable {
    public var queued: Int
    /// In flight right now (worker or synchronous send); not included in `queued`.
    public var sending: Int
    public var held: Int
    public var failed: Int
    public var sent24h: Int

    package enum CodingKeys: String, JSONFormKey {
        case queued, sending, held, failed
        case sent24h = "sent_24h"
    }

    /// Nothing anywhere: the stores count up from here.
    public static let none = QueueCounts(queued: 0, sending: 0, held: 0, failed: 0, sent24h: 0)
}
