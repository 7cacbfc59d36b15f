import Crypto
import FakeGoogle
import Foundation
import XCTest
import _CryptoExtras
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The token, consent, tokeninfo and revoke endpoints of the fake, over real HTTP.
final class FakeGoogleOAuthTests: XCTestCase {
    var google: FakeGoogleServer!
    var client: FGClient!
    let sa = "relay@project.iam.gserviceaccount.com"

    override func setUp() async throws {
        google = FakeGoogleServer()
        client = FGClient(base: try await google.start())
        google.addOAuthClient(id: "client-1.apps.googleusercontent.com", secret: "secret-1")
    }

    override func tearDown() async throws {
        await google.stop()
    }

    private func refresh(_ token: String, secret: String = "secret-1", clientID: String = "client-1.apps.googleusercontent.com") async throws -> FGClient.Answer {
        try await client.postForm("/token", [
            ("client_id", clientID), ("client_secret", secret), ("refresh_token", token), ("grant_type", "refresh_token"),
        ])
    }

    private func oauthError(_ error: String, _ description: String) -> String {
        "{\n  \"error\": \"\(error)\",\n  \"error_description\": \"\(description)\"\n}\n"
    }

    // MARK: refresh_token

    func testRefreshGrantAnswersAnAccessToken() async throws {
        let token = google.issueRefreshToken(
            clientID: "client-1.apps.googleusercontent.com", email: "alice@example.com", scopes: [FGFixtures.gmailSend])
        let answer = try await refresh(token)
        XCTAssertEqual(answer.status, 200, answer.text)
        XCTAssertEqual(answer.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertEqual(answer.json["expires_in"] as? Int, 3599)
        XCTAssertEqual(answer.json["token_type"] as? String, "Bearer")
        XCTAssertEqual(answer.json["scope"] as? String, FGFixtures.gmailSend)
        XCTAssertNil(answer.json["refresh_token"], "Google does not rotate refresh tokens")
        XCTAssertNil(answer.json["id_token"])
        // docs/google-api.md §4.1 key order.
        let keys = ["access_token", "expires_in", "scope", "token_type"].map { answer.text.range(of: "\"\($0)\"")!.lowerBound }
        XCTAssertEqual(keys, keys.sorted())
        XCTAssertEqual(google.tokenRequestCount(grantType: "refresh_token"), 1)

        google.setAccessTokenLifetime(seconds: 120)
        let shorter = try await refresh(token)
        XCTAssertEqual(shorter.json["expires_in"] as? Int, 120)
    }

    func testRefreshGrantFailuresUseGooglesBodies() async throws {
        let token = google.issueRefreshToken(
            clientID: "client-1.apps.googleusercontent.com", email: "alice@example.com", scopes: [FGFixtures.gmailSend])

        let wrongSecret = try await refresh(token, secret: "nope")
        XCTAssertEqual(wrongSecret.status, 401)
        XCTAssertEqual(wrongSecret.text, oauthError("invalid_client", "Unauthorized"))

        let unknownClient = try await refresh(token, clientID: "other")
        XCTAssertEqual(unknownClient.status, 401)
        XCTAssertEqual(unknownClient.text, oauthError("invalid_client", "The OAuth client was not found."))

        let unknownToken = try await refresh("1//not-a-token")
        XCTAssertEqual(unknownToken.status, 400)
        XCTAssertEqual(unknownToken.text, oauthError("invalid_grant", "Bad Request"))

        google.revokeRefreshToken(token)
        let revoked = try await refresh(token)
        XCTAssertEqual(revoked.status, 400)
        XCTAssertEqual(revoked.text, oauthError("invalid_grant", "Token has been expired or revoked."))

        google.addOAuthClient(id: "client-2", secret: "secret-2")
        let other = google.issueRefreshToken(clientID: "client-2", email: "bob@example.com", scopes: [FGFixtures.gmailSend])
        let mismatch = try await refresh(other)
        XCTAssertEqual(mismatch.status, 401)
        XCTAssertEqual(mismatch.text, oauthError("unauthorized_client", "Unauthorized"))

        google.deleteOAuthClient(id: "client-2")
        let deleted = try await refresh(other, secret: "secret-2", clientID: "client-2")
        XCTAssertEqual(deleted.status, 401)
        XCTAssertEqual(deleted.json["error"] as? String, "deleted_client")
        XCTAssertEqual(google.tokenRequestCount(grantType: "refresh_token"), 6)
    }

    func testInjectedTokenFailuresAreConsumedPerAccount() async throws {
        let alice = google.issueRefreshToken(
            clientID: "client-1.apps.googleusercontent.com", email: "alice@example.com", scopes: [FGFixtures.gmailSend])
        let bob = google.issueRefreshToken(
            clientID: "client-1.apps.googleusercontent.com", email: "bob@example.com", scopes: [FGFixtures.gmailSend])
        google.inject(.invalidGrantRevoked, endpoint: .token, account: "alice@example.com", count: 2)
        let bobFirst = try await refresh(bob)
        XCTAssertEqual(bobFirst.status, 200)
        for _ in 0..<2 {
            let failed = try await refresh(alice)
            XCTAssertEqual(failed.status, 400)
            XCTAssertEqual(failed.text, oauthError("invalid_grant", "Token has been expired or revoked."))
        }
        let recovered = try await refresh(alice)
        XCTAssertEqual(recovered.status, 200)
        XCTAssertEqual(google.pendingInjectionCount, 0)

        google.inject(.unauthorizedClient, endpoint: .token, count: 1)
        let unauthorized = try await refresh(bob)
        XCTAssertEqual(unauthorized.status, 401)
        XCTAssertEqual(unauthorized.text, oauthError(
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."))
    }

    // MARK: jwt-bearer

    private func jwtGrant(_ assertion: String) async throws -> FGClient.Answer {
        try await client.postForm("/token", [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
        ])
    }

    private var tokenURL: String { client.base.absoluteString + "/token" }

    func testJWTBearerGrantWithDelegation() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        try google.addServiceAccount(
            clientEmail: sa, publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [FGFixtures.gmailSend])
        google.addUser(email: "dave@example.com")

        let answer = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL))
        XCTAssertEqual(answer.status, 200, answer.text)
        XCTAssertEqual(answer.json["token_type"] as? String, "Bearer")
        XCTAssertNil(answer.json["refresh_token"])
        let claims = try XCTUnwrap(google.lastAssertionClaims)
        XCTAssertEqual(claims.iss, sa)
        XCTAssertEqual(claims.sub, "dave@example.com")
        XCTAssertEqual(claims.aud, tokenURL)
        XCTAssertEqual(claims.header["alg"], "RS256")
        XCTAssertEqual(google.tokenRequestCount(grantType: "urn:ietf:params:oauth:grant-type:jwt-bearer"), 1)

        // The token sends as the delegated user.
        let access = try XCTUnwrap(answer.json["access_token"] as? String)
        let sent = try await client.send(token: access, message: FGFixtures.message)
        XCTAssertEqual(sent.status, 200, sent.text)
        XCTAssertEqual(google.outbox.last?.user, "dave@example.com")
    }

    func testJWTBearerRejectsAWrongKey() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        try google.addServiceAccount(
            clientEmail: sa, publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [FGFixtures.gmailSend])
        google.addUser(email: "dave@example.com")
        let answer = try await jwtGrant(try FGFixtures.assertion(
            key: other, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL))
        XCTAssertEqual(answer.status, 400)
        XCTAssertEqual(answer.text, oauthError("invalid_grant", "Invalid JWT Signature."))

        let garbage = try await jwtGrant("not.a.jwt")
        XCTAssertEqual(garbage.text, oauthError("invalid_grant", "Invalid JWT Signature."))
    }

    func testJWTBearerChecksTimesScopesAndSubject() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        try google.addServiceAccount(
            clientEmail: sa, publicKeyPEM: key.pemRepresentation, delegatedScopes: [FGFixtures.gmailSend])
        google.addUser(email: "dave@example.com")
        let now = Int(Date().timeIntervalSince1970)
        let skew = oauthError(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")

        let tooLong = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL, lifetime: 7200))
        XCTAssertEqual(tooLong.status, 400)
        XCTAssertEqual(tooLong.text, skew)

        let future = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL, iat: now + 3600))
        XCTAssertEqual(future.text, skew)

        let expired = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL, iat: now - 7200))
        XCTAssertEqual(expired.text, skew)

        let wrongAudience = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: "https://oauth2.googleapis.com/token"))
        XCTAssertEqual(wrongAudience.status, 400)
        XCTAssertEqual(wrongAudience.json["error"] as? String, "invalid_grant")

        let notDelegated = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "dave@example.com", scope: "https://mail.google.com/", aud: tokenURL))
        XCTAssertEqual(notDelegated.status, 401)
        XCTAssertEqual(notDelegated.text, oauthError(
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."))

        let unknownUser = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "nobody@example.com", scope: FGFixtures.gmailSend, aud: tokenURL))
        XCTAssertEqual(unknownUser.status, 400)
        XCTAssertEqual(unknownUser.text, oauthError("invalid_grant", "Invalid email or User ID"))

        let commas = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend + ",openid", aud: tokenURL))
        XCTAssertEqual(commas.text, oauthError("invalid_scope", "Invalid OAuth scope or ID token audience provided."))

        // No `sub`: a token for the service account itself, which has no mailbox (docs/google-api.md §3).
        let itself = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: nil, scope: FGFixtures.gmailSend, aud: tokenURL))
        XCTAssertEqual(itself.status, 200, itself.text)
        let sent = try await client.send(token: itself.json["access_token"] as? String, message: FGFixtures.message)
        XCTAssertEqual(sent.status, 400)
        XCTAssertTrue(sent.text.contains(#""message": "Precondition check failed.""#))
    }

    func testJWTBearerWithoutDelegationIsUnauthorized() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        try google.addServiceAccount(clientEmail: sa, publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [])
        google.addUser(email: "dave@example.com")
        let answer = try await jwtGrant(try FGFixtures.assertion(
            key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL))
        XCTAssertEqual(answer.status, 401)
        XCTAssertEqual(answer.json["error"] as? String, "unauthorized_client")
    }

    // MARK: consent + authorization_code

    private func consent(challenge: String?, redirect: String, state: String = "st-123", method: String? = "S256") async throws -> FGClient.Answer {
        var items = [
            URLQueryItem(name: "client_id", value: "client-1.apps.googleusercontent.com"),
            URLQueryItem(name: "redirect_uri", value: redirect),
            URLQueryItem(name: "response_type", value: "code"),
            URLQueryItem(name: "scope", value: "\(FGFixtures.gmailSend) openid email"),
            URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "login_hint", value: "erin@example.com"),
            URLQueryItem(name: "access_type", value: "offline"),
            URLQueryItem(name: "prompt", value: "consent"),
        ]
        if let challenge { items.append(URLQueryItem(name: "code_challenge", value: challenge)) }
        if let method { items.append(URLQueryItem(name: "code_challenge_method", value: method)) }
        var components = URLComponents()
        components.queryItems = items
        let query = components.percentEncodedQuery!.replacingOccurrences(of: "+", with: "%2B")
        return try await client.request("GET", "/o/oauth2/v2/auth?" + query)
    }

    private func exchange(code: String, verifier: String?, redirect: String) async throws -> FGClient.Answer {
        var fields = [
            ("code", code), ("client_id", "client-1.apps.googleusercontent.com"), ("client_secret", "secret-1"),
            ("redirect_uri", redirect), ("grant_type", "authorization_code"),
        ]
        if let verifier { fields.append(("code_verifier", verifier)) }
        return try await client.postForm("/token", fields)
    }

    func testConsentRedirectAndCodeExchangeWithPKCE() async throws {
        let redirect = "http://127.0.0.1:53682/"
        let pkce = FGFixtures.pkcePair()
        let answer = try await consent(challenge: pkce.challenge, redirect: redirect)
        XCTAssertEqual(answer.status, 302, answer.text)
        let location = try XCTUnwrap(answer.header("Location"))
        XCTAssertTrue(location.hasPrefix(redirect + "?"), location)
        let query = FGFixtures.queryItems(location)
        XCTAssertEqual(query["state"], "st-123")
        XCTAssertEqual(query["scope"], "\(FGFixtures.gmailSend) openid email")
        let code = try XCTUnwrap(query["code"])

        let seen = try XCTUnwrap(google.lastAuthorizationRequest)
        XCTAssertEqual(seen.loginHint, "erin@example.com")
        XCTAssertEqual(seen.prompt, "consent")
        XCTAssertEqual(seen.accessType, "offline")
        XCTAssertEqual(seen.codeChallengeMethod, "S256")

        let wrongVerifier = try await exchange(code: code, verifier: FGFixtures.pkcePair().verifier, redirect: redirect)
        XCTAssertEqual(wrongVerifier.status, 400)
        XCTAssertEqual(wrongVerifier.text, oauthError("invalid_grant", "Invalid code verifier."))

        let wrongRedirect = try await exchange(code: code, verifier: pkce.verifier, redirect: "http://127.0.0.1:1/")
        XCTAssertEqual(wrongRedirect.status, 400)
        XCTAssertEqual(wrongRedirect.json["error"] as? String, "redirect_uri_mismatch")

        let exchanged = try await exchange(code: code, verifier: pkce.verifier, redirect: redirect)
        XCTAssertEqual(exchanged.status, 200, exchanged.text)
        XCTAssertEqual(exchanged.json["scope"] as? String, "\(FGFixtures.gmailSend) openid email")
        XCTAssertNotNil(exchanged.json["id_token"], "openid was granted")
        let refreshToken = try XCTUnwrap(exchanged.json["refresh_token"] as? String)
        XCTAssertEqual(google.tokenRequestCount(grantType: "authorization_code"), 3)

        // Codes are single use.
        let again = try await exchange(code: code, verifier: pkce.verifier, redirect: redirect)
        XCTAssertEqual(again.status, 400)
        XCTAssertEqual(again.text, oauthError("invalid_grant", "Bad Request"))

        // The refresh token works, and belongs to the login_hint's user.
        let refreshed = try await refresh(refreshToken)
        XCTAssertEqual(refreshed.status, 200)
        let info = try await client.request("GET", "/tokeninfo?access_token=\(refreshed.json["access_token"] as! String)")
        XCTAssertEqual(info.json["email"] as? String, "erin@example.com")
    }

    func testConsentGrantsFewerScopesOrDenies() async throws {
        let redirect = "http://127.0.0.1:40000/callback"
        google.setConsent(.approve(grantedScopes: ["openid"], email: "frank@gmail.com"))
        let partial = try await consent(challenge: FGFixtures.pkcePair().challenge, redirect: redirect)
        XCTAssertEqual(FGFixtures.queryItems(partial.header("Location") ?? "")["scope"], "openid")

        google.setConsent(.deny)
        let denied = try await consent(challenge: FGFixtures.pkcePair().challenge, redirect: redirect, state: "s2")
        XCTAssertEqual(denied.status, 302)
        XCTAssertEqual(denied.header("Location"), redirect + "?error=access_denied&state=s2")
    }

    func testConsentChecksClientRedirectAndChallenge() async throws {
        let remote = try await consent(challenge: FGFixtures.pkcePair().challenge, redirect: "https://evil.example/cb")
        XCTAssertEqual(remote.status, 400)
        XCTAssertTrue(remote.text.contains("redirect_uri_mismatch"))

        let badChallenge = try await consent(challenge: "short", redirect: "http://127.0.0.1:1234/")
        XCTAssertEqual(badChallenge.status, 400)

        let badMethod = try await consent(challenge: FGFixtures.pkcePair().challenge, redirect: "http://127.0.0.1:1234/", method: "S512")
        XCTAssertEqual(badMethod.status, 400)

        let unknown = try await client.request("GET", "/o/oauth2/v2/auth?client_id=nope&redirect_uri=http://127.0.0.1:1/&response_type=code&scope=openid")
        XCTAssertEqual(unknown.status, 401)
        XCTAssertTrue(unknown.text.contains("invalid_client"))
        XCTAssertEqual(google.authorizationRequests.count, 4)
    }

    func testCodeWithoutChallengeRefusesAVerifier() async throws {
        let redirect = "http://127.0.0.1:1234/"
        let answer = try await consent(challenge: nil, redirect: redirect, method: nil)
        let code = try XCTUnwrap(FGFixtures.queryItems(answer.header("Location") ?? "")["code"])
        let withVerifier = try await exchange(code: code, verifier: FGFixtures.pkcePair().verifier, redirect: redirect)
        XCTAssertEqual(withVerifier.text, oauthError("invalid_grant", "code_verifier or verifier is not needed."))
        let malformed = try await exchange(code: "garbage", verifier: nil, redirect: redirect)
        XCTAssertEqual(malformed.text, oauthError("invalid_grant", "Malformed auth code."))
    }

    // MARK: tokeninfo and revoke

    func testTokeninfoAndRevoke() async throws {
        let access = google.issueAccessToken(
            clientID: "client-1.apps.googleusercontent.com", email: "alice@example.com",
            scopes: [FGFixtures.gmailSend, "openid", "email"])
        let info = try await client.request("GET", "/tokeninfo?access_token=\(access)")
        XCTAssertEqual(info.status, 200)
        XCTAssertEqual(info.json["aud"] as? String, "client-1.apps.googleusercontent.com")
        XCTAssertEqual(info.json["azp"] as? String, "client-1.apps.googleusercontent.com")
        XCTAssertEqual(info.json["email"] as? String, "alice@example.com")
        XCTAssertEqual(info.json["email_verified"] as? String, "true")
        XCTAssertNotNil(info.json["exp"] as? String, "values are strings")
        XCTAssertNotNil(info.json["expires_in"] as? String)
        XCTAssertNotNil(info.json["sub"] as? String)

        let posted = try await client.postForm("/tokeninfo", [("access_token", access)])
        XCTAssertEqual(posted.status, 200)

        let invalid = try await client.request("GET", "/tokeninfo?access_token=ya29.nope")
        XCTAssertEqual(invalid.status, 400)
        XCTAssertEqual(invalid.text, oauthError("invalid_token", "Invalid Value"))

        let refresh = google.issueRefreshToken(
            clientID: "client-1.apps.googleusercontent.com", email: "bob@example.com", scopes: [FGFixtures.gmailSend])
        let bobAccess = try await self.refresh(refresh).json["access_token"] as! String
        let revoked = try await client.postForm("/revoke", [("token", refresh)])
        XCTAssertEqual(revoked.status, 200)
        let after = try await client.request("GET", "/tokeninfo?access_token=\(bobAccess)")
        XCTAssertEqual(after.status, 400, "revoking the refresh token ends its access tokens")
        let refreshAfter = try await self.refresh(refresh)
        XCTAssertEqual(refreshAfter.text, oauthError("invalid_grant", "Token has been expired or revoked."))

        let twice = try await client.request("POST", "/revoke?token=\(refresh)")
        XCTAssertEqual(twice.status, 400)
        XCTAssertEqual(twice.text, oauthError("invalid_token", "Token expired or revoked"))
        XCTAssertEqual(google.revokeRequestCount, 2)
        XCTAssertEqual(google.tokeninfoRequestCount, 4)
    }
}
