import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import RelayStatus
import RelayStore
import RelayVocabulary

extension StatusWebServer {
    static let pageSize = 50
    /// Far past any real send log (50 million rows), and small enough that no offset arithmetic overflows.
    static let maximumPage = 1_000_000
    static let maximumFormBytes = 16 * 1024

    /// GET /, /messages, /messages/{id}; POST /messages/{id}/retry|discard; the login form.
    func addPageRoutes(_ router: Router<BasicRequestContext>) {
        router.get("/") { request, _ -> Response in
            let now = self.clock()
            let report = try await self.reporter.report()
            var data = PageRenderer.overview(report, now: now)
            data["charts"] = StatsChart.overviewCharts(try await self.store.hourlyCounts(hours: RelayStore.maximumStatsHours))
            let body = self.pages.render("overview", data) + self.alertPanel(request)
            return self.page(request, title: "Status", body: body)
        }

        router.get("/messages") { request, _ -> Response in try await self.messageList(request) }

        router.get("/messages/{id}") { request, context -> Response in
            guard let id = context.parameters.get("id", as: Int64.self) else { return self.errorPage(request, .badRequest, "Not a message id", "Message ids are numbers.") }
            guard let document = try await self.reporter.messageDocument(id: id) else {
                return self.errorPage(request, .notFound, "No such message", "There is no message with log id \(id).")
            }
            let notice = Self.query(request)["done"].flatMap { Self.notices[$0] }
            let problem = Self.query(request)["refused"].flatMap { Self.refusals[$0] }
            let data = PageRenderer.message(document, csrf: self.csrf(request), notice: notice, noticeError: problem, now: self.clock())
            return self.page(request, title: "Message \(id)", body: self.pages.render("message", data))
        }

        router.post("/messages/{id}/retry") { request, context -> Response in try await self.pageAction(request, context, .retry) }
        router.post("/messages/{id}/discard") { request, context -> Response in try await self.pageAction(request, context, .discard) }

        router.get("/login") { request, _ -> Response in
            guard self.security.requiresLogin else { return Self.redirect("/") }
            let query = Self.query(request)
            if let ticket = query["ticket"] {
                // A one-time link from `serve`'s first start or `gmail-relay web-token`.
                guard let links = self.security.signInLinks, links.redeem(ticket, now: self.clock()) else {
                    self.logger.notice("web sign-in link refused")
                    try await Task.sleep(for: WebSecurity.wrongTokenDelay)
                    return self.loginPage(next: "/", failed: false, linkRefused: true, status: .unauthorized)
                }
                let session = self.security.newSession(now: self.clock(), role: .admin)
                return Self.redirect("/", cookie: self.sessionCookie(session, request: request, maxAge: Int(WebSecurity.sessionLifetime)))
            }
            return self.loginPage(next: query["next"] ?? "/", failed: false, status: .ok)
        }
        router.post("/login") { request, _ -> Response in
            guard self.security.requiresLogin else { return Self.redirect("/") }
            let form = try await Self.form(request)
            guard self.security.isValidLoginCSRF(form["csrf"]) else {
                return Self.text("the form's CSRF token is missing or wrong: reload the sign-in page\n", status: .forbidden)
            }
            let next = Self.safeNext(form["next"])
            guard let token = form["token"], let role = self.security.role(ofToken: token) else {
                self.logger.notice("web sign-in refused")
                try await Task.sleep(for: WebSecurity.wrongTokenDelay)  // slows guessing; the token is long anyway
                return self.loginPage(next: next, failed: true, status: .unauthorized)
            }
            let session = self.security.newSession(now: self.clock(), role: role)
            return Self.redirect(next, cookie: self.sessionCookie(session, request: request, maxAge: Int(WebSecurity.sessionLifetime)))
        }
        router.post("/logout") { request, _ -> Response in
            let form = try await Self.form(request)
            guard self.security.isValidCSRF(form["csrf"], session: self.session(request)) else {
                return Self.text("the form's CSRF token is missing or wrong\n", status: .forbidden)
            }
            return Self.redirect(self.security.requiresLogin ? "/login" : "/", cookie: self.sessionCookie("", request: request, maxAge: 0))
        }
    }

    static let notices = ["retry": "Retry requested: the message is queued again.", "discard": "The message was discarded."]
    static let refusals = [
        "retry": "This message cannot be retried in its current state.",
        "discard": "This message cannot be discarded in its current state.",
    ]

    func pageAction(_ request: Request, _ context: BasicRequestContext, _ action: MessageAction) async throws -> Response {
        guard let id = context.parameters.get("id", as: Int64.self) else { return errorPage(request, .badRequest, "Not a message id", "Message ids are numbers.") }
        let form = try await Self.form(request)
        guard security.isValidCSRF(form["csrf"], session: session(request)) else {
            return errorPage(request, .forbidden, "Refused", "The form's CSRF token is missing or wrong. Reload the page and try again.")
        }
        switch try await perform(action, id: id) {
        case .success: return Self.redirect("/messages/\(id)?done=\(action.rawValue)")
        case .failure(.notFound): return errorPage(request, .notFound, "No such message", "There is no message with log id \(id).")
        case .failure(.conflict): return Self.redirect("/messages/\(id)?refused=\(action.rawValue)")
        }
    }

    func messageList(_ request: Request) async throws -> Response {
        let query = Self.query(request)
        let statusText = query["status"] ?? ""
        let status = MessageStatus(rawValue: statusText)
        let account = query["account"].flatMap { $0.isEmpty ? nil : $0 }
        let q = query["q"] ?? ""
        guard let page = Self.boundedNumber(query["page"], default: 1, in: 1...Self.maximumPage) else {
            return errorPage(request, .badRequest, "Not a page number", "The page is a number from 1 to \(Self.maximumPage).")
        }
        let offset = (page - 1) * Self.pageSize
        var rows = try await store.messages(status: status, account: account, query: q.isEmpty ? nil : q, limit: Self.pageSize + 1, offset: offset)
        let hasMore = rows.count > Self.pageSize
        rows = Array(rows.prefix(Self.pageSize))
        let now = clock()
        let accountNames = try await store.accounts().map(\.name)
        func link(_ page: Int) -> String {
            var items = [URLQueryItem]()
            if status != nil { items.append(.init(name: "status", value: statusText)) }
            if let account { items.append(.init(name: "account", value: account)) }
            if !q.isEmpty { items.append(.init(name: "q", value: q)) }
            items.append(.init(name: "page", value: String(page)))
            var components = URLComponents()
            components.path = "/messages"
            components.queryItems = items
            return components.string ?? "/messages"
        }
        let data: [String: Any] = [
            "statuses": [["value": "", "label": "any", "selected": status == nil]]
                + MessageStatus.allCases.map { ["value": $0.rawValue, "label": $0.rawValue, "selected": $0 == status] },
            "accounts": [["value": "", "label": "any", "selected": account == nil]]
                + (accountNames + (account.map { accountNames.contains($0) ? [] : [$0] } ?? []))
                .map { ["value": $0, "label": $0, "selected": $0 == account] },
            "q": q,
            "hasRows": !rows.isEmpty,
            "rows": rows.map { m -> [String: Any] in
                [
                    "id": m.id, "created": PageRenderer.time(m.createdAt, now: now), "status": m.status.rawValue,
                    "account": m.account, "from": m.mailFrom.isEmpty ? "<>" : m.mailFrom,
                    "to": m.recipients.joined(separator: ", "), "subject": m.subject ?? "(no subject)",
                    "problem": PageRenderer.opt(m.problem?.rawValue),
                ]
            },
            "page": page,
            "previous": page > 1 ? link(page - 1) as Any : false,
            "next": hasMore ? link(page + 1) as Any : false,
        ]
        return self.page(request, title: "Send log", body: pages.render("messages", data))
    }

    // MARK: Helpers

    func session(_ request: Request) -> String? {
        guard security.requiresLogin else { return nil }
        return request.cookies[WebSecurity.sessionCookie]?.value
    }

    func csrf(_ request: Request) -> String { security.csrfToken(session: session(request)) }

    /// A whole number from a query parameter within `range`; `default` when the parameter is absent or
    /// empty; nil (a 400 for the caller) for anything else: text, a sign, an overflow, out of range.
    static func boundedNumber(_ text: String?, default value: Int, in range: ClosedRange<Int>) -> Int? {
        guard let text, !text.isEmpty else { return value }
        guard text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let number = Int(text), range.contains(number) else { return nil }
        return number
    }

    func page(_ request: Request, title: String, body: String, status: HTTPResponse.Status = .ok) -> Response {
        let loggedIn = security.requiresLogin && security.isValidSession(session(request), now: clock())
        return Self.html(pages.page(title: title, body: body, csrf: csrf(request), loggedIn: loggedIn, now: clock()), status: status)
    }

    func errorPage(_ request: Request, _ status: HTTPResponse.Status, _ heading: String, _ text: String) -> Response {
        page(request, title: heading, body: pages.render("error", ["heading": heading, "text": text]), status: status)
    }

    func loginPage(next: String, failed: Bool, linkRefused: Bool = false, status: HTTPResponse.Status) -> Response {
        let body = pages.render("login", [
            "csrf": security.loginCSRFToken, "next": Self.safeNext(next), "failed": failed, "linkRefused": linkRefused,
        ])
        return Self.html(pages.page(title: "Sign in", body: body, csrf: nil, loggedIn: false, now: clock()), status: status)
    }

    func sessionCookie(_ value: String, request: Request, maxAge: Int) -> Cookie {
        // Secure only behind a TLS proxy: on plain HTTP a browser would drop a Secure cookie.
        let secure = request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
        return Cookie(name: WebSecurity.sessionCookie, value: value, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// Only a path of this site: `/` followed by a path character (not `/` or `\\`, which browsers read as
    /// another host), and no whitespace, control bytes or backslash anywhere (browsers drop tabs and
    /// newlines, so `/<TAB>/evil.example` would become `//evil.example`).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), next.utf8.count <= 2048 else { return "/" }
        if next == "/" { return next }
        let bytes = Array(next.utf8)
        let refused = bytes.contains { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\\") }
        guard bytes[1] != UInt8(ascii: "/"), !refused else { return "/" }
        return next
    }

    /// The query string decoded as a browser's GET form encodes it ('+' is a space, "%2B" a plus).
    static func query(_ request: Request) -> [String: String] {
        parseForm(request.uri.query ?? "")
    }

    /// application/x-www-form-urlencoded, at most 16 KiB.
    static func form(_ request: Request) async throws -> [String: String] {
        var request = request
        let buffer = try await request.collectBody(upTo: maximumFormBytes)
        return parseForm(String(buffer: buffer))
    }

    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String { String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return fields
    }
}
