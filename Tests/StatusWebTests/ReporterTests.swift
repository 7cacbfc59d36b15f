import Foundation
import GmailAPI
import RelayStatus
import RelayStore
import RelayVocabulary
import Testing

/// The status report from a real SQLite store.
@Suite struct Reporter {
    @Test func detailStoredByTheDeliveryEngineIsReadBack() async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let retry = Date(timeIntervalSince1970: 1_900_000_000)
        try await f.block("shop", code: .dailyLimit, detail: ProblemDetail(
            googleMessage: "User-rate limit exceeded.  Retry after 2030-03-17T17:46:40.000Z (Mail sending)",
            reason: "rateLimitExceeded", retryAfter: retry, httpStatus: 429, bodyFormat: .googleError, rawBody: "{}"))
        let report = try await StatusReporter(store: f.store).report()
        let problem = try #require(report.accounts.first?.problem)
        #expect(problem.code == .dailyLimit)
        #expect(problem.explanation.contains("2030-03-17 17:46 UTC"))
        #expect(problem.disposition == .retried)
    }

    @Test func loginsAreListedWithTodaysCountAndTheirLimit() async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        try await f.store.addCredential(username: "site1", account: "shop", password: "a-long-enough-password-1")
        try await f.store.addCredential(username: "site2", account: "shop", password: "a-long-enough-password-2")
        try await f.store.setCredentialDailyLimit(username: "site1", limit: 2)
        // Fixture.addMessage sends as login site1.
        _ = try await f.addMessage(account: "shop")
        _ = try await f.addMessage(account: "shop")
        let logins = try await StatusReporter(store: f.store).report().logins
        #expect(logins == [
            LoginStatus(username: "site1", account: "shop", sentToday: 2, dailyLimit: 2),
            LoginStatus(username: "site2", account: "shop", sentToday: 0, dailyLimit: nil),
        ])
        #expect(logins[0].isAtLimit && !logins[1].isAtLimit)
        let json = String(decoding: try JSONEncoder().encode(logins[1]), as: UTF8.self)
        #expect(json.contains(#""daily_limit":null"#), "no limit is an explicit null")
    }

    @Test func smtpCertificateIsWarnedAbout14DaysBeforeItEnds() async throws {
        let f = try Fixture()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let path = "/etc/letsencrypt/live/relay.example/fullchain.pem"
        func relayProblems(daysLeft: Double) async throws -> [ProblemCode] {
            let served = ServedCertificate(path: path, notValidAfter: now.addingTimeInterval(daysLeft * 86_400))
            return try await StatusReporter(store: f.store, certificate: { served }, clock: { now }).report().relayProblems.map(\.code)
        }
        #expect(try await relayProblems(daysLeft: 15) == [])
        #expect(try await relayProblems(daysLeft: 13.9) == [.smtpCertificateExpiring])
        #expect(try await relayProblems(daysLeft: -0.1) == [.smtpCertificateExpired])
        #expect(try await StatusReporter(store: f.store, clock: { now }).report().relayProblems.isEmpty, "no TLS, no warning")
        // The key is in the JSON (the /api/status contract only ever gains keys), and older reports still decode.
        let served = ServedCertificate(path: path, notValidAfter: now.addingTimeInterval(86_400))
        let report = try await StatusReporter(store: f.store, certificate: { served }, clock: { now }).report()
        let json = try StatusJSON.encode(report)
        #expect(json.contains("\"relay_problems\""))
        #expect(json.contains("smtp_certificate_expiring"))
        let old = try JSONDecoder().decode(StatusReport.self, from: Data(#"{"accounts":[],"queue":{"queued":0,"sending":0,"held":0,"failed":0,"sent_24h":0}}"#.utf8))
        #expect(old.relayProblems.isEmpty)
    }

    @Test func countsArePerAccount() async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        try await f.addAccount("blog")
        _ = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        _ = try await f.addMessage(account: "shop")
        _ = try await f.addMessage(account: "blog", status: .failed, problem: .messageRejected)
        let counts = try await f.store.messageCountsByAccount()
        #expect(counts["shop"] == AccountMessageCounts(queued: 1, held: 1, failed: 0))
        #expect(counts["blog"] == AccountMessageCounts(queued: 0, held: 0, failed: 1))
        let report = try await StatusReporter(store: f.store).report()
        #expect(report.queue.held == 1 && report.queue.queued == 1 && report.queue.failed == 1)
    }

    @Test func anAccountWithoutAGrantIsExplained() async throws {
        let f = try Fixture()
        try await f.addAccount("new", state: .needsReauth)
        let report = try await StatusReporter(store: f.store).report()
        #expect(report.accounts.first?.problem?.code == .grantMissing)
        #expect(report.accounts.first?.problem?.steps.first?.contains("gmail-relay reauth new") == true)
    }

    @Test func testingModeWarningIsDefiniteAfterAnEarlierExpiry() async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        try await f.block("shop", state: .needsReauth, code: .testingModeExpiry)
        try await f.store.updateAccount(AccountUpdate(
            name: "shop", secret: Data("new grant".utf8), consentedAt: Date().addingTimeInterval(-86_400), afterwards: .unchanged))
        try await f.recordSuccess("shop")
        let warning = try #require(try await StatusReporter(store: f.store).report().accounts.first?.warning)
        #expect(warning.level == "warning")
        #expect(warning.text.contains("last grant ended after 7 days"))
        #expect(abs(warning.expiresAt.timeIntervalSinceNow - 6 * 86_400) < 120)
    }

    @Test func jsonKeepsEveryContractKeyEvenWhenNull() async throws {
        let f = try Fixture()
        try await f.addAccount("box", kind: .sandbox)
        let text = try StatusJSON.encode(try await StatusReporter(store: f.store).report())
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let account = try #require((json["accounts"] as? [[String: Any]])?.first)
        #expect(Set(account.keys).isSuperset(of: ["name", "email", "kind", "state", "token_expires_at", "last_success_at", "problem"]))
        #expect(account["problem"] is NSNull)
        let queueKeys = (json["queue"] as? [String: Any]).map { Set($0.keys) } ?? []
        #expect(queueKeys.isSuperset(of: ["queued", "held", "failed", "sent_24h"]))
    }
}
