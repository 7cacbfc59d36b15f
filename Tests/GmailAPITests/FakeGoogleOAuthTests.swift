import Crypto
import FakeGoogle
import Foundation
import Testing
import _CryptoExtras
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The token, consent, tokeninfo and revoke endpoints of the fake, over real HTTP.
@Suite struct FakeGoogleOAuthTests: FakeGoogleSuite {
    let google: FakeGoogleServer
    let client: FGClient
    let sa = "relay@project.iam.gserviceaccount.com"

    init() async throws {
        google = FakeGoogleServer()
        client = FGClient(base: try await google.start())
        google.addOAuthClient(id: "client-1.apps.googleusercontent.com", secret: "secret-1")
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

    @Test func refreshGrantAnswersAnAccessToken() async throws {
        try await stopping {
            let token = google.issueRefreshToken(
                clientID: "client-1.apps.googleusercontent.com", email: "alice@example.com", scopes: [FGFixtures.gmailSend])
            let answer = try await refresh(token)
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.header("Content-Type") == "application/json; charset=utf-8")
            #expect((answer.json["expires_in"] as? Int) == 3599)
            #expect((answer.json["token_type"] as? String) == "Bearer")
            #expect((answer.json["scope"] as? String) == FGFixtures.gmailSend)
            #expect(answer.json["refresh_token"] == nil, "Google does not rotate refresh tokens")
            #expect(answer.json["id_token"] == nil)
            // docs/google-api.md §4.1 key order.
            let keys = ["access_token", "expires_in", "scope", "token_type"].map { answer.text.range(of: "\"\($0)\"")!.lowerBound }
            #expect(keys == keys.sorted())
            #expect(google.tokenRequestCount(grantType: "refresh_token") == 1)

            google.setAccessTokenLifetime(seconds: 120)
            let shorter = try await refresh(token)
            #expect((shorter.json["expires_in"] as? Int) == 120)
        }
    }

    @Test func refreshGrantFailuresUseGooglesBodies() async throws {
        try await stopping {
            let token = google.issueRefreshToken(
                clientID: "client-1.apps.googleusercontent.com", email: "alice@example.com", scopes: [FGFixtures.gmailSend])

            let wrongSecret = try await refresh(token, secret: "nope")
            #expect(wrongSecret.status == 401)
            #expect(wrongSecret.text == oauthError("invalid_client", "Unauthorized"))

            let unknownClient = try await refresh(token, clientID: "other")
            #expect(unknownClient.status == 401)
            #expect(unknownClient.text == oauthError("invalid_client", "The OAuth client was not found."))

            let unknownToken = try await refresh("1//not-a-token")
            #expect(unknownToken.status == 400)
            #expect(unknownToken.text == oauthError("invalid_grant", "Bad Request"))

            google.revokeRefreshToken(token)
            let revoked = try await refresh(token)
            #expect(revoked.status == 400)
            #expect(revoked.text == oauthError("invalid_grant", "Token has been expired or revoked."))

            google.addOAuthClient(id: "client-2", secret: "secret-2")
            let other = google.issueRefreshToken(clientID: "client-2", email: "bob@example.com", scopes: [FGFixtures.gmailSend])
            let mismatch = try await refresh(other)
            #expect(mismatch.status == 401)
            #expect(mismatch.text == oauthError("unauthorized_client", "Unauthorized"))

            google.deleteOAuthClient(id: "client-2")
            let deleted = try await refresh(other, secret: "secret-2", clientID: "client-2")
            #expect(deleted.status == 401)
            #expect((deleted.json["error"] as? String) == "deleted_client")
            #expect(google.tokenRequestCount(grantType: "refresh_token") == 6)
        }
    }

    @Test func injectedTokenFailuresAreConsumedPerAccount() async throws {
        try await stopping {
            let alice = google.issueRefreshToken(
                clientID: "client-1.apps.googleusercontent.com", email: "alice@example.com", scopes: [FGFixtures.gmailSend])
            let bob = google.issueRefreshToken(
                clientID: "client-1.apps.googleusercontent.com", email: "bob@example.com", scopes: [FGFixtures.gmailSend])
            google.inject(.invalidGrantRevoked, endpoint: .token, account: "alice@example.com", count: 2)
            let bobFirst = try await refresh(bob)
            #expect(bobFirst.status == 200)
            for _ in 0..<2 {
                let failed = try await refresh(alice)
                #expect(failed.status == 400)
                #expect(failed.text == oauthError("invalid_grant", "Token has been expired or revoked."))
            }
            let recovered = try await refresh(alice)
            #expect(recovered.status == 200)
            #expect(google.pendingInjectionCount == 0)

            google.inject(.unauthorizedClient, endpoint: .token, count: 1)
            let unauthorized = try await refresh(bob)
            #expect(unauthorized.status == 401)
            #expect(unauthorized.text == (oauthError(
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")))
        }
    }

    // MARK: jwt-bearer

    private func jwtGrant(_ assertion: String) async throws -> FGClient.Answer {
        try await client.postForm("/token", [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion),
        ])
    }

    private var tokenURL: String { client.base.absoluteString + "/token" }

    @Test func jwtBearerGrantWithDelegation() async throws {
        try await stopping {
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            try google.addServiceAccount(
                clientEmail: sa, publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [FGFixtures.gmailSend])
            google.addUser(email: "dave@example.com")

            let answer = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL))
            #expect(answer.status == 200, "\(answer.text)")
            #expect((answer.json["token_type"] as? String) == "Bearer")
            #expect(answer.json["refresh_token"] == nil)
            let claims = try #require(google.lastAssertionClaims)
            #expect(claims.iss == sa)
            #expect(claims.sub == "dave@example.com")
            #expect(claims.aud == tokenURL)
            #expect(claims.header["alg"] == "RS256")
            #expect(google.tokenRequestCount(grantType: "urn:ietf:params:oauth:grant-type:jwt-bearer") == 1)

            // The token sends as the delegated user.
            let access = try #require(answer.json["access_token"] as? String)
            let sent = try await client.send(token: access, message: FGFixtures.message)
            #expect(sent.status == 200, "\(sent.text)")
            #expect(google.outbox.last?.user == "dave@example.com")
        }
    }

    @Test func jwtBearerRejectsAWrongKey() async throws {
        try await stopping {
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            try google.addServiceAccount(
                clientEmail: sa, publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [FGFixtures.gmailSend])
            google.addUser(email: "dave@example.com")
            let answer = try await jwtGrant(try FGFixtures.assertion(
                key: other, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL))
            #expect(answer.status == 400)
            #expect(answer.text == oauthError("invalid_grant", "Invalid JWT Signature."))

            let garbage = try await jwtGrant("not.a.jwt")
            #expect(garbage.text == oauthError("invalid_grant", "Invalid JWT Signature."))
        }
    }

    @Test func jwtBearerChecksTimesScopesAndSubject() async throws {
        try await stopping {
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
            #expect(tooLong.status == 400)
            #expect(tooLong.text == skew)

            let future = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL, iat: now + 3600))
            #expect(future.text == skew)

            let expired = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL, iat: now - 7200))
            #expect(expired.text == skew)

            let wrongAudience = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: "https://oauth2.googleapis.com/token"))
            #expect(wrongAudience.status == 400)
            #expect((wrongAudience.json["error"] as? String) == "invalid_grant")

            let notDelegated = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: "dave@example.com", scope: "https://mail.google.com/", aud: tokenURL))
            #expect(notDelegated.status == 401)
            #expect(notDelegated.text == (oauthError(
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")))

            let unknownUser = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: "nobody@example.com", scope: FGFixtures.gmailSend, aud: tokenURL))
            #expect(unknownUser.status == 400)
            #expect(unknownUser.text == oauthError("invalid_grant", "Invalid email or User ID"))

            let commas = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend + ",openid", aud: tokenURL))
            #expect(commas.text == oauthError("invalid_scope", "Invalid OAuth scope or ID token audience provided."))

            // No `sub`: a token for the service account itself, which has no mailbox (docs/google-api.md §3).
            let itself = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: nil, scope: FGFixtures.gmailSend, aud: tokenURL))
            #expect(itself.status == 200, "\(itself.text)")
            let sent = try await client.send(token: itself.json["access_token"] as? String, message: FGFixtures.message)
            #expect(sent.status == 400)
            #expect(sent.text.contains(#""message": "Precondition check failed.""#))
        }
    }

    @Test func jwtBearerWithoutDelegationIsUnauthorized() async throws {
        try await stopping {
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            try google.addServiceAccount(clientEmail: sa, publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [])
            google.addUser(email: "dave@example.com")
            let answer = try await jwtGrant(try FGFixtures.assertion(
                key: key, iss: sa, sub: "dave@example.com", scope: FGFixtures.gmailSend, aud: tokenURL))
            #expect(answer.status == 401)
            #expect((answer.json["error"] as? String) == "unauthorized_client")
        }
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

    @Test func consentRedirectAndCodeExchangeWithPKCE() async throws {
        try await stopping {
            let redirect = "http://127.0.0.1:53682/"
            let pkce = FGFixtures.pkcePair()
            let answer = try await consent(challenge: pkce.challenge, redirect: redirect)
            #expect(answer.status == 302, "\(answer.text)")
            let location = try #require(answer.header("Location"))
            #expect(location.hasPrefix(redirect + "?"), "\(location)")
            let query = FGFixtures.queryItems(location)
            #expect(query["state"] == "st-123")
            #expect(query["scope"] == "\(FGFixtures.gmailSend) openid email")
            let code = try #require(query["code"])

            let seen = try #require(google.lastAuthorizationRequest)
            #expect(seen.loginHint == "erin@example.com")
            #expect(seen.prompt == "consent")
            #expect(seen.accessType == "offline")
            #expect(seen.codeChallengeMethod == "S256")

            let wrongVerifier = try await exchange(code: code, verifier: FGFixtures.pkcePair().verifier, redirect: redirect)
            #expect(wrongVerifier.status == 400)
            #expect(wrongVerifier.text == oauthError("invalid_grant", "Invalid code verifier."))

            let wrongRedirect = try await exchange(code: code, verifier: pkce.verifier, redirect: "http://127.0.0.1:1/")
            #expect(wrongRedirect.status == 400)
            #expect((wrongRedirect.json["error"] as? String) == "redirect_uri_mismatch")

            let exchanged = try await exchange(code: code, verifier: pkce.verifier, redirect: redirect)
            #expect(exchanged.status == 200, "\(exchanged.text)")
            #expect((exchanged.json["scope"] as? String) == "\(FGFixtures.gmailSend) openid email")
            #expect(exchanged.json["id_token"] != nil, "openid was granted")
            let refreshToken = try #require(exchanged.json["refresh_token"] as? String)
            #expect(google.tokenRequestCount(grantType: "authorization_code") == 3)

            // Codes are single use.
            let again = try await exchange(code: code, verifier: pkce.verifier, redirect: redirect)
            #expect(again.status == 400)
            #expect(again.text == oauthError("invalid_grant", "Bad Request"))

            // The refresh token works, and belongs to the login_hint's user.
            let refreshed = try await refresh(refreshToken)
            #expect(refreshed.status == 200)
            let info = try await client.request("GET", "/tokeninfo?access_token=\(refreshed.json["access_token"] as! String)")
            #expect((info.json["email"] as? String) == "erin@example.com")
        }
    }

    @Test func consentGrantsFewerScopesOrDenies() async throws {
        try await stopping {
            let redirect = "http://127.0.0.1:40000/callback"
            google.setConsent(.approve(grantedScopes: ["openid"], email: "frank@gmail.com"))
            let partial = try await consent(challenge: FGFixtures.pkcePair().challenge, redirect: redirect)
            #expect(FGFixtures.queryItems(partial.header("Location") ?? "")["scope"] == "openid")

            google.setConsent(.deny)
            let denied = try await consent(challenge: FGFixtures.pkcePair().challenge, redirect: redirect, state: "s2")
            #expect(denied.status == 302)
            #expect(denied.header("Location") == redirect + "?error=access_denied&state=s2")
        }
    }

    @Test func consentChecksClientRedirectAndChallenge() async throws {
        try await stopping {
            let remote = try await consent(challenge: FGFixtures.pkcePair().challenge, redirect: "https://evil.example/cb")
            #expect(remote.status == 400)
            #expect(remote.text.contains("redirect_uri_mismatch"))

            let badChallenge = try await consent(challenge: "short", redirect: "http://127.0.0.1:1234/")
            #expect(badChallenge.status == 400)

            let badMethod = try await consent(challenge: FGFixtures.pkcePair().challenge, redirect: "http://127.0.0.1:1234/", method: "S512")
            #expect(badMethod.status == 400)

            let unknown = try await client.request("GET", "/o/oauth2/v2/auth?client_id=nope&redirect_uri=http://127.0.0.1:1/&response_type=code&scope=openid")
            #expect(unknown.status == 401)
            #expect(unknown.text.contains("invalid_client"))
            #expect(google.authorizationRequests.count == 4)
        }
    }

    @Test func codeWithoutChallengeRefusesAVerifier() async throws {
        try await stopping {
            let redirect = "http://127.0.0.1:1234/"
            let answer = try await consent(challenge: nil, redirect: redirect, method: nil)
            let code = try #require(FGFixtures.queryItems(answer.header("Location") ?? "")["code"])
            let withVerifier = try await exchange(code: code, verifier: FGFixtures.pkcePair().verifier, redirect: redirect)
            #expect(withVerifier.text == oauthError("invalid_grant", "code_verifier or verifier is not needed."))
            let malformed = try await exchange(code: "garbage", verifier: nil, redirect: redirect)
            #expect(malformed.text == oauthError("invalid_grant", "Malformed auth code."))
        }
    }

    // MARK: tokeninfo and revoke

    @Test func tokeninfoAndRevoke() async throws {
        try await stopping {
            let access = google.issueAccessToken(
                clientID: "client-1.apps.googleusercontent.com", email: "alice@example.com",
                scopes: [FGFixtures.gmailSend, "openid", "email"])
            let info = try await client.request("GET", "/tokeninfo?access_token=\(access)")
            #expect(info.status == 200)
            #expect((info.json["aud"] as? String) == "client-1.apps.googleusercontent.com")
            #expect((info.json["azp"] as? String) == "client-1.apps.googleusercontent.com")
            #expect((info.json["email"] as? String) == "alice@example.com")
            #expect((info.json["email_verified"] as? String) == "true")
            #expect((info.json["exp"] as? String) != nil, "values are strings")
            #expect((info.json["expires_in"] as? String) != nil)
            #expect((info.json["sub"] as? String) != nil)

            let posted = try await client.postForm("/tokeninfo", [("access_token", access)])
            #expect(posted.status == 200)

            let invalid = try await client.request("GET", "/tokeninfo?access_token=ya29.nope")
            #expect(invalid.status == 400)
            #expect(invalid.text == oauthError("invalid_token", "Invalid Value"))

            let refresh = google.issueRefreshToken(
                clientID: "client-1.apps.googleusercontent.com", email: "bob@example.com", scopes: [FGFixtures.gmailSend])
            let bobAccess = try await self.refresh(refresh).json["access_token"] as! String
            let revoked = try await client.postForm("/revoke", [("token", refresh)])
            #expect(revoked.status == 200)
            let after = try await client.request("GET", "/tokeninfo?access_token=\(bobAccess)")
            #expect(after.status == 400, "revoking the refresh token ends its access tokens")
            let refreshAfter = try await self.refresh(refresh)
            #expect(refreshAfter.text == oauthError("invalid_grant", "Token has been expired or revoked."))

            let twice = try await client.request("POST", "/revoke?token=\(refresh)")
            #expect(twice.status == 400)
            #expect(twice.text == oauthError("invalid_token", "Token expired or revoked"))
            #expect(google.revokeRequestCount == 2)
            #expect(google.tokeninfoRequestCount == 4)
        }
    }
}
