import Foundation
import Testing
@testable import RelayStore
@testable import StoreModel
import RelayVocabulary

/// The JSON forms of the models are the outside contract (/api/status, /api/messages, `--json`): these
/// strings are what they were before the date strategy became one helper, and must stay so.
@Suite struct ModelJSONTests {
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000)  // 2025-06-15T15:06:40Z

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static let account = Account(
        id: 7, name: "shop", kind: .oauthUser, fromAddresses: ["shop@example.com"], state: .needsReauth,
        problemCode: .grantRevoked, problemDetail: nil, hasSecret: true, consentedAt: t0, lastSuccessAt: nil,
        tokenExpiresAt: t0.addingTimeInterval(3599), checkedAt: nil, grantedScopes: ["https://www.googleapis.com/auth/gmail.send"],
        createdAt: t0, updatedAt: t0.addingTimeInterval(60))

    static let message = MessageRecord(
        id: 42, status: .sent, account: "shop", mailFrom: "wp@example.org", recipients: ["a@example.com"], subject: nil,
        messageID: "<m@example.org>", size: 123, gmailID: "18c2", problem: nil, attempts: 1, createdAt: t0,
        updatedAt: t0.addingTimeInterval(1.75), sandbox: false, peer: "127.0.0.1:5000", tls: true, accountID: 7,
        credentialUsername: "site1", spoolPath: "/data/spool/messages/x.eml", nextAttemptAt: nil, rewrittenHeaders: nil)

    static let attempt = AttemptRecord(
        id: 3, messageID: 42, startedAt: t0, finishedAt: t0.addingTimeInterval(2), endpoint: "https://gmail.googleapis.com/x",
        httpStatus: 429, responseBody: "{}", problem: .rateLimited, nextDelaySeconds: 60.5)

    static let event = EventRecord(id: 9, messageID: nil, account: "shop", at: t0, kind: .accountAdded, detail: "oauth_user")

    static let credential = Credential(username: "site1", account: "shop", createdAt: t0, lastUsedAt: nil)

    @Test func theJSONIsExactlyTheContract() throws {
        #expect(try Self.json(Self.account) == #"{"checked_at":null,"consented_at":"2025-06-15T15:06:40Z","created_at":"2025-06-15T15:06:40Z","fallback":null,"from_addresses":["shop@example.com"],"granted_scopes":["https://www.googleapis.com/auth/gmail.send"],"has_secret":true,"id":7,"kind":"oauth_user","last_success_at":null,"name":"shop","problem_code":"grant_revoked","problem_detail":null,"secret_stored_at":null,"state":"needs_reauth","token_expires_at":"2025-06-15T16:06:39Z","updated_at":"2025-06-15T15:07:40Z"}"#)
        #expect(try Self.json(Self.message) == #"{"account":"shop","attempts":1,"created_at":"2025-06-15T15:06:40Z","gmail_id":"18c2","id":42,"mail_from":"wp@example.org","message_id":"<m@example.org>","peer":"127.0.0.1:5000","problem":null,"recipients":["a@example.com"],"sandbox":false,"sent_through":null,"size":123,"status":"sent","subject":null,"tls":true,"updated_at":"2025-06-15T15:06:41Z"}"#)
        #expect(try Self.json(Self.attempt) == #"{"endpoint":"https://gmail.googleapis.com/x","finished_at":"2025-06-15T15:06:42Z","http_status":429,"next_delay_seconds":60.5,"problem":"rate_limited","response_body":"{}","started_at":"2025-06-15T15:06:40Z"}"#)
        #expect(try Self.json(Self.event) == #"{"account":"shop","at":"2025-06-15T15:06:40Z","detail":"oauth_user","id":9,"kind":"account_added","message_id":null}"#)
        #expect(try Self.json(Self.credential) == #"{"account":"shop","created_at":"2025-06-15T15:06:40Z","daily_limit":null,"last_used_at":null,"sent_today":0,"username":"site1"}"#)
    }

    /// The fields the first test leaves empty: an account's problem detail (its stored text, as a string),
    /// a message's nil Message-ID, a login's limit, an hour of the send log.
    @Test func theRestOfTheContractIsPinnedToo() throws {
        var account = Self.account
        account.problemDetail = ProblemDetail(googleMessage: "Token has been expired or revoked.", reason: "invalid_grant", httpStatus: 400)
        account.lastSuccessAt = Self.t0
        account.fallback = "backup"
        #expect(try Self.json(account) == #"{"checked_at":null,"consented_at":"2025-06-15T15:06:40Z","created_at":"2025-06-15T15:06:40Z","fallback":"backup","from_addresses":["shop@example.com"],"granted_scopes":["https://www.googleapis.com/auth/gmail.send"],"has_secret":true,"id":7,"kind":"oauth_user","last_success_at":"2025-06-15T15:06:40Z","name":"shop","problem_code":"grant_revoked","problem_detail":"{\"body_format\":\"empty\",\"google_message\":\"Token has been expired or revoked.\",\"http_status\":400,\"raw_body\":\"\",\"reason\":\"invalid_grant\"}","secret_stored_at":null,"state":"needs_reauth","token_expires_at":"2025-06-15T16:06:39Z","updated_at":"2025-06-15T15:07:40Z"}"#)
        var message = Self.message
        message.messageID = nil
        message.gmailID = nil
        message.problem = .rateLimited
        message.sentThrough = "backup"
        #expect(try Self.json(message) == #"{"account":"shop","attempts":1,"created_at":"2025-06-15T15:06:40Z","gmail_id":null,"id":42,"mail_from":"wp@example.org","message_id":null,"peer":"127.0.0.1:5000","problem":"rate_limited","recipients":["a@example.com"],"sandbox":false,"sent_through":"backup","size":123,"status":"sent","subject":null,"tls":true,"updated_at":"2025-06-15T15:06:41Z"}"#)
        let credential = Credential(username: "site2", account: "shop", createdAt: Self.t0, lastUsedAt: Self.t0, dailyLimit: 50, sentToday: 3)
        #expect(try Self.json(credential) == #"{"account":"shop","created_at":"2025-06-15T15:06:40Z","daily_limit":50,"last_used_at":"2025-06-15T15:06:40Z","sent_today":3,"username":"site2"}"#)
        #expect(try Self.json(EventRecord(id: 1, messageID: 42, account: nil, at: Self.t0, kind: .accepted, detail: "")) == #"{"account":null,"at":"2025-06-15T15:06:40Z","detail":"","id":1,"kind":"accepted","message_id":42}"#)
        #expect(try Self.json(HourlyCounts(hour: Self.t0, sent: 1, failed: 2, held: 3, queued: 4)) == #"{"failed":2,"held":3,"hour":"2025-06-15T15:06:40Z","queued":4,"sent":1}"#)
        #expect(try Self.json(QueueCounts(queued: 1, sending: 2, held: 3, failed: 4, sent24h: 5)) == #"{"failed":4,"held":3,"queued":1,"sending":2,"sent_24h":5}"#)
        let noAnswer = AttemptRecord(id: 1, messageID: 2, startedAt: Self.t0, finishedAt: Self.t0, endpoint: "e", httpStatus: nil,
                                     responseBody: nil, problem: nil, nextDelaySeconds: nil)
        #expect(try Self.json(noAnswer) == #"{"endpoint":"e","finished_at":"2025-06-15T15:06:40Z","http_status":null,"next_delay_seconds":null,"problem":null,"response_body":null,"started_at":"2025-06-15T15:06:40Z"}"#)
    }

    /// The policy itself (StoreModel's JSONFormKey): with synthesized Codable, each optional the forms use is
    /// written as null (the standard library's own overloads would leave the key out), a date as ISO-8601.
    struct EveryKind: Codable, Equatable {
        var text: String?
        var int: Int?
        var int64: Int64?
        var double: Double?
        var bool: Bool?
        var list: [String]?
        var date: Date?
        var required: Date
        enum CodingKeys: String, JSONFormKey { case text, int, int64, double, bool, list, date, required }
    }

    @Test func theFormWritesEveryKeyAndEveryDateOneWay() throws {
        let empty = EveryKind(required: Self.t0)
        #expect(try Self.json(empty) == #"{"bool":null,"date":null,"double":null,"int":null,"int64":null,"list":null,"required":"2025-06-15T15:06:40Z","text":null}"#)
        let full = EveryKind(text: "t", int: 1, int64: 2, double: 0.5, bool: true, list: ["a"], date: Self.t0, required: Self.t0)
        #expect(try Self.json(full) == #"{"bool":true,"date":"2025-06-15T15:06:40Z","double":0.5,"int":1,"int64":2,"list":["a"],"required":"2025-06-15T15:06:40Z","text":"t"}"#)
        #expect(try JSONDecoder().decode(EveryKind.self, from: JSONEncoder().encode(full)) == full)
        #expect(try JSONDecoder().decode(EveryKind.self, from: JSONEncoder().encode(empty)) == empty)
        // A missing optional key reads as nil; a missing required date is an error.
        #expect(try JSONDecoder().decode(EveryKind.self, from: Data(#"{"required":"2025-06-15T15:06:40Z"}"#.utf8)) == empty)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(EveryKind.self, from: Data("{}".utf8)) }
    }

    @Test func everyModelSurvivesARoundTrip() throws {
        let decoder = JSONDecoder()
        let encoder = JSONEncoder()
        #expect(try decoder.decode(Account.self, from: encoder.encode(Self.account)) == Self.account)
        #expect(try decoder.decode(Credential.self, from: encoder.encode(Self.credential)) == Self.credential)
        #expect(try decoder.decode(EventRecord.self, from: encoder.encode(Self.event)) == Self.event)
        // The JSON forms leave out internal fields (ids of an attempt, a message's spool path, ...): compare
        // what they carry. Dates come back at second precision.
        let message = try decoder.decode(MessageRecord.self, from: encoder.encode(Self.message))
        #expect(message.createdAt == Self.t0)
        #expect(message.updatedAt == Self.t0.addingTimeInterval(1))
        #expect(try Self.json(message) == (try Self.json(Self.message)))
        let attempt = try decoder.decode(AttemptRecord.self, from: encoder.encode(Self.attempt))
        #expect(try Self.json(attempt) == (try Self.json(Self.attempt)))
    }

    @Test func aBadOrMissingDateIsAClearDecodingError() throws {
        let bad = #"{"account":"shop","at":"yesterday","detail":"d","id":1,"kind":"accepted","message_id":null}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(EventRecord.self, from: Data(bad.utf8)) }
        let missing = #"{"account":"shop","detail":"d","id":1,"kind":"accepted","message_id":null}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(EventRecord.self, from: Data(missing.utf8)) }
        let fractional = #"{"account":"shop","at":"2025-06-15T15:06:40.250Z","detail":"d","id":1,"kind":"accepted","message_id":null}"#
        #expect(try JSONDecoder().decode(EventRecord.self, from: Data(fractional.utf8)).at == Self.t0.addingTimeInterval(0.25))
    }
}
