import FakeGoogle
import Foundation
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@testable import GmailAPI

/// The pure parts of the installed-app flow (PKCE, consent URL, redirect parsing) and the code
/// exchange over real HTTP against the fake Google.
final class InstalledAppFlowTests: XCTestCase {
    // MARK: PKCE

    func testPKCEMatchesRFC7636AppendixB() throws {
        let octets: [UInt8] = [
            116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186,
            22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
        ]
        XCTAssertEqual(Base64URL.encode(Data(octets)), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        let pkce = try XCTUnwrap(PKCE(verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
        XCTAssertEqual(pkce.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        XCTAssertEqual(PKCE.method, "S256")
    }

    func testRandomVerifiersAreWellFormedAndDistinct() {
        var seen = Set<String>()
        for _ in 0..<100 {
            let pkce = PKCE.random()
            XCTAssertEqual(pkce.verifier.count, 43)
            XCTAssertNotNil(PKCE(verifier: pkce.verifier), pkce.verifier)
            XCTAssertEqual(pkce.challenge.count, 43)
            XCTAssertFalse(pkce.challenge.contains("="))
            seen.insert(pkce.verifier)
        }
        XCTAssertEqual(seen.count, 100)
    }

    func testVerifierRulesOfRFC7636() {
        XCTAssertNil(PKCE(verifier: String(repeating: "a", count: 42)), "too short")
        XCTAssertNotNil(PKCE(verifier: String(repeating: "a", count: 43)))
        XCTAssertNotNil(PKCE(verifier: String(repeating: "~", count: 128)))
        XCTAssertNil(PKCE(verifier: String(repeating: "a", count: 129)), "too long")
        XCTAssertNil(PKCE(verifier: String(repeating: "a", count: 42) + "+"), "+ is not unreserved")
        XCTAssertNil(PKCE(verifier: String(repeating: "a", count: 42) + "="))
    }

    // MARK: Consent URL

    private func consent(loginHint: String? = "alice@example.com") -> ConsentRequest {
        ConsentRequest(
            clientID: "123-abc.apps.googleusercontent.com", redirectURI: ConsentRequest.loopbackRedirectURI(port: 43123),
            scopes: GmailScope.reauthDefault, state: "st-ate_1", codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            loginHint: loginHint)
    }

    private func query(_ url: URL) -> [String: String] {
        let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        XCTAssertEqual(Set(items.map(\.name)).count, items.count, "a parameter appears twice: \(url)")
        return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
    }

    func testConsentURLCarriesEveryParameterGoogleNeeds() throws {
        let url = consent().url(authURL: URL(string: "https://accounts.google.com/o/oauth2/v2/auth")!)
        XCTAssertTrue(url.absoluteString.hasPrefix("https://accounts.google.com/o/oauth2/v2/auth?"), url.absoluteString)
        XCTAssertEqual(query(url), [
            "client_id": "123-abc.apps.googleusercontent.com",
            "redirect_uri": "http://127.0.0.1:43123/",
            "response_type": "code",
            "scope": "https://www.googleapis.com/auth/gmail.send openid email",
            "access_type": "offline",
            "prompt": "consent",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
            "state": "st-ate_1",
            "login_hint": "alice@example.com",
        ])
        // Spaces as %20 and the redirect URI fully escaped, so no browser or proxy reads it differently.
        XCTAssertTrue(url.absoluteString.contains("scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fgmail.send%20openid%20email"), url.absoluteString)
        XCTAssertTrue(url.absoluteString.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A43123%2F"), url.absoluteString)
    }

    func testConsentURLWithoutKnownAddressHasNoLoginHint() {
        let url = consent(loginHint: nil).url(authURL: URL(string: "http://127.0.0.1:9/o/oauth2/v2/auth")!)
        XCTAssertNil(query(url)["login_hint"])
        XCTAssertEqual(query(url)["client_id"], "123-abc.apps.googleusercontent.com")
    }

    func testConsentURLKeepsAQueryTheAuthURLAlreadyHas() {
        let url = consent().url(authURL: URL(string: "https://proxy.example/auth?tenant=x")!)
        XCTAssertEqual(query(url)["tenant"], "x")
        XCTAssertEqual(query(url)["state"], "st-ate_1")
    }

    func testRandomStatesDiffer() {
        let states = Set((0..<50).map { _ in ConsentRequest.randomState() })
        XCTAssertEqual(states.count, 50)
        XCTAssertTrue(states.allSatisfy { $0.count == 32 })
    }

    func testScopeNamesExpand() {
        XCTAssertEqual(GmailScope.expand("gmail.send"), GmailScope.send)
        XCTAssertEqual(GmailScope.expand("https://mail.google.com/"), "https://mail.google.com/")
        XCTAssertEqual(GmailScope.expand("openid"), "openid")
        XCTAssertEqual(GmailScope.expand("email"), "email")
    }

    // MARK: Redirect parsing

    /// Fixture table: what arrives (a request target or a pasted address) -> the verdict.
    func testRedirectTable() {
        let state = "expected-state"
        let cases: [(String, Result<AuthorizationResponse, AuthorizationRedirectError>, UInt)] = [
            ("/?state=expected-state&code=4/0AbCd&scope=https://www.googleapis.com/auth/gmail.send%20openid",
             .success(AuthorizationResponse(code: "4/0AbCd", scope: "https://www.googleapis.com/auth/gmail.send openid")), #line),
            ("http://127.0.0.1:5555/?state=expected-state&code=4%2F0AbCd&authuser=0&prompt=consent",
             .success(AuthorizationResponse(code: "4/0AbCd", scope: nil)), #line),
            ("  http://127.0.0.1:5555/?code=4/0X&state=expected-state  \n",
             .success(AuthorizationResponse(code: "4/0X", scope: nil)), #line),
            ("<http://127.0.0.1:5555/?code=4/0Y&state=expected-state>",
             .success(AuthorizationResponse(code: "4/0Y", scope: nil)), #line),
            ("\"http://127.0.0.1:5555/?code=4/0Z&state=expected-state\"",
             .success(AuthorizationResponse(code: "4/0Z", scope: nil)), #line),
            ("/?state=other-state&code=4/0AbCd", .failure(.stateMismatch), #line),
            ("/?code=4/0AbCd", .failure(.stateMismatch), #line),
            ("/?state=expected-stat&code=4/0AbCd", .failure(.stateMismatch), #line),
            ("/?error=access_denied&state=expected-state", .failure(.accessDenied), #line),
            // A denial carrying another run's state is not ours either.
            ("/?error=access_denied&state=other", .failure(.stateMismatch), #line),
            ("/?error=admin_policy_enforced&error_description=Blocked%20by%20admin&state=expected-state",
             .failure(.authorizationError(error: "admin_policy_enforced", description: "Blocked by admin")), #line),
            ("/?state=expected-state", .failure(.missingCode), #line),
            ("/?state=expected-state&code=", .failure(.missingCode), #line),
            ("/", .failure(.notARedirect), #line),
            ("/favicon.ico", .failure(.notARedirect), #line),
            ("/?foo=bar", .failure(.notARedirect), #line),
            ("hello there", .failure(.notARedirect), #line),
            ("", .failure(.notARedirect), #line),
        ]
        for (input, expected, line) in cases {
            XCTAssertEqual(AuthorizationRedirect.parse(input, expectedState: state), expected, "input \(input)", line: line)
        }
    }

    func testRedirectErrorsNeverShowTheCode() {
        let errors: [AuthorizationRedirectError] = [
            .notARedirect, .stateMismatch, .accessDenied, .missingCode, .authorizationError(error: "org_internal", description: nil),
        ]
        for error in errors {
            XCTAssertFalse(error.description.contains("4/0"), error.description)
            XCTAssertFalse(error.description.isEmpty)
        }
        XCTAssertTrue(AuthorizationRedirectError.accessDenied.description.contains("access_denied"))
        XCTAssertTrue(AuthorizationRedirectError.stateMismatch.description.contains("state"))
    }

}

/// The authorization-code exchange, tokeninfo and revoke over real HTTP against the fake Google.
final class InstalledAppExchangeTests: XCTestCase {
    var google: FakeGoogleServer!
    let transport = HTTPTransport(timeout: 10)

    override func setUp() async throws {
        google = FakeGoogleServer()
        _ = try await google.start()
        google.addOAuthClient(id: "cid", secret: "csecret")
    }

    override func tearDown() async throws {
        await google.stop()
    }

    // MARK: Code exchange against the fake Google

    func testCodeExchangeWithPKCEAgainstTheFake() async throws {
        let pkce = PKCE.random()
        let redirectURI = ConsentRequest.loopbackRedirectURI(port: 40000)
        let request = ConsentRequest(
            clientID: "cid", redirectURI: redirectURI, scopes: GmailScope.reauthDefault, state: ConsentRequest.randomState(),
            codeChallenge: pkce.challenge, loginHint: "owner@example.com")

        // Follow the consent URL the way a browser would, without following the redirect.
        let code = try await consentCode(request.url(authURL: google.authURL!), state: request.state)
        XCTAssertEqual(google.lastAuthorizationRequest?.parameters["code_challenge_method"], "S256")

        let exchange = AuthorizationCodeGrant(clientID: "cid", clientSecret: "csecret", tokenURL: google.tokenURL!, transport: transport)
        let grant = try await exchange.exchange(code: code, verifier: pkce.verifier, redirectURI: redirectURI, now: Date())
        XCTAssertTrue(grant.canSend)
        XCTAssertEqual(grant.grantedScopes, Set(GmailScope.reauthDefault))
        XCTAssertEqual(grant.idTokenEmail, "owner@example.com")
        XCTAssertFalse(grant.refreshToken.isEmpty)

        // The new refresh token works, and tokeninfo knows the address.
        let refreshed = try await RefreshTokenGrant(
            clientID: "cid", clientSecret: "csecret", refreshToken: grant.refreshToken, tokenURL: google.tokenURL!, transport: transport
        ).fetchToken(now: Date())
        let endpoints = GoogleEndpoints(
            authURL: google.authURL!, tokenURL: google.tokenURL!, gmailURL: google.baseURL!, tokeninfoURL: google.tokeninfoURL!,
            revokeURL: google.revokeURL!)
        let info = try await TokenInfo.fetch(accessToken: refreshed.value, endpoints: endpoints, transport: transport).get()
        XCTAssertEqual(info.email, "owner@example.com")
        XCTAssertTrue(info.scopes.contains(GmailScope.send))

        // Codes are single use: a second exchange is invalid_grant, classified auth_code_invalid.
        do {
            _ = try await exchange.exchange(code: code, verifier: pkce.verifier, redirectURI: redirectURI, now: Date())
            XCTFail("a used code was accepted")
        } catch let error as TokenEndpointError {
            XCTAssertEqual(error.response?.status, 400)
        }
    }

    func testWrongVerifierIsAuthCodeInvalid() async throws {
        let pkce = PKCE.random()
        let redirectURI = ConsentRequest.loopbackRedirectURI(port: 40001)
        let request = ConsentRequest(
            clientID: "cid", redirectURI: redirectURI, scopes: GmailScope.reauthDefault, state: "s", codeChallenge: pkce.challenge)
        let code = try await consentCode(request.url(authURL: google.authURL!), state: "s")
        let exchange = AuthorizationCodeGrant(clientID: "cid", clientSecret: "csecret", tokenURL: google.tokenURL!, transport: transport)
        do {
            _ = try await exchange.exchange(code: code, verifier: PKCE.random().verifier, redirectURI: redirectURI, now: Date())
            XCTFail("a wrong verifier was accepted")
        } catch let error as TokenEndpointError {
            let failure = try XCTUnwrap(GoogleFailure(FailedCall(tokenError: error), accountKind: .userGrant, now: Date()))
            let verdict = FailureClassifier.classify(failure)
            XCTAssertEqual(verdict.problem, .authCodeInvalid)
            XCTAssertEqual(verdict.detail.googleMessage, "Invalid code verifier.")
        }
    }

    func testRevokeOutcomes() async throws {
        let token = google.issueRefreshToken(clientID: "cid", email: "owner@example.com", scopes: [GmailScope.send])
        guard case .revoked = await TokenRevocation.revoke(token: token, endpoint: google.revokeURL!, transport: transport) else {
            return XCTFail("expected revoked")
        }
        guard case .alreadyInvalid = await TokenRevocation.revoke(token: token, endpoint: google.revokeURL!, transport: transport) else {
            return XCTFail("expected alreadyInvalid for a revoked token")
        }
        google.inject(.custom(status: 503, headers: [:], body: "unavailable"), endpoint: .revoke, account: nil, count: 1)
        guard case .failed(let call) = await TokenRevocation.revoke(token: token, endpoint: google.revokeURL!, transport: transport) else {
            return XCTFail("expected failed")
        }
        XCTAssertEqual(call.response?.status, 503)
        XCTAssertEqual(google.revokeRequestCount, 3)
    }

    /// GET the consent URL without following the redirect; the code from its Location.
    private func consentCode(_ url: URL, state: String) async throws -> String {
        let location = try await NoRedirect.location(of: url)
        return try AuthorizationRedirect.parse(location, expectedState: state).get().code
    }
}

/// A URLSession that reports a 302's Location instead of following it.
private final class NoRedirect: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }

    static func location(of url: URL) async throws -> String {
        let delegate = NoRedirect()
        let session = URLSession(configuration: .ephemeral, delegate: delegate, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        let (_, response) = try await session.data(from: url)
        let http = try XCTUnwrap(response as? HTTPURLResponse)
        XCTAssertEqual(http.statusCode, 302)
        return try XCTUnwrap(http.value(forHTTPHeaderField: "Location"))
    }
}
