import FakeGoogle
import Foundation
import XCTest
import _CryptoExtras

@testable import GmailAPI

/// The production token grants, token cache and Gmail sender over real HTTP against the fake Google.
final class GmailClientTests: XCTestCase {
    var fake: FakeGoogleServer!
    var endpoints: GoogleEndpoints!
    let transport = HTTPTransport(timeout: 10)
    var directory: URL!

    override func setUp() async throws {
        fake = FakeGoogleServer()
        let base = try await fake.start()
        endpoints = GoogleEndpoints(
            authURL: fake.authURL!, tokenURL: fake.tokenURL!, gmailURL: base, tokeninfoURL: fake.tokeninfoURL!, revokeURL: fake.revokeURL!
        )
        fake.addOAuthClient(id: "client-1", secret: "secret-1")
        fake.addUser(email: "owner@example.com")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("gmailapi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        await fake.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    private func userCache() -> TokenCache {
        let refreshToken = fake.issueRefreshToken(clientID: "client-1", email: "owner@example.com", scopes: [GmailScope.send])
        return TokenCache(grant: RefreshTokenGrant(clientID: "client-1", clientSecret: "secret-1", refreshToken: refreshToken, tokenURL: endpoints.tokenURL, transport: transport))
    }

    private func messageFile(_ text: String) throws -> URL {
        let url = directory.appendingPathComponent("\(UUID().uuidString).eml")
        try Data(text.utf8).write(to: url)
        return url
    }

    func testConcurrentSendersShareOneRefresh() async throws {
        let cache = userCache()
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 { group.addTask { try await cache.token().value } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        XCTAssertEqual(tokens.count, 1)
        XCTAssertEqual(fake.tokenRequestCount(grantType: "refresh_token"), 1)
        let refreshes = await cache.refreshCount
        XCTAssertEqual(refreshes, 1)
    }

    func testTokenIsRefreshedAheadOfExpiry() async throws {
        fake.setAccessTokenLifetime(seconds: 120)  // below the 300 s margin: every call refreshes
        let cache = userCache()
        _ = try await cache.token()
        _ = try await cache.token()
        XCTAssertEqual(fake.tokenRequestCount(grantType: "refresh_token"), 2)
    }

    func testSendDeliversToHeaderRecipients() async throws {
        let file = try messageFile("From: owner@example.com\r\nTo: a@example.net\r\nBcc: hidden@example.org\r\nSubject: hi\r\n\r\nbody\r\n")
        let (outcome, exchanges) = await GmailSender(endpoints: endpoints, transport: transport).send(messageFile: file, tokens: userCache())
        guard case .sent(let id, let thread, _) = outcome else { return XCTFail("expected sent, got \(outcome)") }
        XCTAssertEqual(id.count, 16)
        XCTAssertNotNil(thread)
        XCTAssertEqual(exchanges.count, 1)
        let sent = try XCTUnwrap(fake.outbox.first)
        XCTAssertEqual(Set(sent.recipients), ["a@example.net", "hidden@example.org"])
        XCTAssertEqual(sent.raw, try Data(contentsOf: file))
    }

    func testExpiredTokenGetsOneRefreshAndOneRetry() async throws {
        let cache = userCache()
        _ = try await cache.token()
        fake.expireAccessTokens()  // Google revoked or expired it early: Gmail answers 401
        let file = try messageFile("To: a@example.net\r\nSubject: x\r\n\r\nbody\r\n")
        let (outcome, exchanges) = await GmailSender(endpoints: endpoints, transport: transport).send(messageFile: file, tokens: cache)
        guard case .sent = outcome else { return XCTFail("expected sent after one retry, got \(outcome)") }
        XCTAssertEqual(exchanges.map { $0.response?.status }, [401, 200])
        XCTAssertEqual(fake.tokenRequestCount(grantType: "refresh_token"), 2)
    }

    func testGmailErrorKeepsTheWholeBody() async throws {
        fake.inject(.invalidArgumentRecipient, endpoint: .send)
        let file = try messageFile("To: a@example.net\r\nSubject: x\r\n\r\nbody\r\n")
        let (outcome, _) = await GmailSender(endpoints: endpoints, transport: transport).send(messageFile: file, tokens: userCache())
        guard case .failed(let call) = outcome else { return XCTFail("expected failure") }
        XCTAssertEqual(call.endpoint, .gmailSend)
        XCTAssertEqual(call.response?.status, 400)
        XCTAssertTrue(call.response?.bodyText.contains("Recipient address required") ?? false, call.description)
        XCTAssertTrue(fake.outbox.isEmpty)
    }

    func testRevokedGrantFailsAtTheTokenEndpointWithItsBody() async throws {
        let refreshToken = fake.issueRefreshToken(clientID: "client-1", email: "owner@example.com", scopes: [GmailScope.send])
        fake.revokeRefreshToken(refreshToken)
        let cache = TokenCache(grant: RefreshTokenGrant(clientID: "client-1", clientSecret: "secret-1", refreshToken: refreshToken, tokenURL: endpoints.tokenURL, transport: transport))
        let file = try messageFile("To: a@example.net\r\n\r\nbody\r\n")
        let (outcome, _) = await GmailSender(endpoints: endpoints, transport: transport).send(messageFile: file, tokens: cache)
        guard case .failed(let call) = outcome else { return XCTFail("expected failure") }
        XCTAssertEqual(call.endpoint, .token)
        XCTAssertEqual(call.response?.status, 400)
        XCTAssertTrue(call.response?.bodyText.contains("invalid_grant") ?? false, call.description)
        XCTAssertEqual(fake.sendRequestCount, 0)
    }

    func testUnreachableGoogleIsATransportFailure() async throws {
        let closed = GoogleEndpoints(authURL: endpoints.authURL, tokenURL: URL(string: "http://127.0.0.1:1/token")!, gmailURL: endpoints.gmailURL, tokeninfoURL: endpoints.tokeninfoURL, revokeURL: endpoints.revokeURL)
        let cache = TokenCache(grant: RefreshTokenGrant(clientID: "c", clientSecret: "s", refreshToken: "r", tokenURL: closed.tokenURL, transport: transport))
        do {
            _ = try await cache.token()
            XCTFail("expected an error")
        } catch let error as TokenEndpointError {
            XCTAssertNil(error.response)
            XCTAssertNotNil(error.transportError)
        }
    }

    // MARK: Service accounts

    private func serviceAccountKeyFile(pkcs1: Bool) throws -> (json: Data, key: _RSA.Signing.PrivateKey) {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let pem = pkcs1 ? key.pemRepresentation : key.pkcs8PEMRepresentation
        let object: [String: Any] = [
            "type": "service_account", "project_id": "p", "private_key_id": "abc123",
            "private_key": pem, "client_email": "relay@p.iam.gserviceaccount.com", "client_id": "1234",
            "token_uri": endpoints.tokenURL.absoluteString,
        ]
        return (try JSONSerialization.data(withJSONObject: object), key)
    }

    func testServiceAccountWithPKCS8AndPKCS1Keys() async throws {
        for pkcs1 in [false, true] {
            let (json, key) = try serviceAccountKeyFile(pkcs1: pkcs1)
            XCTAssertTrue(String(decoding: json, as: UTF8.self).contains(pkcs1 ? "BEGIN RSA PRIVATE KEY" : "BEGIN PRIVATE KEY"))
            try fake.addServiceAccount(clientEmail: "relay@p.iam.gserviceaccount.com", publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [GmailScope.send])
            let parsed = try ServiceAccountKey(json: json)
            let grant = ServiceAccountGrant(key: parsed, subject: "owner@example.com", configuredTokenURL: URL(string: "http://unused.invalid/token")!, transport: transport)
            let token = try await grant.fetchToken(now: Date())
            XCTAssertFalse(token.value.isEmpty)
            let claims = try XCTUnwrap(fake.lastAssertionClaims)
            XCTAssertEqual(claims.iss, "relay@p.iam.gserviceaccount.com")
            XCTAssertEqual(claims.sub, "owner@example.com")
            XCTAssertEqual(claims.aud, endpoints.tokenURL.absoluteString)
        }
    }

    func testServiceAccountWithoutSubjectCannotSend() async throws {
        let (json, key) = try serviceAccountKeyFile(pkcs1: false)
        try fake.addServiceAccount(clientEmail: "relay@p.iam.gserviceaccount.com", publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [GmailScope.send])
        let grant = ServiceAccountGrant(key: try ServiceAccountKey(json: json), subject: nil, configuredTokenURL: endpoints.tokenURL, transport: transport)
        let file = try messageFile("To: a@example.net\r\n\r\nbody\r\n")
        let (outcome, _) = await GmailSender(endpoints: endpoints, transport: transport).send(messageFile: file, tokens: TokenCache(grant: grant))
        guard case .failed(let call) = outcome else { return XCTFail("expected failedPrecondition") }
        XCTAssertEqual(call.response?.status, 400)
        XCTAssertTrue(call.response?.bodyText.contains("FAILED_PRECONDITION") ?? false, call.description)
    }

    func testKeyFileOfTheWrongKindIsExplained() throws {
        let clientFile = Data(#"{"installed":{"client_id":"x","client_secret":"y"}}"#.utf8)
        XCTAssertThrowsError(try ServiceAccountKey(json: clientFile)) { error in
            XCTAssertTrue("\(error)".contains("--client-secret-file"), "\(error)")
        }
        XCTAssertThrowsError(try ServiceAccountKey(json: Data("not json".utf8)))
    }
}
