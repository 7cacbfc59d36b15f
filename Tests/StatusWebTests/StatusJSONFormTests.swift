import AccountAlerts
import Foundation
import RelayStore
@testable import StoreModel
import RelayVocabulary
import Testing
@testable import ProblemCatalogue
@testable import RelayStatus

/// The status side's JSON forms byte for byte (/api/status, `status --json`, /api/stats' hours, the `json`
/// webhook): every key present, null when absent, dates as ISO-8601 UTC strings with second precision.
@Suite struct StatusJSONForms {
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000)  // 2025-06-15T15:06:40Z

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static let problem = Explanation(
        code: .grantRevoked, title: "Authorization expired or revoked", explanation: "Google refused the refresh token.",
        causes: ["The user removed access."], steps: ["Run `gmail-relay reauth shop`."], disposition: .held)

    static let full = AccountStatus(
        name: "shop", email: "shop@example.com", kind: .oauthUser, state: .needsReauth, tokenExpiresAt: t0,
        lastSuccessAt: t0.addingTimeInterval(-60), consentedAt: t0.addingTimeInterval(-86_400), checkedAt: t0.addingTimeInterval(0.75),
        problem: problem, messages: AccountMessageCounts(queued: 1, held: 2, failed: 3),
        warning: GrantWarning(level: "warning", expiresAt: t0.addingTimeInterval(3600), text: "ends soon"),
        fallback: "backup", fallbackInUse: true, warnings: [problem])

    static let empty = AccountStatus(
        name: "new", email: nil, kind: .serviceAccount, state: .unconfigured, tokenExpiresAt: nil, lastSuccessAt: nil,
        consentedAt: nil, problem: nil, messages: AccountMessageCounts(), warning: nil)

    @Test func anAccountWithEverythingAndOneWithNothing() throws {
        #expect(try Self.json(Self.full) == #"{"checked_at":"2025-06-15T15:06:40Z","consented_at":"2025-06-14T15:06:40Z","email":"shop@example.com","fallback":"backup","fallback_in_use":true,"kind":"oauth_user","last_success_at":"2025-06-15T15:05:40Z","messages":{"failed":3,"held":2,"queued":1},"name":"shop","problem":{"causes":["The user removed access."],"code":"grant_revoked","disposition":"held","explanation":"Google refused the refresh token.","steps":["Run `gmail-relay reauth shop`."],"title":"Authorization expired or revoked"},"state":"needs_reauth","token_expires_at":"2025-06-15T15:06:40Z","warning":{"expires_at":"2025-06-15T16:06:40Z","level":"warning","text":"ends soon"},"warnings":[{"causes":["The user removed access."],"code":"grant_revoked","disposition":"held","explanation":"Google refused the refresh token.","steps":["Run `gmail-relay reauth shop`."],"title":"Authorization expired or revoked"}]}"#)
        #expect(try Self.json(Self.empty) == #"{"checked_at":null,"consented_at":null,"email":null,"fallback":null,"fallback_in_use":false,"kind":"service_account","last_success_at":null,"messages":{"failed":0,"held":0,"queued":0},"name":"new","problem":null,"state":"unconfigured","token_expires_at":null,"warning":null,"warnings":[]}"#)
    }

    @Test func theReportItsLoginsAndItsQueue() throws {
        let report = StatusReport(
            accounts: [Self.empty], queue: QueueCounts(queued: 1, sending: 2, held: 3, failed: 4, sent24h: 5),
            relayProblems: [], logins: [LoginStatus(username: "site1", account: "new", sentToday: 0, dailyLimit: nil),
                                        LoginStatus(username: "site2", account: "new", sentToday: 9, dailyLimit: 10)],
            relays: [RelayStatus(RelayRecord(name: "relay-a", startedAt: Self.t0, lastSeen: Self.t0.addingTimeInterval(60), claimed: 2),
                                 now: Self.t0.addingTimeInterval(100), goneAfter: 90),
                     RelayStatus(RelayRecord(name: "relay-b", startedAt: Self.t0, lastSeen: Self.t0, claimed: 0),
                                 now: Self.t0.addingTimeInterval(100), goneAfter: 90)])
        #expect(try Self.json(report) == #"{"accounts":[{"checked_at":null,"consented_at":null,"email":null,"fallback":null,"fallback_in_use":false,"kind":"service_account","last_success_at":null,"messages":{"failed":0,"held":0,"queued":0},"name":"new","problem":null,"state":"unconfigured","token_expires_at":null,"warning":null,"warnings":[]}],"logins":[{"account":"new","daily_limit":null,"sent_today":0,"username":"site1"},{"account":"new","daily_limit":10,"sent_today":9,"username":"site2"}],"queue":{"failed":4,"held":3,"queued":1,"sending":2,"sent_24h":5},"relay_problems":[],"relays":[{"claimed":2,"last_seen":"2025-06-15T15:07:40Z","name":"relay-a","started_at":"2025-06-15T15:06:40Z","state":"up"},{"claimed":0,"last_seen":"2025-06-15T15:06:40Z","name":"relay-b","started_at":"2025-06-15T15:06:40Z","state":"gone"}]}"#)
    }

    @Test func theAlertDocumentOfAStateChangeAndOfTheTestAlert() throws {
        let change = AccountStateAlert(account: "shop", email: "shop@example.com", kind: .oauthUser, fromState: .ok,
                                       toState: .needsReauth, problem: Self.problem, at: Self.t0)
        #expect(try Self.json(change) == #"{"account":"shop","at":"2025-06-15T15:06:40Z","email":"shop@example.com","event":"state_change","from_state":"ok","kind":"oauth_user","problem":{"causes":["The user removed access."],"code":"grant_revoked","disposition":"held","explanation":"Google refused the refresh token.","steps":["Run `gmail-relay reauth shop`."],"title":"Authorization expired or revoked"},"to_state":"needs_reauth"}"#)
        let test = AccountStateAlert(event: .test, account: "", email: nil, kind: nil, fromState: .ok, toState: .ok, problem: nil, at: Self.t0)
        #expect(try Self.json(test) == #"{"account":"","at":"2025-06-15T15:06:40Z","email":null,"event":"test","from_state":"ok","kind":"","problem":null,"to_state":"ok"}"#)
        #expect(try JSONDecoder().decode(AccountStateAlert.self, from: JSONEncoder().encode(test)) == test)
    }

    /// What the forms carry comes back (dates at second precision); reports of older relays, without the
    /// keys added since, still decode.
    @Test func theFormsDecodeAgain() throws {
        var full = Self.full
        full.checkedAt = Self.t0
        #expect(try JSONDecoder().decode(AccountStatus.self, from: JSONEncoder().encode(full)) == full)
        #expect(try JSONDecoder().decode(AccountStatus.self, from: JSONEncoder().encode(Self.empty)) == Self.empty)
        let old = #"{"name":"old","email":null,"kind":"oauth_user","state":"ok","token_expires_at":null,"last_success_at":null,"consented_at":null,"checked_at":null,"problem":null,"messages":{"queued":0,"held":0,"failed":0},"warning":null}"#
        let decoded = try JSONDecoder().decode(AccountStatus.self, from: Data(old.utf8))
        #expect(decoded.fallback == nil && !decoded.fallbackInUse && decoded.warnings.isEmpty)
        let hour = HourlyCounts(hour: Self.t0, sent: 1, failed: 2, held: 3, queued: 4)
        #expect(try JSONDecoder().decode(HourlyCounts.self, from: JSONEncoder().encode(hour)) == hour)
        let badDate = #"{"level":"note","expires_at":"soon","text":"t"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(GrantWarning.self, from: Data(badDate.utf8)) }
    }
}
