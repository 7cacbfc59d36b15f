import BuildInfo
import Foundation
import GmailAPI
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ProblemCatalogue
import RelayConfig
import RelayStatus
import RelayStore
import RelayVocabulary
import Testing
import Crypto
import Delivery
@testable import StatusWeb

/// Every page and API route, against the router and against a live server, over a real SQLite store.
@Suite struct PageRoutes {
    @Test(arguments: Setup.allCases)
    func overviewShowsEveryAccountWithItsProblemAndSteps(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop", address: "owner@shop.example")
        try await f.addAccount("blog", kind: .sandbox, address: "blog@example.com")
        try await f.block("shop", state: .needsReauth, code: .grantRevoked,
                          detail: ProblemDetail(googleMessage: "Token has been expired or revoked.", reason: "invalid_grant", httpStatus: 400, bodyFormat: .oauthError, rawBody: "{}"))
        _ = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        _ = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        _ = try await f.addMessage(account: "blog")
        try await f.app().test(setup.testing) { client in
            let response = try await client.execute(uri: "/", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            let page = response.text
            #expect(page.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))
            #expect(page.contains("<h2>shop <span class=\"badge badge-needs_reauth\">needs reauthorization</span></h2>"))
            #expect(page.contains("owner@shop.example"))
            #expect(page.contains("Authorization expired or revoked"))
            #expect(page.contains("<code>gmail-relay reauth shop</code>"))
            #expect(page.contains("“Token has been expired or revoked.”"))
            #expect(page.contains("2 held"))
            #expect(page.contains("<strong>1</strong> queued"))
            #expect(page.contains("<h2>blog <span class=\"badge badge-ok\">ok</span></h2>"))
            #expect(page.contains("<footer>gmail-relay \(RelayVersion.version) · page made"))
            #expect(!page.contains("<script"))
            #expect(response.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
        }
    }

    @Test func overviewWarnsBeforeTheSMTPCertificateEnds() async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let served = ServedCertificate(path: "/etc/ssl/relay.pem", notValidAfter: Date().addingTimeInterval(5 * 86_400))
        try await f.server(certificate: served).application(listen: SocketAddressSpec(host: "127.0.0.1", port: 0)).test(.router) { client in
            let page = try await client.execute(uri: "/", method: .get).text
            #expect(page.contains("<article class=\"relay-problem\">"))
            #expect(page.contains("SMTP certificate expires soon"))
            #expect(page.contains("/etc/ssl/relay.pem"))
            #expect(page.contains("<code>certbot renew</code>"))
        }
        try await f.app().test(.router) { client in
            let page = try await client.execute(uri: "/", method: .get).text
            #expect(!page.contains("relay-problem\">"), "no certificate, no warning")
        }
    }

    @Test func overviewWarnsBeforeATestingModeGrantEnds() async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        try await f.store.updateAccount(AccountUpdate(
            name: "shop", secret: Data("grant".utf8), consentedAt: Date().addingTimeInterval(-6 * 86_400), afterwards: .unchanged))
        try await f.app().test(.router) { client in
            let page = try await client.execute(uri: "/", method: .get).text
            #expect(page.contains("<p class=\"warning\">If this account&#39;s OAuth app is in Testing mode, Google ends this grant on"))
            #expect(page.contains("`gmail-relay reauth shop`") || page.contains("gmail-relay reauth shop"))
        }
    }

    @Test func everyProblemCodeIsRenderedWithItsSteps() async throws {
        let f = try Fixture()
        let codes = ProblemCode.allCases.filter { $0.origin != .server && $0.origin != .warning }
        for (index, code) in codes.enumerated() {
            try await f.addAccount("acct\(index)", kind: code.rawValue.hasPrefix("sa_") ? .serviceAccount : .oauthUser)
            try await f.block("acct\(index)", code: code)
        }
        try await f.app().test(.router) { client in
            let page = try await client.execute(uri: "/", method: .get).text
            for (index, code) in codes.enumerated() {
                let entry = try #require(ProblemCatalogue.entry(for: code))
                let explained = entry.explain(ProblemContext(
                    accountName: "acct\(index)", accountKind: code.rawValue.hasPrefix("sa_") ? .serviceAccount : .oauthUser,
                    address: "acct\(index)@example.com", now: Date()))
                #expect(page.contains("<code class=\"code\">\(code)</code>"), "\(code) not on the page")
                #expect(page.contains(HTMLText.escape(entry.title)), "\(code): title missing")
                for step in explained.steps {
                    #expect(page.contains("<li>\(HTMLText.rich(step))</li>"), "\(code): step missing: \(step)")
                }
            }
        }
    }

    @Test(arguments: Setup.allCases)
    func messageListFiltersAndPages(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        try await f.addAccount("blog")
        for index in 0..<55 { _ = try await f.addMessage(account: "shop", subject: "Order \(index)") }
        let held = try await f.addMessage(account: "blog", subject: "Password reset", status: .held, problem: .grantRevoked)
        _ = try await f.addMessage(account: "blog", subject: "Tagged", to: ["a+tag@example.com"])
        try await f.app().test(setup.testing) { client in
            let plus = try await client.execute(uri: "/messages?q=a%2Btag", method: .get).text
            #expect(plus.contains(">Tagged<"))
            let first = try await client.execute(uri: "/messages", method: .get).text
            #expect(first.contains("Password reset"))
            #expect(first.contains("href=\"/messages?page=2\""))
            #expect(!first.contains("Order 0<"))
            let second = try await client.execute(uri: "/messages?page=2", method: .get).text
            #expect(second.contains(">Order 0<"))
            #expect(second.contains("← Newer"))
            let filtered = try await client.execute(uri: "/messages?status=held&account=blog", method: .get).text
            #expect(filtered.contains("href=\"/messages/\(held)\""))
            #expect(!filtered.contains("Order"))
            #expect(filtered.contains("<option value=\"held\" selected>"))
            let searched = try await client.execute(uri: "/messages?q=order+54", method: .get).text
            #expect(searched.contains(">Order 54<"))
            #expect(!searched.contains(">Order 53<"))
        }
    }

    @Test(arguments: Setup.allCases)
    func messagePageShowsEnvelopeHeadersAttemptsAndExplanation(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let id = try await f.addMessage(account: "shop", subject: "Invoice 7", to: ["bob@example.net"], status: .failed, problem: .messageRejected,
                                    headers: "From: shop@example.com\r\nTo: bob@example.net\r\nBcc: carol@example.net\r\n",
                                    attempt: .init(status: 400, body: #"{"error":{"code":400,"message":"Invalid To header","errors":[{"message":"Invalid To header","domain":"global","reason":"invalidArgument"}],"status":"INVALID_ARGUMENT"}}"#))
        try await f.app().test(setup.testing) { client in
            let response = try await client.execute(uri: "/messages/\(id)", method: .get)
            #expect(response.status == .ok)
            let page = response.text
            #expect(page.contains("Invoice 7"))
            #expect(page.contains("bob@example.net"))
            #expect(page.contains("Bcc: carol@example.net"))
            // Pretty-printed in Google's key order.
            #expect(page.contains("{\n  &quot;error&quot;: {\n    &quot;code&quot;: 400,\n    &quot;message&quot;: &quot;Invalid To header&quot;,"))
            #expect(page.contains("Gmail refused the message"))
            #expect(page.contains("Gmail&#39;s own words: “Invalid To header”"))
            #expect(page.contains("<code>gmail-relay log show \(id)</code>"))
            #expect(page.contains("action=\"/messages/\(id)/retry\""))
            #expect(page.contains("action=\"/messages/\(id)/discard\""))
            #expect(csrfToken(in: page) != nil)
            let missing = try await client.execute(uri: "/messages/999999", method: .get)
            #expect(missing.status == .notFound)
        }
    }

    @Test(arguments: Setup.allCases)
    func retryAndDiscardButtonsNeedTheCSRFToken(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let id = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        try await f.app().test(setup.testing) { client in
            let page = try await client.execute(uri: "/messages/\(id)", method: .get).text
            let token = try #require(csrfToken(in: page))
            let refused = try await client.execute(uri: "/messages/\(id)/retry", method: .post, headers: formHeaders, body: form([:]))
            #expect(refused.status == .forbidden)
            let forged = try await client.execute(uri: "/messages/\(id)/retry", method: .post, headers: formHeaders, body: form(["csrf": (token.first == "0" ? "1" : "0") + token.dropFirst()]))
            #expect(forged.status == .forbidden)
            #expect(try await f.store.message(id: id)?.status == .held)

            let retried = try await client.execute(uri: "/messages/\(id)/retry", method: .post, headers: formHeaders, body: form(["csrf": token]))
            #expect(retried.status == .seeOther)
            #expect(retried.headers[.location] == "/messages/\(id)?done=retry")
            #expect(try await f.store.message(id: id)?.status == .queued)
            let after = try await client.execute(uri: "/messages/\(id)?done=retry", method: .get).text
            #expect(after.contains("Retry requested"))

            let discarded = try await client.execute(uri: "/messages/\(id)/discard", method: .post, headers: formHeaders, body: form(["csrf": token]))
            #expect(discarded.status == .seeOther)
            #expect(try await f.store.message(id: id)?.status == .discarded)
            let again = try await client.execute(uri: "/messages/\(id)/discard", method: .post, headers: formHeaders, body: form(["csrf": token]))
            #expect(again.headers[.location] == "/messages/\(id)?refused=discard")
        }
    }

    @Test(arguments: Setup.allCases)
    func everythingFromAMessageOrGoogleIsEscaped(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        try await f.block("shop", code: .permissionDenied,
                          detail: ProblemDetail(googleMessage: "<b onmouseover=alert(2)>denied</b>", reason: "forbidden", httpStatus: 403, bodyFormat: .googleError, rawBody: ""))
        let id = try await f.addMessage(account: "shop", subject: "<script>alert(1)</script>", to: ["\"<img src=x onerror=alert(3)>\"@example.com"],
                                        status: .held, problem: .permissionDenied, attempt: .init(status: 403, body: "<html><script>alert(4)</script></html>"))
        try await f.app().test(setup.testing) { client in
            for uri in ["/", "/messages", "/messages/\(id)"] {
                let page = try await client.execute(uri: uri, method: .get).text
                #expect(!page.contains("<script"), "\(uri) has a script tag")
                #expect(!page.contains("<img"), "\(uri) has an img tag")
                #expect(!page.contains("<b "), "\(uri) has Google's markup")
            }
            let message = try await client.execute(uri: "/messages/\(id)", method: .get).text
            #expect(message.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(message.contains("&lt;html&gt;&lt;script&gt;alert(4)&lt;/script&gt;&lt;/html&gt;"))
            let overview = try await client.execute(uri: "/", method: .get).text
            #expect(overview.contains("&lt;b onmouseover=alert(2)&gt;denied&lt;/b&gt;"))
        }
    }
}

@Suite struct APIRoutes {
    @Test(arguments: Setup.allCases)
    func statusHasTheContractShape(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop", address: "owner@shop.example")
        try await f.block("shop", code: .apiDisabled, detail: ProblemDetail(
            reason: "accessNotConfigured", activationURL: URL(string: "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640"),
            httpStatus: 403, bodyFormat: .googleError, rawBody: "{}"))
        _ = try await f.addMessage(account: "shop", status: .held, problem: .apiDisabled)
        try await f.app().test(setup.testing) { client in
            let response = try await client.execute(uri: "/api/status", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            let json = try #require(try response.json() as? [String: Any])
            let accounts = try #require(json["accounts"] as? [[String: Any]])
            let account = try #require(accounts.first)
            for key in ["name", "email", "kind", "state", "token_expires_at", "last_success_at", "problem"] {
                #expect(account.keys.contains(key), "missing \(key)")
            }
            #expect(account["name"] as? String == "shop")
            #expect(account["email"] as? String == "owner@shop.example")
            #expect(account["kind"] as? String == "oauth_user")
            #expect(account["state"] as? String == "blocked")
            #expect(account["token_expires_at"] is NSNull)
            let problem = try #require(account["problem"] as? [String: Any])
            #expect(problem["code"] as? String == "api_disabled")
            #expect(problem["title"] as? String == "Gmail API disabled in the Cloud project")
            #expect((problem["explanation"] as? String)?.isEmpty == false)
            let steps = try #require(problem["steps"] as? [String])
            #expect(steps.first?.contains("https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640") == true)
            let queue = try #require(json["queue"] as? [String: Int])
            #expect(queue["held"] == 1 && queue["queued"] == 0 && queue["failed"] == 0 && queue["sent_24h"] == 0)
        }
    }

    @Test(arguments: Setup.allCases)
    func messagesListFiltersAndRefusesBadInput(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let held = try await f.addMessage(account: "shop", subject: "Held one", status: .held, problem: .grantRevoked)
        _ = try await f.addMessage(account: "shop", subject: "Queued one")
        try await f.app().test(setup.testing) { client in
            let all = try #require(try await client.execute(uri: "/api/messages", method: .get).json() as? [[String: Any]])
            #expect(all.count == 2)
            let filtered = try #require(try await client.execute(uri: "/api/messages?status=held&account=shop&limit=5", method: .get).json() as? [[String: Any]])
            #expect(filtered.map { $0["id"] as? Int } == [Int(held)])
            #expect(filtered.first?["problem"] as? String == "grant_revoked")
            let bad = try await client.execute(uri: "/api/messages?status=lost", method: .get)
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("status must be one of"))
            #expect(try await client.execute(uri: "/api/messages?limit=0", method: .get).status == .badRequest)
        }
    }

    @Test(arguments: Setup.allCases)
    func messageDocumentHasAttemptsAndExplanation(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let id = try await f.addMessage(account: "shop", status: .failed, problem: .messageRejected,
                                    attempt: .init(status: 400, body: #"{"error":{"code":400,"message":"Recipient address required","errors":[{"domain":"global","message":"Recipient address required","reason":"invalidArgument"}],"status":"INVALID_ARGUMENT"}}"#))
        try await f.app().test(setup.testing) { client in
            let json = try #require(try await client.execute(uri: "/api/messages/\(id)", method: .get).json() as? [String: Any])
            #expect(json["id"] as? Int == Int(id))
            let attempts = try #require(json["attempts"] as? [[String: Any]])
            #expect(attempts.first?["http_status"] as? Int == 400)
            #expect((attempts.first?["response_body"] as? String)?.contains("Recipient address required") == true)
            let explanation = try #require(json["explanation"] as? [String: Any])
            #expect(explanation["code"] as? String == "message_rejected")
            #expect((explanation["explanation"] as? String)?.contains("“Recipient address required”") == true)
            #expect(try await client.execute(uri: "/api/messages/424242", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/api/messages/abc", method: .get).status == .badRequest)
        }
    }

    @Test(arguments: Setup.allCases)
    func retryAndDiscard(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let held = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        let sent = try await f.addMessage(account: "shop", status: .sent, gmailID: "18d1e2f3a4b5c6d8")
        try await f.app().test(setup.testing) { client in
            let retried = try await client.execute(uri: "/api/messages/\(held)/retry", method: .post)
            #expect(retried.status == .ok)
            #expect((try retried.json() as? [String: Any])?["status"] as? String == "queued")
            let refused = try await client.execute(uri: "/api/messages/\(sent)/retry", method: .post)
            #expect(refused.status == .conflict)
            let discarded = try await client.execute(uri: "/api/messages/\(held)/discard", method: .post)
            #expect((try discarded.json() as? [String: Any])?["status"] as? String == "discarded")
            #expect(try await client.execute(uri: "/api/messages/77777/discard", method: .post).status == .notFound)
        }
        #expect(try await f.store.message(id: held)?.status == .discarded)
        #expect(try await f.store.message(id: sent)?.status == .sent)
    }

    @Test(arguments: Setup.allCases)
    func metricsAndHealth(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        _ = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        try await f.app().test(setup.testing) { client in
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.text.contains("relay_messages{status=\"held\"} 1"))
            #expect(metrics.text.contains("relay_oldest_message_age_seconds{status=\"held\"} "))
            #expect(metrics.text.contains("relay_oldest_message_age_seconds{status=\"queued\"} 0\n"), "no queued message: 0")
            #expect(metrics.text.contains("relay_accounts{state=\"ok\"} 1"))
            #expect(metrics.text.contains("\nrelay_build_info{version=\"\(RelayVersion.version)\"} 1\n"))
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok && health.text == "ok\n")
        }
    }
}

@Suite struct Security {
    static let token = "correct-horse-battery-staple-9f8e7d"

    @Test func nonLoopbackWithoutTokenRefusesToStart() throws {
        #expect(throws: WebServerError.adminTokenRequired(listen: "0.0.0.0:8025")) {
            try WebSecurity(listen: SocketAddressSpec(string: "0.0.0.0:8025")!, adminToken: nil)
        }
        #expect(throws: WebServerError.self) { try WebSecurity(listen: SocketAddressSpec(string: "192.0.2.10:8025")!, adminToken: "") }
        #expect(try WebSecurity(listen: SocketAddressSpec(string: "0.0.0.0:8025")!, adminToken: Self.token).requiresLogin)
        #expect(try !WebSecurity(listen: SocketAddressSpec(string: "[::1]:8025")!, adminToken: nil).requiresLogin)
    }

    @Test(arguments: Setup.allCases)
    func apiNeedsTheBearerToken(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let id = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        try await f.app(token: Self.token).test(setup.testing) { client in
            for uri in ["/api/status", "/api/messages", "/api/messages/\(id)", "/metrics", "/healthz"] {
                let none = try await client.execute(uri: uri, method: .get)
                #expect(none.status == .unauthorized, "\(uri) without a token")
                #expect(none.headers[.wwwAuthenticate] == "Bearer realm=\"gmail-relay\"")
                let wrong = try await client.execute(uri: uri, method: .get, headers: headers([("Authorization", "Bearer \(Self.token)x")]))
                #expect(wrong.status == .unauthorized, "\(uri) with a wrong token")
                let right = try await client.execute(uri: uri, method: .get, headers: headers([("Authorization", "Bearer \(Self.token)")]))
                #expect(right.status == .ok, "\(uri) with the token")
            }
            let post = try await client.execute(uri: "/api/messages/\(id)/retry", method: .post)
            #expect(post.status == .unauthorized)
            #expect(try await f.store.message(id: id)?.status == .held)
            let authorized = try await client.execute(uri: "/api/messages/\(id)/retry", method: .post, headers: headers([("Authorization", "bearer \(Self.token)")]))
            #expect(authorized.status == .ok)
        }
    }

    @Test(arguments: Setup.allCases)
    func pagesNeedTheLoginCookie(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let id = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        try await f.app(token: Self.token).test(setup.testing) { client in
            let anonymous = try await client.execute(uri: "/messages/\(id)", method: .get)
            #expect(anonymous.status == .seeOther)
            #expect(anonymous.headers[.location] == "/login?next=%2Fmessages%2F\(id)")
            let forgedCookie = try await client.execute(uri: "/", method: .get, headers: headers([("Cookie", "gmail_relay_session=9999999999.00.00")]))
            #expect(forgedCookie.status == .seeOther)

            let login = try await client.execute(uri: "/login?next=%2Fmessages%2F\(id)", method: .get)
            #expect(login.status == .ok)
            let loginCSRF = try #require(csrfToken(in: login.text))
            #expect(!login.text.contains(Self.token))

            let noCSRF = try await client.execute(uri: "/login", method: .post, headers: formHeaders, body: form(["token": Self.token]))
            #expect(noCSRF.status == .forbidden)
            #expect(noCSRF.setCookie == nil)
            let wrong = try await client.execute(uri: "/login", method: .post, headers: formHeaders, body: form(["token": "guess", "csrf": loginCSRF]))
            #expect(wrong.status == .unauthorized)
            #expect(wrong.setCookie == nil)
            #expect(wrong.text.contains("That is not a token of this relay."))

            let ok = try await client.execute(uri: "/login", method: .post, headers: formHeaders,
                                              body: form(["token": Self.token, "csrf": loginCSRF, "next": "/messages/\(id)"]))
            #expect(ok.status == .seeOther)
            #expect(ok.headers[.location] == "/messages/\(id)")
            let setCookie = try #require(ok.setCookie)
            #expect(setCookie.hasPrefix("gmail_relay_session="))
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Strict"))
            #expect(setCookie.contains("Path=/"))
            #expect(!setCookie.contains(Self.token))
            let cookie = String(setCookie.prefix { $0 != ";" })

            let page = try await client.execute(uri: "/messages/\(id)", method: .get, headers: headers([("Cookie", cookie)]))
            #expect(page.status == .ok)
            #expect(!page.text.contains(Self.token))
            #expect(page.text.contains("Log out"))
            // The session's CSRF token works; the one from another session (or none) does not.
            let csrf = try #require(csrfToken(in: page.text))
            var withCookie = formHeaders
            withCookie[.cookie] = cookie
            let refused = try await client.execute(uri: "/messages/\(id)/retry", method: .post, headers: withCookie, body: form(["csrf": loginCSRF]))
            #expect(refused.status == .forbidden)
            #expect(try await f.store.message(id: id)?.status == .held)
            let retried = try await client.execute(uri: "/messages/\(id)/retry", method: .post, headers: withCookie, body: form(["csrf": csrf]))
            #expect(retried.status == .seeOther)
            #expect(try await f.store.message(id: id)?.status == .queued)
            // A POST without a session is refused before any handler runs.
            let anonymousPost = try await client.execute(uri: "/messages/\(id)/discard", method: .post, headers: formHeaders, body: form(["csrf": csrf]))
            #expect(anonymousPost.status == .unauthorized)
            #expect(try await f.store.message(id: id)?.status == .queued)

            // The stylesheet is public (the sign-in page uses it); signing out needs the CSRF token.
            let css = try await client.execute(uri: "/style.css", method: .get)
            #expect(css.status == .ok && css.headers[.contentType] == "text/css; charset=utf-8")
            let noToken = try await client.execute(uri: "/logout", method: .post, headers: withCookie, body: form([:]))
            #expect(noToken.status == .forbidden)
            let logout = try await client.execute(uri: "/logout", method: .post, headers: withCookie, body: form(["csrf": csrf]))
            #expect(logout.status == .seeOther && logout.headers[.location] == "/login")
            #expect(logout.setCookie?.contains("Max-Age=0") == true)
        }
    }

    @Test func loginRedirectStaysOnThisSite() {
        #expect(StatusWebServer.safeNext("/messages/5") == "/messages/5")
        #expect(StatusWebServer.safeNext("/messages?status=held&page=2") == "/messages?status=held&page=2")
        #expect(StatusWebServer.safeNext("/") == "/")
        // Browsers drop tabs and newlines from URLs: "/\t/evil.example" would become "//evil.example".
        #expect(StatusWebServer.safeNext("/\t/evil.example") == "/")
        #expect(StatusWebServer.safeNext("/\n/evil.example") == "/")
        #expect(StatusWebServer.safeNext("/\r\n/evil.example") == "/")
        #expect(StatusWebServer.safeNext("/ /evil.example") == "/")
        #expect(StatusWebServer.safeNext("/\u{0}/evil.example") == "/")
        #expect(StatusWebServer.safeNext("/messages\\evil") == "/")
        #expect(StatusWebServer.safeNext("/\u{7f}/evil.example") == "/")
        #expect(StatusWebServer.safeNext("/é/evil.example") == "/")
        #expect(StatusWebServer.safeNext("//evil.example/") == "/")
        #expect(StatusWebServer.safeNext("https://evil.example/") == "/")
        #expect(StatusWebServer.safeNext("/\\evil.example") == "/")
        #expect(StatusWebServer.safeNext(nil) == "/")
    }

    @Test(arguments: Setup.allCases)
    func openLoopbackRefusesForeignHostsAndCrossSiteWrites(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let id = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        try await f.app().test(setup.testing) { client in
            // (A foreign Host header is refused too: the test clients always send "localhost", so
            // e2e/test_web.py checks that over a raw connection; here the name check itself.)
            #expect(WebSecurity.isLoopbackHost("localhost") && WebSecurity.isLoopbackHost("127.0.0.1:8025") && WebSecurity.isLoopbackHost("[::1]:8025"))
            #expect(!WebSecurity.isLoopbackHost("evil.example:8025") && !WebSecurity.isLoopbackHost("127.0.0.1.evil.example"))
            let crossSite = try await client.execute(uri: "/api/messages/\(id)/retry", method: .post, headers: headers([("Sec-Fetch-Site", "cross-site")]))
            #expect(crossSite.status == .forbidden)
            let foreignOrigin = try await client.execute(uri: "/api/messages/\(id)/retry", method: .post, headers: headers([("Origin", "http://evil.example")]))
            #expect(foreignOrigin.status == .forbidden)
            #expect(try await f.store.message(id: id)?.status == .held)
            let curl = try await client.execute(uri: "/api/messages/\(id)/retry", method: .post)
            #expect(curl.status == .ok)
        }
    }

    @Test func tokensCompareInConstantTimeShape() {
        #expect(WebSecurity.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!WebSecurity.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(!WebSecurity.constantTimeEqual([1, 2], [1, 2, 0]))
        #expect(!WebSecurity.constantTimeEqual([], [0]))
        let security = WebSecurity(adminToken: "abc", key: .init(size: .bits256))
        #expect(security.isAdminToken("abc"))
        #expect(!security.isAdminToken("abcd"))
        #expect(security.bearerRole("Basic abc") == nil)
        #expect(security.bearerRole("Bearer abc") == .admin)
        let session = security.newSession(now: Date())
        #expect(security.isValidSession(session, now: Date()))
        #expect(!security.isValidSession(session, now: Date().addingTimeInterval(WebSecurity.sessionLifetime + 60)))
        let other = WebSecurity(adminToken: "abc", key: .init(size: .bits256))
        #expect(!other.isValidSession(session, now: Date()), "a session of another process")
    }
}

/// Regressions of the hardening issue: each of these failed (or crashed the process) before.
@Suite struct Hardening {
    static let token = "correct-horse-battery-staple-9f8e7d"
    static let readToken = "read-only-token-for-the-plugin-4c2a"

    @Test(arguments: Setup.allCases)
    func numbersFromTheURLAreBounded(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        _ = try await f.addMessage(account: "shop")
        try await f.app().test(setup.testing) { client in
            // page=Int.max overflowed (page - 1) * 50 and aborted the whole process.
            for page in ["9223372036854775807", "9223372036854775808", "1000001", "-1", "0", "1e3", "0x10", "+1", " 1", "١"] {
                let response = try await client.execute(uri: "/messages?page=\(page.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", method: .get)
                #expect(response.status == .badRequest, "page=\(page)")
            }
            #expect(try await client.execute(uri: "/messages?page=1000000", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/messages?page=", method: .get).status == .ok)
            for query in ["limit=9223372036854775807", "limit=0", "offset=-1", "offset=99999999999999999999", "limit=1e2"] {
                #expect(try await client.execute(uri: "/api/messages?\(query)", method: .get).status == .badRequest, "\(query)")
            }
            for id in ["9223372036854775808", "-9223372036854775809", "1e3", "abc"] {
                #expect(try await client.execute(uri: "/api/messages/\(id)", method: .get).status == .badRequest, "id \(id)")
            }
            #expect(try await client.execute(uri: "/api/messages/9223372036854775807", method: .get).status == .notFound)
        }
    }

    @Test(arguments: Setup.allCases)
    func nonCanonicalPathsAreRefusedBeforeTheyAreClassified(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let id = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        try await f.app().test(setup.testing) { client in
            // Open page (web.open): a cross-site POST to the API is refused; these spellings routed to
            // the API's discard while the access check read them as pages.
            for path in ["//api/messages/\(id)/discard", "/./api/messages/\(id)/discard", "/api/../api/messages/\(id)/discard",
                         "/api//messages/\(id)/discard", "/api/messages/\(id)/discard/", "/api/messages/%31/discard"] {
                let response = try await client.execute(uri: path, method: .post, headers: headers([("Sec-Fetch-Site", "cross-site")]))
                #expect(response.status == .badRequest || response.status == .forbidden, "\(path): \(response.status)")
                #expect(try await f.store.message(id: id)?.status == .held, "\(path) discarded the message")
            }
            // Pages (not the API) that a browser may POST to cross-site are refused as well when open.
            let page = try await client.execute(uri: "/messages/\(id)/discard", method: .post, headers: headers([("Sec-Fetch-Site", "cross-site")]))
            #expect(page.status == .forbidden)
            #expect(try await f.store.message(id: id)?.status == .held)
        }
        #expect(AccessMiddleware.isCanonical("/") && AccessMiddleware.isCanonical("/api/messages/12") && AccessMiddleware.isCanonical("/style.css"))
        for path in ["", "//", "//api", "/./x", "/x/..", "/x/", "/a%2fb", "/a\\b", "/é", "/a b", "x"] {
            #expect(!AccessMiddleware.isCanonical(path), "\(path)")
        }
    }

    func server(_ f: Fixture) throws -> StatusWebServer {
        try f.server(token: Self.token, readToken: Self.readToken)
    }

    @Test(arguments: Setup.allCases)
    func theReadTokenMayOnlyLook(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let id = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        let app = try server(f).application(listen: SocketAddressSpec(host: "127.0.0.1", port: 0))
        try await app.test(setup.testing) { client in
            let read = headers([("Authorization", "Bearer \(Self.readToken)")])
            for uri in ["/api/status", "/api/messages", "/api/messages/\(id)", "/metrics", "/healthz", "/", "/messages"] {
                #expect(try await client.execute(uri: uri, method: .get, headers: read).status == .ok, "\(uri)")
            }
            for uri in ["/api/messages/\(id)/retry", "/api/messages/\(id)/discard"] {
                #expect(try await client.execute(uri: uri, method: .post, headers: read).status == .forbidden, "\(uri)")
            }
            #expect(try await f.store.message(id: id)?.status == .held)
            // Signed in with the read token: pages yes, the retry form no (even with its CSRF token).
            let login = try await client.execute(uri: "/login", method: .get)
            let loginCSRF = try #require(csrfToken(in: login.text))
            let signedIn = try await client.execute(uri: "/login", method: .post, headers: formHeaders, body: form(["token": Self.readToken, "csrf": loginCSRF]))
            #expect(signedIn.status == .seeOther)
            let cookie = String(try #require(signedIn.setCookie).prefix { $0 != ";" })
            let page = try await client.execute(uri: "/messages/\(id)", method: .get, headers: headers([("Cookie", cookie)]))
            #expect(page.status == .ok)
            let csrf = try #require(csrfToken(in: page.text))
            var withCookie = formHeaders
            withCookie[.cookie] = cookie
            let retry = try await client.execute(uri: "/messages/\(id)/retry", method: .post, headers: withCookie, body: form(["csrf": csrf]))
            #expect(retry.status == .forbidden)
            #expect(try await f.store.message(id: id)?.status == .held)
            // The admin token still acts.
            let admin = try await client.execute(uri: "/api/messages/\(id)/retry", method: .post, headers: headers([("Authorization", "Bearer \(Self.token)")]))
            #expect(admin.status == .ok)
        }
    }

    @Test(arguments: Setup.allCases)
    func aSignInLinkWorksOnce(setup: Setup) async throws {
        let f = try Fixture()
        let app = try server(f).application(listen: SocketAddressSpec(host: "127.0.0.1", port: 0))
        let ticket = SignInLinks(adminToken: Self.token).makeTicket()
        let forged = SignInLinks(adminToken: Self.token + "x").makeTicket()
        let expired = SignInLinks(adminToken: Self.token).makeTicket(now: Date().addingTimeInterval(-SignInLinks.lifetime - 1))
        try await app.test(setup.testing) { client in
            let first = try await client.execute(uri: SignInLinks.path(ticket: ticket), method: .get)
            #expect(first.status == .seeOther && first.headers[.location] == "/")
            let cookie = String(try #require(first.setCookie).prefix { $0 != ";" })
            #expect(try await client.execute(uri: "/", method: .get, headers: headers([("Cookie", cookie)])).status == .ok)
            for refused in [ticket, forged, expired, "1.2.3", String(repeating: "9", count: 300)] {
                let again = try await client.execute(uri: SignInLinks.path(ticket: refused), method: .get)
                #expect(again.status == .unauthorized)
                #expect(again.setCookie == nil)
                #expect(again.text.contains("already used or has expired"))
            }
        }
    }

    @Test func tokensAreLongAndDistinct() throws {
        let loopback = SocketAddressSpec(host: "127.0.0.1", port: 8025)
        #expect(throws: WebServerError.tokenTooShort(key: "web.admin_token")) { try WebSecurity(listen: loopback, adminToken: "short") }
        #expect(throws: WebServerError.tokenTooShort(key: "web.read_token")) { try WebSecurity(listen: loopback, adminToken: Self.token, readToken: "short") }
        #expect(throws: WebServerError.sameTokens) { try WebSecurity(listen: loopback, adminToken: Self.token, readToken: Self.token) }
        #expect(throws: WebServerError.readTokenWithoutAdminToken) { try WebSecurity(listen: loopback, adminToken: nil, readToken: Self.readToken) }
    }

    @Test(arguments: Setup.allCases)
    func aWrongBearerWaitsLikeAWrongSignIn(setup: Setup) async throws {
        let f = try Fixture()
        let app = try server(f).application(listen: SocketAddressSpec(host: "127.0.0.1", port: 0))
        try await app.test(setup.testing) { client in
            let clock = ContinuousClock()
            let start = clock.now
            let wrong = try await client.execute(uri: "/api/status", method: .get, headers: headers([("Authorization", "Bearer guess-guess-guess-guess-guess")]))
            #expect(wrong.status == .unauthorized)
            #expect(clock.now - start >= WebSecurity.wrongTokenDelay)
        }
    }
}
