import BuildInfo
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import RelayConfig
import RelayStatus
import RelayStore

/// The status page, JSON API, /metrics and /healthz on `web.listen` (docs/contract.md "HTTP", docs/status-page.md).
///
/// `router()` is what the tests drive (Hummingbird's `.router` and `.live` test setups); `application()`
/// is the same router bound to the configured address, run as a Service in `serve`'s ServiceGroup.
public struct StatusWebServer: Sendable {
    public let reporter: StatusReporter
    public let security: WebSecurity
    let metrics: @Sendable () async -> String
    let clock: @Sendable () -> Date
    let logger: Logger
    let pages: PageRenderer
    /// The alerts panel and its test button; nil when no alerts are configured.
    let alerts: AlertControls?

    public init(
        reporter: StatusReporter, security: WebSecurity, metrics: @escaping @Sendable () async -> String,
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger, alerts: AlertControls? = nil
    ) throws {
        self.alerts = alerts
        self.reporter = reporter
        self.security = security
        self.metrics = metrics
        self.clock = clock
        self.logger = logger
        self.pages = try PageRenderer()
    }

    var store: any MessageStore & AccountStore { reporter.store }

    /// The server as a Service, listening on `listen`. `onRunning` receives the bound port (tests listen on 0).
    public func application(
        listen: SocketAddressSpec, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let logger = self.logger
        return Application(
            router: router(),
            server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionHeaderNormalizer()])),
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? listen.port
                logger.info("status page listening", metadata: ["web.listen": "\(listen.host):\(port)"])
                await onRunning(port)
            },
            logger: logger)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: AccessMiddleware(security: security, clock: clock))
        router.add(middleware: StoreUnavailableMiddleware())
        router.get("/style.css") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/css; charset=utf-8"
            headers[.cacheControl] = "max-age=3600"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Templates.css + StatsChart.css)))
        }
        router.get("/healthz") { _, _ -> Response in try await self.healthz() }
        router.get("/metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: RelayVersion.prometheusText + (await self.metrics()))))
        }
        addAPIRoutes(router)
        addPageRoutes(router)
        addAlertRoutes(router)
        return router
    }

    func healthz() async throws -> Response {
        do {
            _ = try await store.queueCounts()
            return Self.text("ok\n")
        } catch {
            logger.warning("health check failed", metadata: ["error": "\(error)"])
            return Self.text("database unavailable\n", status: .serviceUnavailable)
        }
    }

    // MARK: Responses

    static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func html(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = Self.pageHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        let text = try StatusJSON.encode(value) + "\n"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func jsonError(_ message: String, status: HTTPResponse.Status) -> Response {
        (try? json(["error": message], status: status)) ?? text(message, status: status)
    }

    static func redirect(_ location: String, cookie: Cookie? = nil) -> Response {
        var headers = Self.pageHeaders
        headers[.location] = location
        var response = Response(status: .seeOther, headers: headers)
        if let cookie { response.setCookie(cookie) }
        return response
    }

    /// No scripts at all, nothing framed, nothing cached, no referrer leaking a message id to a link target.
    static let pageHeaders: HTTPFields = {
        var headers = HTTPFields()
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        headers[.cacheControl] = "no-store"
        return headers
    }()
}

/// Who may pass: see `WebSecurity`. /style.css is public (the login page needs it); /login is public when
/// tokens are required. Everything else needs a token (Bearer: API, /metrics, /healthz, pages) or a session
/// (pages); the read token and a reader's session may only GET.
///
/// The path is checked first: only canonical paths are served, so what is classified here is exactly
/// what the router routes (`//api/...`, `/./api/...` and `/api/../api/...` would route like `/api/...`).
struct AccessMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let security: WebSecurity
    let clock: @Sendable () -> Date

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard Self.isCanonical(path) else {
            return StatusWebServer.text("not a canonical path: no empty, \".\" or \"..\" segments, no escapes\n", status: .badRequest)
        }
        if path == "/style.css" { return try await next(request, context) }
        let isAPI = Self.isAPIPath(path)
        let isWrite = request.method != .get && request.method != .head
        guard security.requiresLogin else {
            // Open on loopback (web.open): refuse other Host names (DNS rebinding) and cross-site writes.
            if let host = request.head.authority, !WebSecurity.isLoopbackHost(host) {
                return refuse(isAPI: isAPI, status: .forbidden, "this server answers to loopback names only (set web.admin_token to serve other names)")
            }
            if isWrite, Self.isCrossSite(request) {
                return refuse(isAPI: isAPI, status: .forbidden, "cross-site request refused")
            }
            return try await next(request, context)
        }
        if path == "/login" { return try await next(request, context) }
        let authorization = request.headers[.authorization]
        if let role = security.bearerRole(authorization) {
            guard role.mayUse(request.method) else { return refuseReader(isAPI: isAPI) }
            return try await next(request, context)
        }
        if authorization != nil {
            // A wrong token waits as long as a wrong sign-in does: guessing over the API is no faster.
            try await Task.sleep(for: WebSecurity.wrongTokenDelay)
        }
        if isAPI {
            var response = StatusWebServer.jsonError("authentication required: send Authorization: Bearer <web.admin_token or web.read_token>", status: .unauthorized)
            response.headers[.wwwAuthenticate] = "Bearer realm=\"gmail-relay\""
            return response
        }
        if let role = security.sessionRole(request.cookies[WebSecurity.sessionCookie]?.value, now: clock()) {
            guard role.mayUse(request.method) else { return refuseReader(isAPI: false) }
            return try await next(request, context)
        }
        if !isWrite {
            var target = path
            if let query = request.uri.query, !query.isEmpty { target += "?" + query }
            return StatusWebServer.redirect("/login?next=" + (target.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"))
        }
        return refuse(isAPI: false, status: .unauthorized, "sign in first")
    }

    func refuseReader(isAPI: Bool) -> Response {
        refuse(isAPI: isAPI, status: .forbidden, "the read token may only look: retry, discard and other changes need web.admin_token")
    }

    /// `/` or `/segment/segment...` with segments of letters, digits and `-._~`, none empty, `.` or `..`.
    /// Every route of this server fits; anything else is refused before it is classified or routed.
    static func isCanonical(_ path: String) -> Bool {
        if path == "/" { return true }
        let bytes = path.utf8
        guard bytes.first == UInt8(ascii: "/"), bytes.count <= 1024 else { return false }
        for segment in bytes.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard !segment.isEmpty, !segment.elementsEqual(".".utf8), !segment.elementsEqual("..".utf8) else { return false }
            guard segment.allSatisfy(isPathByte) else { return false }
        }
        return true
    }

    private static func isPathByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    static func isAPIPath(_ path: String) -> Bool {
        path.hasPrefix("/api/") || path == "/api" || path == "/metrics" || path == "/healthz"
    }

    /// A browser marks requests of another site (Sec-Fetch-Site) and names their origin; curl sends neither.
    static func isCrossSite(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site != "same-origin", site != "none" { return true }
        if let origin = request.headers[HTTPField.Name("Origin")!] {
            guard let host = request.head.authority,
                  let url = URL(string: origin), let originHost = url.host else { return true }
            let originAuthority = url.port.map { "\(originHost):\($0)" } ?? originHost
            return originAuthority.lowercased() != host.lowercased()
        }
        return false
    }

    func refuse(isAPI: Bool, status: HTTPResponse.Status, _ message: String) -> Response {
        isAPI ? StatusWebServer.jsonError(message, status: status) : StatusWebServer.text(message + "\n", status: status)
    }
}

/// A store that cannot be reached (a shared PostgreSQL gone away) is said in words, as 503, on the page
/// and the API alike: the operator learns why the page is empty and that SMTP answers 451 meanwhile.
/// Other errors keep Hummingbird's plain 500.
struct StoreUnavailableMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any StoreUnavailableError {
            let message = "The relay's message store is unavailable: \(error). SMTP clients get 451 4.3.0 (try again later) "
                + "until it is back; nothing already accepted is lost."
            if AccessMiddleware.isAPIPath(request.uri.path) {
                return StatusWebServer.jsonError(message, status: .serviceUnavailable)
            }
            return StatusWebServer.html(
                "<!doctype html><meta charset=utf-8><title>Store unavailable</title><p>\(HTMLText.escape(message))</p>\n",
                status: .serviceUnavailable)
        }
    }
}
