import Crypto
import FakeGoogle
import Foundation
import Testing
import _CryptoExtras
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A plain URLSession client for the fake's tests: no redirects followed, short time-outs.
final class FGClient: Sendable {
    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        func header(_ name: String) -> String? {
            headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
    }

    final class NoRedirects: NSObject, URLSessionTaskDelegate, Sendable {
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
    }

    let base: URL
    private let session: URLSession

    init(base: URL, timeout: TimeInterval = 10) {
        self.base = base
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    func url(_ path: String) -> URL { URL(string: base.absoluteString + path)! }

    func request(
        _ method: String, _ path: String, headers: [String: String] = [:], body: Data? = nil
    ) async throws -> Answer {
        var request = URLRequest(url: url(path))
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let (data, response) = try await session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields { fields["\(name)"] = "\(value)" }
        return Answer(status: http.statusCode, headers: fields, body: data)
    }

    func postForm(_ path: String, _ fields: [(String, String)]) async throws -> Answer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)"
        }.joined(separator: "&")
        return try await request(
            "POST", path, headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Data(body.utf8))
    }

    func postJSON(_ path: String, _ object: [String: Any]) async throws -> Answer {
        try await request(
            "POST", path, headers: ["Content-Type": "application/json"],
            body: try JSONSerialization.data(withJSONObject: object))
    }

    func send(
        token: String?, message: String, userID: String = "me", contentType: String = "message/rfc822"
    ) async throws -> Answer {
        try await send(token: token, raw: Data(message.utf8), userID: userID, contentType: contentType)
    }

    func send(token: String?, raw: Data, userID: String = "me", contentType: String = "message/rfc822") async throws -> Answer {
        var headers = ["Content-Type": contentType]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        return try await request(
            "POST", "/upload/gmail/v1/users/\(userID)/messages/send?uploadType=media", headers: headers, body: raw)
    }
}

enum FGFixtures {
    static let gmailSend = "https://www.googleapis.com/auth/gmail.send"

    static let message = """
        From: Alice <alice@example.com>\r
        To: "Doe, John" <john@example.org>, bob@example.net\r
        Cc: Team: x@example.com, (comment) z@example.com;\r
        Bcc: hidden@example.com\r
        Subject: hello\r
        \r
        body\r

        """

    static func base64url(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// An RS256 JWT-bearer assertion as Google's service-account doc describes (docs/google-api.md §5.1).
    static func assertion(
        key: _RSA.Signing.PrivateKey, iss: String, sub: String?, scope: String, aud: String,
        iat: Int = Int(Date().timeIntervalSince1970), lifetime: Int = 3600
    ) throws -> String {
        var claims: [String: Any] = ["iss": iss, "scope": scope, "aud": aud, "iat": iat, "exp": iat + lifetime]
        if let sub { claims["sub"] = sub }
        let header = base64url(Data(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        let payload = base64url(try JSONSerialization.data(withJSONObject: claims))
        let signingInput = "\(header).\(payload)"
        let signature = try key.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5)
        return "\(signingInput).\(base64url(signature.rawRepresentation))"
    }

    static func pkcePair() -> (verifier: String, challenge: String) {
        let verifier = base64url(Data((0..<48).map { _ in UInt8.random(in: 0...255) }))
        let challenge = base64url(Data(SHA256.hash(data: Data(verifier.utf8))))
        return (verifier, challenge)
    }

    static func queryItems(_ location: String) -> [String: String] {
        var result: [String: String] = [:]
        for item in URLComponents(string: location)?.queryItems ?? [] { result[item.name] = item.value ?? "" }
        return result
    }
}

/// The control plane other languages use (`/_fake/...`).
/// A suite with a fake Google started in its `init`. Swift Testing has no async tear-down, so each test
/// runs its body through `stopping`, which stops the fake afterwards, also when the body throws.
protocol FakeGoogleSuite {
    var google: FakeGoogleServer { get }
}

extension FakeGoogleSuite {
    func stopping(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await google.stop()
            throw error
        }
        await google.stop()
    }
}

@Suite struct FakeGoogleClientTests: FakeGoogleSuite {
    let google: FakeGoogleServer
    let client: FGClient

    init() async throws {
        google = FakeGoogleServer()
        client = FGClient(base: try await google.start())
    }

    @Test func startReportsTheBoundPortAndStopCloses() async throws {
        try await stopping {
            let base = client.base
            #expect(base.host == "127.0.0.1")
            #expect((base.port ?? 0) != 0)
            #expect(google.tokenURL?.absoluteString == base.absoluteString + "/token")
            #expect(google.authURL?.absoluteString == base.absoluteString + "/o/oauth2/v2/auth")
            await google.stop()
            let quick = FGClient(base: base, timeout: 2)
            do {
                _ = try await quick.request("GET", "/_fake/stats")
                Issue.record("the server still answers after stop()")
            } catch {}
        }
    }

    @Test func controlPlaneSetsUpAndObserves() async throws {
        try await stopping {
            let clients = try await client.postJSON("/_fake/clients", ["client_id": "c1", "client_secret": "s1"])
            #expect(clients.status == 200)
            let users = try await client.postJSON("/_fake/users", ["email": "carol@example.com", "has_gmail": true])
            #expect(users.status == 200)
            let issued = try await client.postJSON(
                "/_fake/refresh-tokens", ["client_id": "c1", "email": "carol@example.com", "scopes": [FGFixtures.gmailSend]])
            let refresh = try #require(issued.json["refresh_token"] as? String)

            let token = try await client.postForm("/token", [
                ("client_id", "c1"), ("client_secret", "s1"), ("refresh_token", refresh), ("grant_type", "refresh_token"),
            ])
            #expect(token.status == 200)
            let access = try #require(token.json["access_token"] as? String)

            let inject = try await client.postJSON(
                "/_fake/inject",
                ["endpoint": "send", "preset": "userRateLimit", "retry_after": "2031-01-02T03:04:05.678Z", "count": 1])
            #expect(inject.status == 200, "\(inject.text)")
            let limited = try await client.send(token: access, message: FGFixtures.message)
            #expect(limited.status == 429)
            #expect(limited.text.contains(#""message": "User-rate limit exceeded.  Retry after 2031-01-02T03:04:05.678Z","#))

            let custom = try await client.postJSON(
                "/_fake/inject", ["endpoint": "send", "status": 504, "body": "upstream timeout", "headers": ["Content-Type": "text/plain"]])
            #expect(custom.status == 200)
            let timedOut = try await client.send(token: access, message: FGFixtures.message)
            #expect(timedOut.status == 504)
            #expect(timedOut.text == "upstream timeout")
            #expect(timedOut.header("Content-Type") == "text/plain")

            let sent = try await client.send(token: access, message: FGFixtures.message)
            #expect(sent.status == 200)
            let outbox = try await client.request("GET", "/_fake/outbox")
            let list = try #require(try JSONSerialization.jsonObject(with: outbox.body) as? [[String: Any]])
            #expect(list.count == 1)
            #expect((list.first?["user"] as? String) == "carol@example.com")
            #expect((list.first?["bcc"] as? [String]) == ["hidden@example.com"])
            #expect((list.first?["id"] as? String) == (sent.json["id"] as? String))

            let stats = try await client.request("GET", "/_fake/stats").json
            #expect((stats["send_requests"] as? Int) == 3)
            #expect(((stats["token_requests"] as? [String: Any])?["refresh_token"] as? Int) == 1)
            #expect((stats["pending_injections"] as? Int) == 0)

            _ = try await client.request("POST", "/_fake/reset-outbox")
            #expect(google.outbox.count == 0)

            let unknown = try await client.postJSON("/_fake/inject", ["endpoint": "send", "preset": "noSuchPreset"])
            #expect(unknown.status == 400)
            #expect(unknown.text.contains("unknown preset"))
        }
    }

    @Test func controlPlaneRegistersServiceAccountsAndConsent() async throws {
        try await stopping {
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            let added = try await client.postJSON("/_fake/service-accounts", [
                "client_email": "relay@project.iam.gserviceaccount.com",
                "public_key_pem": key.publicKey.pemRepresentation,
                "delegated_scopes": [FGFixtures.gmailSend],
            ])
            #expect(added.status == 200, "\(added.text)")
            _ = try await client.postJSON("/_fake/users", ["email": "dave@example.com"])
            let jwt = try FGFixtures.assertion(
                key: key, iss: "relay@project.iam.gserviceaccount.com", sub: "dave@example.com",
                scope: FGFixtures.gmailSend, aud: client.base.absoluteString + "/token")
            let token = try await client.postForm("/token", [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", jwt),
            ])
            #expect(token.status == 200, "\(token.text)")
            let stats = try await client.request("GET", "/_fake/stats").json
            #expect(((stats["last_assertion_claims"] as? [String: Any])?["sub"] as? String) == "dave@example.com")

            let deny = try await client.postJSON("/_fake/consent", ["action": "deny"])
            #expect(deny.status == 200)
            let bad = try await client.postJSON("/_fake/service-accounts", [
                "client_email": "x@y.iam.gserviceaccount.com", "public_key_pem": "not a key",
            ])
            #expect(bad.status == 400)
        }
    }
}
