import Foundation
internal import Hummingbird

/// `/_fake/...`: the setup and observation API over HTTP, for tests written in other languages
/// (the Python end-to-end suite). Formats are in README.md. Answers are JSON; errors are
/// `{"error": "<why>"}` with 400.
struct ControlPlane: Sendable {
    let server: FakeGoogleServer

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/_fake/inject") { request, _ in try await self.json(request) { try self.inject($0) } }
        router.post("/_fake/clear-injections") { _, _ in
            server.clearInjections()
            return Self.answer(.object([]))
        }
        router.get("/_fake/outbox") { _, _ in Self.answer(.array(server.outbox.map(Self.encode))) }
        router.post("/_fake/reset-outbox") { _, _ in
            server.resetOutbox()
            return Self.answer(.object([]))
        }
        router.get("/_fake/stats") { _, _ in Self.answer(self.stats()) }
        router.post("/_fake/clients") { request, _ in
            try await self.json(request) { body in
                let id = try Self.string(body, "client_id"), secret = try Self.string(body, "client_secret")
                server.addOAuthClient(id: id, secret: secret)
                if body["deleted"] as? Bool == true { server.deleteOAuthClient(id: id) }
                return .object([("client_id", .string(id))])
            }
        }
        router.post("/_fake/refresh-tokens") { request, _ in
            try await self.json(request) { body in
                let token = server.issueRefreshToken(
                    clientID: try Self.string(body, "client_id"), email: try Self.string(body, "email"),
                    scopes: body["scopes"] as? [String] ?? ["https://www.googleapis.com/auth/gmail.send"])
                return .object([("refresh_token", .string(token))])
            }
        }
        router.post("/_fake/refresh-tokens/revoke") { request, _ in
            try await self.json(request) { body in
                server.revokeRefreshToken(try Self.string(body, "refresh_token"))
                return .object([])
            }
        }
        router.post("/_fake/access-tokens") { request, _ in
            try await self.json(request) { body in
                let token = server.issueAccessToken(
                    clientID: body["client_id"] as? String ?? "fake-client", email: try Self.string(body, "email"),
                    scopes: body["scopes"] as? [String] ?? ["https://www.googleapis.com/auth/gmail.send"])
                return .object([("access_token", .string(token))])
            }
        }
        router.post("/_fake/expire-access-tokens") { _, _ in
            server.expireAccessTokens()
            return Self.answer(.object([]))
        }
        router.post("/_fake/access-token-lifetime") { request, _ in
            try await self.json(request) { body in
                guard let seconds = body["seconds"] as? Int else { throw Refusal("seconds (a number) is required") }
                server.setAccessTokenLifetime(seconds: seconds)
                return .object([])
            }
        }
        router.post("/_fake/users") { request, _ in
            try await self.json(request) { body in
                let email = try Self.string(body, "email")
                server.addUser(
                    email: email, hasGmail: body["has_gmail"] as? Bool ?? true, sendAs: body["send_as"] as? [String] ?? [])
                return .object([("email", .string(email))])
            }
        }
        router.post("/_fake/service-accounts") { request, _ in
            try await self.json(request) { body in
                let email = try Self.string(body, "client_email")
                do {
                    try server.addServiceAccount(
                        clientEmail: email, publicKeyPEM: try Self.string(body, "public_key_pem"),
                        delegatedScopes: body["delegated_scopes"] as? [String] ?? [],
                        clientID: body["client_id"] as? String)
                } catch let error as FakeGoogleError {
                    throw Refusal(error.description)
                }
                return .object([("client_email", .string(email))])
            }
        }
        router.post("/_fake/consent") { request, _ in
            try await self.json(request) { body in
                switch body["action"] as? String ?? "approve" {
                case "approve":
                    server.setConsent(.approve(grantedScopes: body["granted_scopes"] as? [String], email: body["email"] as? String))
                case "deny":
                    server.setConsent(.deny)
                case let other:
                    throw Refusal("action must be approve or deny, not \(other)")
                }
                return .object([])
            }
        }
    }

    struct Refusal: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    private func inject(_ body: [String: Any]) throws -> JSONText {
        guard let endpointName = body["endpoint"] as? String, let endpoint = FakeGoogleEndpoint(rawValue: endpointName) else {
            throw Refusal("endpoint must be one of token, send, tokeninfo, revoke")
        }
        let count = body["count"] as? Int ?? 1
        let account = body["account"] as? String
        let failure: InjectedFailure
        if let preset = body["preset"] as? String {
            var retryAfter: Date?
            if let seconds = body["retry_after"] as? Double {
                retryAfter = server.currentTime.addingTimeInterval(seconds)
            } else if let text = body["retry_after"] as? String {
                retryAfter = Self.parseDate(text)
                if retryAfter == nil { throw Refusal("retry_after must be RFC 3339 or a number of seconds") }
            }
            guard let named = InjectedFailure(
                presetName: preset, retryAfter: retryAfter, project: body["project"] as? String,
                address: body["address"] as? String, now: server.currentTime)
            else { throw Refusal("unknown preset \(preset); known: \(InjectedFailure.presetNames.joined(separator: ", "))") }
            failure = named
        } else if let seconds = body["hang_seconds"] as? Double {
            failure = .hang(seconds: seconds)
        } else if let status = body["status"] as? Int {
            failure = .custom(
                status: status, headers: body["headers"] as? [String: String] ?? [:], body: body["body"] as? String ?? "")
        } else {
            throw Refusal("give preset, status (+ body, headers) or hang_seconds")
        }
        server.inject(failure, endpoint: endpoint, account: account, count: count)
        return .object([("pending", .int(server.pendingInjectionCount))])
    }

    private func stats() -> JSONText {
        server.withState { state in
            let tokenRequests: [(String, JSONText)] = state.tokenRequests.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) }
            let claims: JSONText = state.lastAssertionClaims.map { claims in
                (try? JSONSerialization.jsonObject(with: Data(claims.json.utf8))).flatMap(Self.convert) ?? .string(claims.json)
            } ?? .null
            let auth: JSONText = state.authorizationRequests.last.map { request in
                .object(request.parameters.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
            } ?? .null
            return .object([
                ("token_requests", .object(tokenRequests)),
                ("token_requests_total", .int(state.tokenRequests.values.reduce(0, +))),
                ("send_requests", .int(state.sendRequests)),
                ("tokeninfo_requests", .int(state.tokeninfoRequests)),
                ("revoke_requests", .int(state.revokeRequests)),
                ("authorization_requests", .int(state.authorizationRequests.count)),
                ("outbox", .int(state.outbox.count)),
                ("pending_injections", .int(state.injections.reduce(0) { $0 + $1.remaining })),
                ("last_assertion_claims", claims),
                ("last_authorization_request", auth),
            ])
        }
    }

    static func encode(_ message: SentMessage) -> JSONText {
        .object([
            ("id", .string(message.id)),
            ("thread_id", .string(message.threadId)),
            ("user", .string(message.user)),
            ("from", message.from.map { .string($0) } ?? .null),
            ("sent_from", .string(message.sentFrom)),
            ("to", .array(message.to.map { .string($0) })),
            ("cc", .array(message.cc.map { .string($0) })),
            ("bcc", .array(message.bcc.map { .string($0) })),
            ("recipients", .array(message.recipients.map { .string($0) })),
            ("subject", message.subject.map { .string($0) } ?? .null),
            ("label_ids", .array(message.labelIds.map { .string($0) })),
            ("size", .int(message.raw.count)),
            ("received_at", .string(GoogleBodies.retryTime(message.receivedAt))),
            ("raw", .string(message.rawText)),
            ("raw_base64", .string(message.raw.base64EncodedString())),
        ])
    }

    /// JSONSerialization output -> JSONText (keys sorted, since its dictionaries have no order).
    static func convert(_ value: Any) -> JSONText? {
        switch value {
        case let s as String: return .string(s)
        case let n as NSNumber:
            if let i = Int(exactly: n.doubleValue) { return .int(i) }
            return .string(n.stringValue)
        case let a as [Any]: return .array(a.compactMap(convert))
        case let d as [String: Any]:
            return .object(d.keys.sorted().compactMap { key in convert(d[key]!).map { (key, $0) } })
        case is NSNull: return .null
        default: return nil
        }
    }

    static func parseDate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func string(_ body: [String: Any], _ key: String) throws -> String {
        guard let value = body[key] as? String, !value.isEmpty else { throw Refusal("\(key) is required") }
        return value
    }

    private func json(_ request: Request, _ handle: ([String: Any]) throws -> JSONText) async throws -> Response {
        let (data, _) = try await FakeGoogleServer.readBody(request, limit: 1 << 20)
        let object = data.isEmpty ? [:] : (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        guard let object else { return Self.answer(.object([("error", .string("the body must be a JSON object"))]), status: 400) }
        do {
            return Self.answer(try handle(object))
        } catch let refusal as Refusal {
            return Self.answer(.object([("error", .string(refusal.message))]), status: 400)
        }
    }

    static func answer(_ json: JSONText, status: Int = 200) -> Response {
        FakeGoogleServer.response(FakeResponse(
            status: status, headers: [("Content-Type", "application/json; charset=utf-8")], text: json.pretty))
    }
}
