import Foundation
internal import HTTPTypes
internal import Hummingbird
public import Logging
internal import NIOCore
internal import ServiceLifecycle
internal import _CryptoExtras

/// A stand-in for Google's OAuth and Gmail endpoints that answers with Google's real bodies
/// (docs/google-api.md) and checks what Google checks. See README.md for the endpoint list.
///
///     let google = FakeGoogleServer()
///     let base = try await google.start()
///     google.addOAuthClient(id: "client", secret: "secret")
///     let refresh = google.issueRefreshToken(clientID: "client", email: "a@example.com", scopes: [gmailSend])
///     // point google.token_url at base/token, google.gmail_url at base ...
///     await google.stop()
public final class FakeGoogleServer: Sendable {
    private let state = Protected(FakeGoogleState())
    private let running = Protected<Running?>(nil)
    private let now: @Sendable () -> Date
    private let logger: Logger

    private struct Running {
        var group: ServiceGroup
        var task: Task<Void, Never>
        var baseURL: URL
    }

    /// - Parameter now: the clock for token lifetimes, JWT times and message ids.
    public init(now: @escaping @Sendable () -> Date = { Date() }, logLevel: Logger.Level = .warning) {
        self.now = now
        var logger = Logger(label: "fake-google")
        logger.logLevel = logLevel
        self.logger = logger
    }

    // MARK: Lifecycle

    /// Binds and serves in a background task; returns the base URL with the real port
    /// (`http://127.0.0.1:54321`, no trailing slash).
    @discardableResult
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> URL {
        if let url = baseURL { return url }
        let router = Router()
        addRoutes(to: router)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let failure = Protected<String?>(nil)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? port)
                portContinuation.finish()
            },
            logger: logger
        )
        let group = ServiceGroup(services: [app], logger: logger)
        let task = Task {
            do {
                try await group.run()
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            portContinuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next() else {
            throw FakeGoogleError.failedToStart(failure.withLock { $0 } ?? "server stopped before it was running")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let url = URL(string: "http://\(hostPart):\(bound)")!
        state.withLock { $0.tokenURL = url.absoluteString + "/token" }
        running.withLock { $0 = Running(group: group, task: task, baseURL: url) }
        return url
    }

    /// Stops the server: a graceful shutdown, then cancellation of whatever is still in flight
    /// (a `.hang`) after `grace` seconds.
    public func stop(grace: Double = 1) async {
        guard let current = running.withLock({ value -> Running? in
            defer { value = nil }
            return value
        }) else { return }
        await current.group.triggerGracefulShutdown()
        let task = current.task
        let watchdog = Task {
            try? await Task.sleep(nanoseconds: UInt64(max(0, grace) * 1_000_000_000))
            task.cancel()
        }
        await task.value
        watchdog.cancel()
    }

    /// Gmail's upload limit for users.messages.send (docs/google-api.md §1.3); larger bodies get 413.
    public static let maxUploadBytes = FakeGoogleState.maxUploadBytes

    public var baseURL: URL? { running.withLock { $0?.baseURL } }
    /// Where the relay's `google.*` settings should point.
    public var tokenURL: URL? { baseURL?.appendingPathComponent("token") }
    public var authURL: URL? { baseURL.map { URL(string: $0.absoluteString + "/o/oauth2/v2/auth")! } }
    public var tokeninfoURL: URL? { baseURL?.appendingPathComponent("tokeninfo") }
    public var revokeURL: URL? { baseURL?.appendingPathComponent("revoke") }
    public var gmailURL: URL? { baseURL }

    // MARK: Setup

    public func addOAuthClient(id: String, secret: String) {
        state.withLock { $0.clients[id] = .init(id: id, secret: secret) }
    }

    /// Marks the client deleted: the token endpoint answers `deleted_client`.
    public func deleteOAuthClient(id: String) {
        state.withLock { $0.clients[id]?.deleted = true }
    }

    /// A refresh token as if `email` had consented to `scopes` for the client. Unknown
    /// non-consumer addresses are added as Workspace users with Gmail.
    public func issueRefreshToken(clientID: String, email: String, scopes: [String]) -> String {
        state.withLock { $0.issueRefreshToken(clientID: clientID, email: email, scopes: scopes) }
    }

    /// An access token without a trip through /token (for send tests).
    public func issueAccessToken(clientID: String = "fake-client", email: String, scopes: [String]) -> String {
        let now = now()
        return state.withLock { state in
            state.ensureUser(email)
            return state.issueAccessToken(
                clientID: clientID, user: email, serviceAccount: nil, scopes: scopes, refreshToken: nil, now: now
            ).token
        }
    }

    /// As if the user removed the app's access: the token and every token of the same grant stop working.
    public func revokeRefreshToken(_ token: String) {
        state.withLock { $0.revokeRefreshToken(token) }
    }

    /// A Workspace user (consumer `@gmail.com` users exist without being added).
    /// `hasGmail: false` makes sends answer "Mail service not enabled"; `sendAs` lists verified aliases.
    public func addUser(email: String, hasGmail: Bool = true, sendAs: [String] = []) {
        state.withLock { $0.addUser(email: email, hasGmail: hasGmail, sendAs: sendAs) }
    }

    /// Registers a service account by its public key (a private key PEM is accepted too and its
    /// public half used). `delegatedScopes` empty = no domain-wide delegation.
    public func addServiceAccount(
        clientEmail: String, publicKeyPEM: String, delegatedScopes: [String], clientID: String? = nil
    ) throws {
        let key: _RSA.Signing.PublicKey
        do {
            if publicKeyPEM.contains("PRIVATE KEY") {
                key = try _RSA.Signing.PrivateKey(pemRepresentation: publicKeyPEM).publicKey
            } else {
                key = try _RSA.Signing.PublicKey(pemRepresentation: publicKeyPEM)
            }
        } catch {
            throw FakeGoogleError.invalidPublicKey("\(error)")
        }
        let id = clientID ?? FakeGoogleState.subject(for: clientEmail)
        state.withLock {
            $0.serviceAccounts[clientEmail.lowercased()] = .init(
                clientEmail: clientEmail, clientID: id, publicKey: key, delegatedScopes: delegatedScopes)
        }
    }

    /// `expires_in` of new access tokens, and how long they stay valid (default 3599).
    public func setAccessTokenLifetime(seconds: Int) {
        state.withLock { $0.accessTokenLifetime = seconds }
    }

    /// Every access token issued so far expires now (the relay must refresh).
    public func expireAccessTokens() {
        let now = now()
        state.withLock { $0.expireAccessTokens(now: now) }
    }

    public func setConsent(_ behaviour: ConsentBehaviour) {
        state.withLock { $0.consent = behaviour }
    }

    /// The next `count` requests to `endpoint` for `account` (user address or service-account
    /// subject; nil = any) get `failure`. Rules are used in the order they were added.
    public func inject(_ failure: InjectedFailure, endpoint: FakeGoogleEndpoint, account: String? = nil, count: Int = 1) {
        guard count > 0 else { return }
        state.withLock { $0.injections.append(.init(failure: failure, endpoint: endpoint, account: account, remaining: count)) }
    }

    public func clearInjections() {
        state.withLock { $0.injections.removeAll() }
    }

    /// Injected answers not yet given.
    public var pendingInjectionCount: Int {
        state.withLock { $0.injections.reduce(0) { $0 + $1.remaining } }
    }

    // MARK: Observations

    public var outbox: [SentMessage] { state.withLock { $0.outbox } }

    public func resetOutbox() {
        state.withLock { $0.outbox.removeAll() }
    }

    /// Requests to /token by `grant_type` (as sent; "" when missing), injected failures included.
    public var tokenRequestCount: [String: Int] { state.withLock { $0.tokenRequests } }

    public func tokenRequestCount(grantType: String) -> Int {
        state.withLock { $0.tokenRequests[grantType] ?? 0 }
    }

    /// Requests to users.messages.send, whatever their answer.
    public var sendRequestCount: Int { state.withLock { $0.sendRequests } }
    public var tokeninfoRequestCount: Int { state.withLock { $0.tokeninfoRequests } }
    public var revokeRequestCount: Int { state.withLock { $0.revokeRequests } }

    /// The claims of the last JWT-bearer assertion that parsed, whether or not it was accepted.
    public var lastAssertionClaims: JWTClaims? { state.withLock { $0.lastAssertionClaims } }

    public var authorizationRequests: [AuthorizationRequest] { state.withLock { $0.authorizationRequests } }
    public var lastAuthorizationRequest: AuthorizationRequest? { state.withLock { $0.authorizationRequests.last } }

    // MARK: HTTP

    private func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/token") { request, _ in try await self.handleToken(request) }
        router.get("/o/oauth2/v2/auth") { request, _ in self.handleAuthorize(request) }
        router.get("/tokeninfo") { request, _ in try await self.handleTokeninfo(request) }
        router.post("/tokeninfo") { request, _ in try await self.handleTokeninfo(request) }
        router.post("/revoke") { request, _ in try await self.handleRevoke(request) }
        router.post("/upload/gmail/v1/users/:userId/messages/send") { request, context in
            try await self.handleSend(request, userID: context.parameters.get("userId") ?? "", upload: true)
        }
        router.post("/gmail/v1/users/:userId/messages/send") { request, context in
            try await self.handleSend(request, userID: context.parameters.get("userId") ?? "", upload: false)
        }
        ControlPlane(server: self).addRoutes(to: router)
    }

    /// Applies a `.hang` (sleep, then go on) or answers with the injected failure.
    private func injected(_ endpoint: FakeGoogleEndpoint, account: String?) async -> FakeResponse? {
        guard let failure = state.withLock({ $0.takeInjection(endpoint, account: account) }) else { return nil }
        if case .hang(let seconds) = failure {
            try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1_000_000_000))
            return nil
        }
        return failure.response(account: account)
    }

    private func handleToken(_ request: Request) async throws -> Response {
        let (body, _) = try await Self.readBody(request, limit: 1 << 20)
        let form = Self.formFields(body: body, contentType: request.headers[.contentType])
        let account = state.withLock { state -> String? in
            state.tokenRequests[form["grant_type"] ?? "", default: 0] += 1
            return state.tokenAccount(form)
        }
        if let response = await injected(.token, account: account) { return Self.response(response) }
        let now = now()
        return Self.response(state.withLock { $0.token(form, now: now) })
    }

    private func handleAuthorize(_ request: Request) -> Response {
        let query = FormCoding.decodeDictionary(request.uri.query)
        let now = now()
        return Self.response(state.withLock { $0.authorize(query, now: now) })
    }

    private func handleTokeninfo(_ request: Request) async throws -> Response {
        try await handleTokenLookup(request, field: "access_token", endpoint: .tokeninfo, count: { $0.tokeninfoRequests += 1 }) {
            $0.tokeninfo($1, now: $2)
        }
    }

    private func handleRevoke(_ request: Request) async throws -> Response {
        try await handleTokenLookup(request, field: "token", endpoint: .revoke, count: { $0.revokeRequests += 1 }) {
            $0.revoke($1, now: $2)
        }
    }

    /// tokeninfo and revoke take one token, from the form body or the query (the body wins), count the
    /// call, let an injected failure for the token's account answer first, then answer from the state.
    private func handleTokenLookup(
        _ request: Request, field: String, endpoint: FakeGoogleEndpoint,
        count: @Sendable (inout FakeGoogleState) -> Void,
        answer: @Sendable (inout FakeGoogleState, String?, Date) -> FakeResponse
    ) async throws -> Response {
        let (body, _) = try await Self.readBody(request, limit: 1 << 20)
        var fields = Self.formFields(body: body, contentType: request.headers[.contentType])
        fields.merge(FormCoding.decodeDictionary(request.uri.query)) { form, _ in form }
        let token = fields[field]
        let account = state.withLock { state -> String? in
            count(&state)
            return state.tokenOwner(token)
        }
        if let response = await injected(endpoint, account: account) { return Self.response(response) }
        let now = now()
        return Self.response(state.withLock { answer(&$0, token, now) })
    }

    private func handleSend(_ request: Request, userID rawUserID: String, upload: Bool) async throws -> Response {
        let userID = rawUserID.removingPercentEncoding ?? rawUserID
        state.withLock { $0.sendRequests += 1 }
        // Read everything (so the client sees the answer, not a reset), keep at most the limit.
        let (body, total) = try await Self.readBody(request, limit: FakeGoogleState.maxUploadBytes)
        let now = now()
        let grant: FakeGoogleState.AccessGrant
        switch state.withLock({ $0.authenticate(request.headers[.authorization], now: now) }) {
        case .refused(let response): return Self.response(response)
        case .granted(let g): grant = g
        }
        if let response = await injected(.send, account: grant.identity) { return Self.response(response) }

        let query = FormCoding.decodeDictionary(request.uri.query)
        let message: Data
        if upload {
            guard query["uploadType"] == "media" else { return Self.response(GoogleBodies.uploadTypeRequired) }
            if total > FakeGoogleState.maxUploadBytes { return Self.response(GoogleBodies.payloadTooLarge) }
            let contentType = request.headers[.contentType] ?? ""
            let mediaType = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard mediaType.hasPrefix("message/") else {
                return Self.response(GoogleBodies.unsupportedMediaType(mediaType.isEmpty ? "application/octet-stream" : mediaType))
            }
            message = body
        } else {
            // Metadata URI: a Message resource with base64url `raw` (docs/google-api.md §1.2).
            if total > FakeGoogleState.maxUploadBytes { return Self.response(GoogleBodies.payloadTooLarge) }
            let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
            guard let raw = object?["raw"] as? String, let decoded = Base64URL.decodeLenient(raw) else {
                return Self.response(GoogleBodies.rawRequired)
            }
            message = decoded
        }
        return Self.response(state.withLock { $0.send(grant: grant, userID: userID, message: message, now: now) })
    }

    // MARK: Plumbing

    /// The body up to `limit` bytes, and how many bytes there were in all.
    static func readBody(_ request: Request, limit: Int) async throws -> (Data, Int) {
        var data = Data()
        var total = 0
        for try await buffer in request.body {
            total += buffer.readableBytes
            if data.count < limit {
                let keep = min(buffer.readableBytes, limit - data.count)
                data.append(contentsOf: buffer.readableBytesView.prefix(keep))
            }
        }
        return (data, total)
    }

    /// Form fields from an urlencoded body (the token endpoint also takes JSON).
    static func formFields(body: Data, contentType: String?) -> [String: String] {
        if contentType?.lowercased().hasPrefix("application/json") == true,
           let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] {
            return object.compactMapValues { $0 as? String }
        }
        return FormCoding.decodeDictionary(String(decoding: body, as: UTF8.self))
    }

    static func response(_ fake: FakeResponse) -> Response {
        var fields = HTTPFields()
        for (name, value) in fake.headers {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return Response(status: status(fake.status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: fake.body)))
    }

    static func status(_ code: Int) -> HTTPResponse.Status {
        switch code {
        case 200: return .ok
        case 302: return .found
        case 400: return .badRequest
        case 401: return .unauthorized
        case 403: return .forbidden
        case 404: return .notFound
        case 413: return .contentTooLarge
        case 429: return .tooManyRequests
        case 500: return .internalServerError
        case 502: return .badGateway
        case 503: return .serviceUnavailable
        case 504: return .gatewayTimeout
        default: return HTTPResponse.Status(code: code)
        }
    }

    // MARK: For the control plane

    func withState<R>(_ body: (inout FakeGoogleState) throws -> R) rethrows -> R {
        try state.withLock(body)
    }

    var currentTime: Date { now() }
}
