import Foundation
import HummingbirdTesting
import Logging
import NIOConcurrencyHelpers
import ProblemCatalogue
import RelayConfig
import RelayStatus
import RelayStore
import RelayVocabulary
import Testing
@testable import GmailRelayApp
@testable import StatusWeb

/// A clock the test moves; the store and the reporter both read it.
final class MovableClock: Sendable {
    private let current: NIOLockedValueBox<Date>
    init(_ start: Date) { current = NIOLockedValueBox(start) }
    var now: Date { current.withLockedValue { $0 } }
    func set(_ date: Date) { current.withLockedValue { $0 = date } }
    func advance(_ seconds: TimeInterval) { current.withLockedValue { $0 += seconds } }
}

/// Warnings before things break: an old service-account key, a Testing-mode grant about to end.
@Suite struct WarningTests {
    static let start = Date(timeIntervalSince1970: 1_780_000_000)
    static let day: TimeInterval = 86_400

    final class Store: @unchecked Sendable {
        let directory = NSTemporaryDirectory() + "warnings-" + UUID().uuidString
        let clock = MovableClock(WarningTests.start)
        let store: RelayStore
        init() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let clock = self.clock
            store = try RelayStore.open(dataDirectory: directory + "/data", options: .init(passwordHashing: .testing, clock: { clock.now }))
        }
        deinit {
            try? store.close()
            try? FileManager.default.removeItem(atPath: directory)
        }
        var reporter: StatusReporter {
            let clock = self.clock
            return StatusReporter(store: store, subject: { _ in "boss@corp.example" }, clock: { clock.now })
        }
    }

    @Test func aServiceAccountKeyWarnsAfter90DaysFromWhenTheRelayStoredIt() async throws {
        let s = try Store()
        try await s.store.addAccount(name: "corp", kind: .serviceAccount, fromAddresses: ["boss@corp.example"],
                                     secret: Data("{\"type\":\"service_account\"}".utf8), state: .ok)
        s.clock.advance(90 * Self.day)
        #expect(try await s.reporter.report().accounts[0].warnings.isEmpty, "exactly 90 days: not yet")
        s.clock.advance(60)
        let report = try await s.reporter.report()
        let warning = try #require(report.accounts[0].warnings.first)
        #expect(report.accounts[0].warnings.count == 1)
        #expect(warning.code == ProblemCode.serviceAccountKeyOld)
        #expect(warning.disposition == .unaffected)
        #expect(report.accounts[0].problem == nil && report.accounts[0].state == .ok, "mail still flows")
        #expect(warning.explanation.contains("The relay stored this key on 2026-05-28"), "\(warning.explanation)")
        #expect(warning.explanation.contains("carries no creation date"))
        #expect(warning.steps.contains { $0.contains("gmail-relay account update corp --service-account NEW-KEY.json --subject boss@corp.example") })

        // A new key resets the age.
        _ = try await s.store.updateAccount(AccountUpdate(name: "corp", secret: Data("{\"type\":\"service_account\",\"new\":1}".utf8), afterwards: .readyToSend))
        #expect(try await s.reporter.report().accounts[0].warnings.isEmpty)

        // `gmail-relay status` and /api/status carry it too.
        s.clock.advance(91 * Self.day)
        let text = StatusCommand.text(try await s.reporter.report())
        #expect(text.contains("warning: service_account_key_old: Service account key older than 90 days (mail unaffected)"))
        let json = try StatusJSON.encode(try await s.reporter.report())
        #expect(json.contains("\"warnings\" : [") && json.contains("\"code\" : \"service_account_key_old\""))
    }

    @Test func aGrantAfterATestingModeExpiryWarnsFromDayFiveUntilItEnds() async throws {
        let s = try Store()
        try await s.store.addAccount(name: "shop", kind: .oauthUser, fromAddresses: ["owner@shop.example"], secret: Data("grant".utf8), state: .ok)
        try await s.store.addAccount(name: "blog", kind: .oauthUser, fromAddresses: ["me@blog.example"], secret: Data("grant".utf8), state: .ok)
        // shop's first grant ended the Testing-mode way; it is granted again an hour later.
        s.clock.advance(7 * Self.day)
        try await s.store.setAccountState(name: "shop", state: .needsReauth, problemCode: .testingModeExpiry, detail: nil)
        s.clock.advance(3600)
        let consent = s.clock.now
        _ = try await s.store.recordReauthorization(name: "shop", secret: Data("grant 2".utf8), consentedAt: consent, address: nil)
        _ = try await s.store.recordReauthorization(name: "blog", secret: Data("grant 2".utf8), consentedAt: consent, address: nil)

        func codes(_ name: String) async throws -> [ProblemCode] {
            try await s.reporter.report().accounts.first { $0.name == name }!.warnings.map(\.code)
        }
        s.clock.set(consent.addingTimeInterval(5 * Self.day - 60))
        #expect(try await codes("shop").isEmpty, "day 4")
        s.clock.set(consent.addingTimeInterval(5 * Self.day))
        #expect(try await codes("shop") == [ProblemCode.grantTestingExpirySoon], "day 5")
        #expect(try await codes("blog").isEmpty, "never seen to lose a grant: only the note of `warning`, no problem code")
        let report = try await s.reporter.report()
        let warning = try #require(report.accounts.first { $0.name == "shop" }?.warnings.first)
        #expect(warning.explanation.contains("in Testing mode it ends on 2026-06-11 21:26 UTC (in 2.0 days)"), "\(warning.explanation)")
        #expect(warning.steps.contains { $0.contains("gmail-relay reauth shop") })
        #expect(warning.steps.first?.contains("Publish app") == true)
        s.clock.set(consent.addingTimeInterval(7 * Self.day))
        #expect(try await codes("shop").isEmpty, "ended: the grant's own problem takes over when Google refuses it")
    }

    @Test func theStatusPageShowsWarningsWithTheirSteps() async throws {
        let s = try Store()
        try await s.store.addAccount(name: "corp", kind: .serviceAccount, fromAddresses: ["boss@corp.example"],
                                     secret: Data("{}".utf8), state: .ok)
        s.clock.advance(100 * Self.day)
        var logger = Logger(label: "warning-test")
        logger.logLevel = .critical
        let clock = s.clock
        let server = try StatusWebServer(
            reporter: s.reporter, security: try WebSecurity(listen: SocketAddressSpec(host: "127.0.0.1", port: 0), adminToken: nil),
            metrics: { "" }, clock: { clock.now }, logger: logger)
        try await server.application(listen: SocketAddressSpec(host: "127.0.0.1", port: 0)).test(.router) { client in
            let page = try await client.execute(uri: "/", method: .get).text
            #expect(page.contains("<div class=\"account-warning\">"))
            #expect(page.contains("Service account key older than 90 days <code class=\"code\">service_account_key_old</code>"))
            #expect(page.contains("Mail is accepted and sent as usual for now; act before it stops."))
        }
    }
}
