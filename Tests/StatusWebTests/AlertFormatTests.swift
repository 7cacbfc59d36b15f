import AccountAlerts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import RelayConfig
import RelayStatus
import RelayStore
import RelayVocabulary
import StatusWeb
import Testing
@testable import ProblemCatalogue

/// The webhook formats byte for byte, the reminder timing with an injected clock, the alert email and
/// the page's test button.
@Suite struct AlertFormats {
    static let at = ISO8601.date("2026-12-02T07:10:00Z")!
    static let page = URL(string: "https://relay.example.com/")!
    static let held = "Mail for this account is held (accepted and kept, not sent) until this is fixed; nothing is lost."

    static func alert(_ event: AlertEvent? = nil, to: AccountState = .needsReauth, title: String = "Authorization expired or revoked") -> AccountStateAlert {
        let problem = to == .ok ? nil : Explanation(
            code: .grantRevoked, title: title, explanation: "Google refused the refresh token.", causes: ["The user removed access."],
            steps: ["Open the status page.", "Run `gmail-relay reauth shop` and sign in as owner@shop.example."], disposition: .held)
        return AccountStateAlert(event: event, account: "shop", email: "owner@shop.example", kind: .oauthUser,
                                 fromState: to == .ok ? .needsReauth : .ok, toState: to, problem: problem, at: at)
    }

    static func text(_ request: WebhookRequest) -> String { String(decoding: request.body, as: UTF8.self) }

    @Test func theTextSaysWhatHappenedAndWhatToRun() {
        let text = AlertText(Self.alert(), statusPage: Self.page)
        #expect(text.title == "gmail-relay: shop needs reauthorization")
        #expect(text.lines == [
            "Account shop (owner@shop.example): ok → needs reauthorization",
            "Problem: Authorization expired or revoked",
            Self.held,
            "Run: gmail-relay reauth shop",
            "Status page: https://relay.example.com/#account-shop",
            "At: 2026-12-02T07:10:00Z",
        ])
        let resolved = AlertText(Self.alert(to: .ok), statusPage: nil)
        #expect(resolved.title == "gmail-relay: shop is ok again")
        #expect(resolved.lines == ["Account shop (owner@shop.example): needs reauthorization → ok", "Mail for this account goes out again.", "At: 2026-12-02T07:10:00Z"])
        #expect(resolved.link == nil && resolved.command == nil)
        #expect(AlertText(Self.alert(.reminder), statusPage: nil).title == "gmail-relay: shop still needs reauthorization")
    }

    @Test func jsonIsTheAlertDocument() throws {
        let request = try WebhookFormatter.request(Self.alert(), format: .json, statusPage: Self.page)
        #expect(request.contentType == "application/json" && request.headers.isEmpty)
        let object = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        #expect(object["event"] as? String == "state_change")
        #expect(object["from_state"] as? String == "ok" && object["to_state"] as? String == "needs_reauth")
        #expect((object["problem"] as? [String: Any])?["code"] as? String == "grant_revoked")
        #expect(try JSONDecoder().decode(AccountStateAlert.self, from: request.body) == Self.alert())
        let back = try WebhookFormatter.request(Self.alert(to: .ok), format: .json, statusPage: nil)
        #expect((try JSONSerialization.jsonObject(with: back.body) as? [String: Any])?["event"] as? String == "resolved")
    }

    @Test func slackIsTextWithItsThreeControlCharactersEscaped() throws {
        let request = try WebhookFormatter.request(Self.alert(title: "Token <revoked> & \"gone\""), format: .slack, statusPage: Self.page)
        #expect(request.contentType == "application/json" && request.headers.isEmpty)
        #expect(Self.text(request) == #"{"text":"gmail-relay: shop needs reauthorization\nAccount shop (owner@shop.example): ok → needs reauthorization\nProblem: Token &lt;revoked&gt; &amp; \"gone\"\n"#
            + Self.held + #"\nRun: gmail-relay reauth shop\nStatus page: https://relay.example.com/#account-shop\nAt: 2026-12-02T07:10:00Z"}"#)
    }

    @Test func discordIsContentCappedAt2000WithoutMentions() throws {
        let request = try WebhookFormatter.request(Self.alert(to: .ok), format: .discord, statusPage: nil)
        #expect(Self.text(request) == #"{"allowed_mentions":{"parse":[]},"content":"gmail-relay: shop is ok again\nAccount shop (owner@shop.example): needs reauthorization → ok\nMail for this account goes out again.\nAt: 2026-12-02T07:10:00Z"}"#)
        let long = try WebhookFormatter.request(Self.alert(title: "@everyone " + String(repeating: "é", count: 3000)), format: .discord, statusPage: nil)
        let content = try #require((try JSONSerialization.jsonObject(with: long.body) as? [String: Any])?["content"] as? String)
        #expect(content.unicodeScalars.count == 2000)
        #expect(content.hasSuffix("…") && content.contains("@everyone"))
    }

    @Test func teamsIsAMessageCard() throws {
        let request = try WebhookFormatter.request(Self.alert(), format: .teams, statusPage: Self.page)
        let card = try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
        #expect(card["@type"] as? String == "MessageCard")
        #expect(card["@context"] as? String == "https://schema.org/extensions")
        #expect(card["summary"] as? String == "gmail-relay: shop needs reauthorization")
        #expect(card["title"] as? String == "gmail-relay: shop needs reauthorization")
        #expect(card["themeColor"] as? String == "D13438")
        #expect((card["text"] as? String)?.contains("Run: gmail-relay reauth shop\n\nStatus page:") == true)
        let facts = try #require(((card["sections"] as? [[String: Any]])?.first?["facts"]) as? [[String: String]])
        #expect(facts == [
            ["name": "Account", "value": "shop"], ["name": "State", "value": "ok → needs reauthorization"],
            ["name": "Problem", "value": "Authorization expired or revoked"], ["name": "Run", "value": "gmail-relay reauth shop"],
        ])
        let action = try #require((card["potentialAction"] as? [[String: Any]])?.first)
        #expect(action["@type"] as? String == "OpenUri")
        #expect((action["targets"] as? [[String: String]]) == [["os": "default", "uri": "https://relay.example.com/#account-shop"]])
        let resolved = try WebhookFormatter.request(Self.alert(to: .ok), format: .teams, statusPage: nil)
        let green = try #require(try JSONSerialization.jsonObject(with: resolved.body) as? [String: Any])
        #expect(green["themeColor"] as? String == "2EB886" && green["potentialAction"] == nil)
    }

    @Test func ntfyIsPlainTextWithHeaders() throws {
        let request = try WebhookFormatter.request(Self.alert(), format: .ntfy, statusPage: Self.page)
        #expect(request.contentType == "text/plain; charset=utf-8")
        #expect(request.headers == [
            "Title": "gmail-relay: shop needs reauthorization", "Priority": "high", "Tags": "warning,gmail-relay",
            "Click": "https://relay.example.com/#account-shop",
        ])
        #expect(Self.text(request) == AlertText(Self.alert(), statusPage: Self.page).body)
        #expect(!Self.text(request).contains("gmail-relay: shop needs"), "the title is a header, not repeated in the body")
        let resolved = try WebhookFormatter.request(Self.alert(to: .ok), format: .ntfy, statusPage: nil)
        #expect(resolved.headers == ["Title": "gmail-relay: shop is ok again", "Priority": "default", "Tags": "white_check_mark,gmail-relay"])
        // Not ASCII, or a line break: an RFC 2047 encoded word, never a raw byte or a second header line.
        #expect(WebhookFormatter.headerValue("Bücher\r\nX-Evil: 1") == "=?UTF-8?B?" + Data("Bücher  X-Evil: 1".utf8).base64EncodedString() + "?=")
        #expect(WebhookFormatter.headerValue("a\nb") == "a b")
    }

    @Test func testAlertsNameNoAccount() throws {
        let test = AccountStateAlert(event: .test, account: "", email: nil, kind: nil, fromState: .ok, toState: .ok, problem: nil, at: Self.at)
        let text = AlertText(test, statusPage: Self.page)
        #expect(text.title == "gmail-relay: test alert")
        #expect(text.lines == ["This is a test alert from gmail-relay: alerts reach this place.", "Status page: https://relay.example.com/", "At: 2026-12-02T07:10:00Z"])
    }

    // MARK: Reminders

    @Test func remindersComeEveryIntervalWhileTheProblemLasts() async throws {
        let f = try Fixture()
        let shop = try await f.addAccount("shop")
        func account(_ state: AccountState) -> Account {
            var changed = shop
            changed.state = state
            return changed
        }
        let t0 = Self.at
        var schedule = ReminderSchedule(remindHours: 24)
        #expect(schedule.due([account(.needsReauth)], changed: ["shop"], now: t0).isEmpty, "the change itself was alerted")
        #expect(schedule.due([account(.needsReauth)], changed: [], now: t0 + 24 * 3600 - 1).isEmpty)
        #expect(schedule.due([account(.needsReauth)], changed: [], now: t0 + 24 * 3600).map(\.name) == ["shop"])
        #expect(schedule.due([account(.needsReauth)], changed: [], now: t0 + 24 * 3600 + 60).isEmpty, "counted from the reminder")
        #expect(schedule.due([account(.needsReauth)], changed: [], now: t0 + 48 * 3600).map(\.name) == ["shop"])
        // Fixed: the count ends; a new problem counts from its own alert.
        #expect(schedule.due([account(.ok)], changed: ["shop"], now: t0 + 50 * 3600).isEmpty)
        #expect(schedule.due([account(.blocked)], changed: ["shop"], now: t0 + 51 * 3600).isEmpty)
        #expect(schedule.due([account(.blocked)], changed: [], now: t0 + 74 * 3600).isEmpty)
        #expect(schedule.due([account(.blocked)], changed: [], now: t0 + 75 * 3600).count == 1)
        // A problem seen at the first reading counts from then; 0 means never.
        var fresh = ReminderSchedule(remindHours: 1)
        #expect(fresh.due([account(.blocked)], changed: [], now: t0).isEmpty)
        #expect(fresh.due([account(.blocked)], changed: [], now: t0 + 3600).count == 1)
        var never = ReminderSchedule(remindHours: 0)
        #expect(never.due([account(.blocked)], changed: ["shop"], now: t0).isEmpty)
        #expect(never.due([account(.blocked)], changed: [], now: t0 + 1_000_000 * 3600).isEmpty)
    }

    /// The watcher with a clock the test moves: a reminder after remind_hours, then "resolved".
    @Test func theWatcherRemindsOnItsClock() async throws {
        let f = try Fixture()
        try await f.addAccount("shop", address: "owner@shop.example")
        let receiver = WebhookReceiver()
        try await receiver.start()
        defer { receiver.stop() }
        let now = ManualClock(Self.at)
        var logger = Logger(label: "alerts-test")
        logger.logLevel = .critical
        let (baseline, taken) = AsyncStream.makeStream(of: Void.self)
        let dispatcher = AlertDispatcher(
            settings: AlertSettings(webhook: receiver.url, format: .json, remindHours: 2),
            retry: AlertRetryPolicy(attempts: 2, firstDelay: .milliseconds(20), maximumDelay: .milliseconds(20)), logger: logger)
        let watcher = AccountStateWatcher(
            reporter: StatusReporter(store: f.store), dispatcher: dispatcher, interval: .milliseconds(30), clock: { now.value },
            logger: logger, baselineTaken: { taken.yield(); taken.finish() })
        let running = Task { try await watcher.run() }
        defer { running.cancel() }
        for await _ in baseline { break }
        try await f.block("shop", state: .needsReauth, code: .grantRevoked)
        _ = try await receiver.wait(for: 1)
        now.advance(by: 2 * 3600 - 10)
        try await Task.sleep(for: .milliseconds(200))
        #expect(receiver.received.count == 1, "not due yet")
        now.advance(by: 10)
        let bodies = try await receiver.wait(for: 2)
        try #require(bodies.count == 2)
        let reminder = try #require(try JSONSerialization.jsonObject(with: bodies[1]) as? [String: Any])
        #expect(reminder["event"] as? String == "reminder")
        #expect(reminder["from_state"] as? String == "needs_reauth" && reminder["to_state"] as? String == "needs_reauth")
        #expect(reminder["at"] as? String == "2026-12-02T09:10:00Z")
        try await Task.sleep(for: .milliseconds(200))
        #expect(receiver.received.count == 2, "one reminder per interval, not one per reading")
        try await f.recordSuccess("shop")
        let all = try await receiver.wait(for: 3)
        let last = try #require(all.last)
        let resolved = try #require(try JSONSerialization.jsonObject(with: last) as? [String: Any])
        #expect(resolved["event"] as? String == "resolved")
    }

    // MARK: Email

    @Test func theEmailGoesThroughAHealthyAccountOnly() async throws {
        let f = try Fixture()
        try await f.addAccount("shop", address: "owner@shop.example")
        try await f.addAccount("play", kind: .sandbox)
        let mailer = AlertMailer(store: f.store, recipients: ["ops@example.com"], hostname: "relay.test")
        try await f.block("shop", state: .needsReauth, code: .grantRevoked)
        // The broken account and a sandbox cannot carry it.
        #expect(try await mailer.send(Self.alert(), statusPage: nil) == .noHealthyAccount)
        try await f.addAccount("blog", address: "blog@example.org")
        guard case .queued(let id, let account) = try await mailer.send(Self.alert(), statusPage: Self.page) else {
            Issue.record("not queued")
            return
        }
        #expect(account == "blog")
        let record = try #require(try await f.store.message(id: id))
        #expect(record.account == "blog" && record.status == .queued && record.recipients == ["ops@example.com"])
        #expect(record.subject == "gmail-relay: shop needs reauthorization")
        let bytes = try #require(try await f.store.inlineBody(messageID: id))
        let message = String(decoding: bytes, as: UTF8.self)
        #expect(message.hasPrefix("From: gmail-relay <blog@example.org>\r\nTo: ops@example.com\r\nSubject: gmail-relay: shop needs reauthorization\r\n"))
        #expect(message.contains("\r\nAuto-Submitted: auto-generated\r\n"))
        #expect(message.contains("\r\n\r\nAccount shop (owner@shop.example): ok → needs reauthorization\r\n"))
        #expect(message.contains("Run: gmail-relay reauth shop\r\n"))
    }

    // MARK: The page's button

    @Test(arguments: Setup.allCases)
    func theTestButtonNeedsTheAdminAndTheCSRFToken(setup: Setup) async throws {
        let f = try Fixture()
        let receiver = WebhookReceiver()
        try await receiver.start()
        defer { receiver.stop() }
        var logger = Logger(label: "alerts-test")
        logger.logLevel = .critical
        let dispatcher = AlertDispatcher(settings: AlertSettings(webhook: receiver.url, format: .slack), logger: logger)
        let controls = AlertControls(destinations: ["a Slack-compatible webhook"], lastProblem: { "no healthy account <b>" }, sendTest: {
            let result = await dispatcher.test(at: Date())
            return (result.delivered, result.lines)
        })
        let token = Hardening.token, readToken = Hardening.readToken
        let server = try StatusWebServer(
            reporter: StatusReporter(store: f.store), security: try WebSecurity(listen: SocketAddressSpec(host: "127.0.0.1", port: 0), adminToken: token, readToken: readToken),
            metrics: { "" }, logger: logger, alerts: controls)
        try await server.application(listen: SocketAddressSpec(host: "127.0.0.1", port: 0)).test(setup.testing) { client in
            func signIn(_ secret: String) async throws -> String {
                let login = try await client.execute(uri: "/login", method: .get)
                let csrf = try #require(csrfToken(in: login.text))
                let response = try await client.execute(uri: "/login", method: .post, headers: formHeaders, body: form(["token": secret, "csrf": csrf]))
                return String(try #require(response.setCookie).prefix { $0 != ";" })
            }
            let admin = try await signIn(token)
            let overview = try await client.execute(uri: "/", method: .get, headers: headers([("Cookie", admin)])).text
            #expect(overview.contains("Alerts go to: a Slack-compatible webhook."))
            #expect(overview.contains("no healthy account &lt;b&gt;"))
            #expect(overview.contains("action=\"/alerts/test\""))
            let csrf = try #require(csrfToken(in: overview))
            var adminForm = formHeaders
            adminForm[.cookie] = admin
            #expect(try await client.execute(uri: "/alerts/test", method: .post, headers: adminForm, body: form([:])).status == .forbidden)
            #expect(receiver.received.isEmpty)

            // A reader sees the panel without the button, and a POST is refused.
            let reader = try await signIn(readToken)
            let readerPage = try await client.execute(uri: "/", method: .get, headers: headers([("Cookie", reader)])).text
            #expect(readerPage.contains("Alerts go to:") && !readerPage.contains("action=\"/alerts/test\""))
            var readerForm = formHeaders
            readerForm[.cookie] = reader
            let readerCSRF = try #require(csrfToken(in: readerPage))
            #expect(try await client.execute(uri: "/alerts/test", method: .post, headers: readerForm, body: form(["csrf": readerCSRF])).status == .forbidden)
            #expect(try await client.execute(uri: "/alerts/test", method: .post, headers: headers([("Authorization", "Bearer \(readToken)")])).status == .forbidden)
            #expect(receiver.received.isEmpty)

            let sent = try await client.execute(uri: "/alerts/test", method: .post, headers: adminForm, body: form(["csrf": csrf]))
            #expect(sent.status == .ok)
            #expect(sent.text.contains("webhook (slack): delivered, HTTP 204"))
            let bodies = try await receiver.wait(for: 1)
            let first = try #require(bodies.first)
            let body = try #require(try JSONSerialization.jsonObject(with: first) as? [String: String])
            #expect(body["text"]?.hasPrefix("gmail-relay: test alert\n") == true)
        }
    }

    @Test func aRefusedTestShowsTheStatusAndBody() async throws {
        let receiver = WebhookReceiver(failFirst: 0, status: .badRequest, answer: "invalid_payload")
        try await receiver.start()
        defer { receiver.stop() }
        var logger = Logger(label: "alerts-test")
        logger.logLevel = .critical
        let dispatcher = AlertDispatcher(settings: AlertSettings(webhook: receiver.url, format: .discord), logger: logger)
        let result = await dispatcher.test(at: Date())
        #expect(!result.delivered)
        #expect(result.lines == ["webhook (discord): refused, HTTP 400: invalid_payload"])
        #expect(receiver.received.count == 1, "a test is one try")
    }
}

/// A clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var now: Date
    init(_ start: Date) { now = start }
    var value: Date { lock.withLock { now } }
    func advance(by seconds: TimeInterval) { lock.withLock { now += seconds } }
}
