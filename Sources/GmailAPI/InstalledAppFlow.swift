import Crypto
import Foundation

// Google's installed-app (Desktop client) authorization: a consent URL with PKCE, the redirect to a
// loopback address, and the authorization-code exchange (docs/google-api.md 6). The pure parts take
// values and return values; only `AuthorizationCodeGrant.exchange` does I/O.

/// Proof Key for Code Exchange (RFC 7636), S256 only: Google recommends it, and `plain` would put
/// the verifier itself into the browser's history.
public struct PKCE: Sendable, Equatable {
    public static let method = "S256"
    /// RFC 7636 4.1: the verifier's alphabet.
    static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public let verifier: String

    /// A given verifier (43-128 unreserved characters), e.g. the RFC's test vector.
    public init?(verifier: String) {
        guard (43...128).contains(verifier.count), verifier.allSatisfy(PKCE.unreserved.contains) else { return nil }
        self.verifier = verifier
    }

    /// A fresh verifier: 32 random bytes, base64url without padding (43 characters), as RFC 7636 4.1 suggests.
    public static func random() -> PKCE {
        PKCE(verifier: Base64URL.encode(randomBytes(32)))!
    }

    /// BASE64URL(SHA256(ASCII(verifier))) without padding.
    public var challenge: String { Self.challenge(for: verifier) }

    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8))))
    }
}

/// Bytes from the system's cryptographically secure generator (getrandom on Linux).
func randomBytes(_ count: Int) -> Data {
    var generator = SystemRandomNumberGenerator()
    return Data((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
}

/// The consent page request: where the browser goes (docs/google-api.md 6.3).
public struct ConsentRequest: Sendable, Equatable {
    public var clientID: String
    /// `http://127.0.0.1:PORT/`: Desktop clients may use any loopback port without registering it.
    public var redirectURI: String
    public var scopes: [String]
    /// Echoed back in the redirect; a redirect with another state is not ours (CSRF).
    public var state: String
    public var codeChallenge: String
    /// The account's address, so Google preselects the right Google account.
    public var loginHint: String?

    public init(clientID: String, redirectURI: String, scopes: [String], state: String, codeChallenge: String, loginHint: String? = nil) {
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.scopes = scopes
        self.state = state
        self.codeChallenge = codeChallenge
        self.loginHint = loginHint
    }

    /// A fresh `state`: 24 random bytes, base64url.
    public static func randomState() -> String { Base64URL.encode(randomBytes(24)) }

    /// The redirect URI for a loopback listener on `port`.
    public static func loopbackRedirectURI(port: Int) -> String { "http://127.0.0.1:\(port)/" }

    /// In the order Google's guide lists them. `access_type=offline` and `prompt=consent` make sure a
    /// new refresh token comes back even when the user consented before.
    public var parameters: [(String, String)] {
        var fields: [(String, String)] = [
            ("client_id", clientID),
            ("redirect_uri", redirectURI),
            ("response_type", "code"),
            ("scope", scopes.joined(separator: " ")),
            ("access_type", "offline"),
            ("prompt", "consent"),
            ("code_challenge", codeChallenge),
            ("code_challenge_method", PKCE.method),
            ("state", state),
        ]
        if let loginHint, !loginHint.isEmpty { fields.append(("login_hint", loginHint)) }
        return fields
    }

    public func url(authURL: URL) -> URL {
        authURL.appendingQuery(FormEncoding.encode(parameters))
    }
}

/// What Google's redirect carried when the user approved.
public struct AuthorizationResponse: Sendable, Equatable {
    public var code: String
    /// The granted scopes as the redirect listed them; the token response's `scope` is what counts.
    public var scope: String?
}

/// Why a redirect does not give a usable code. Descriptions are for the operator and never contain the code.
public enum AuthorizationRedirectError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not Google's redirect at all (no code, error or state): a favicon request, a stray paste.
    case notARedirect
    /// The state is missing or not the one this run sent: another run's (or someone else's) redirect.
    case stateMismatch
    /// The user clicked Cancel (or an administrator refused the app).
    case accessDenied
    /// Another `error=` from the consent page (admin_policy_enforced, org_internal, invalid_request ...).
    case authorizationError(error: String, description: String?)
    /// The state matched but there is no code.
    case missingCode

    public var description: String {
        switch self {
        case .notARedirect:
            return "this is not Google's redirect (expected http://127.0.0.1:PORT/?state=...&code=...)"
        case .stateMismatch:
            return "the redirect's state does not match this run: it belongs to another consent URL, so it was ignored; open the URL printed by this run"
        case .accessDenied:
            return "access was denied on Google's consent screen (error=access_denied): the user clicked Cancel, or an administrator does not allow the app"
        case .authorizationError(let error, let description):
            return "Google's consent page answered error=\(error)" + (description.map { ": \($0)" } ?? "")
        case .missingCode:
            return "the redirect has no code parameter"
        }
    }
}

public enum AuthorizationRedirect {
    /// Reads the redirect, given as the request target the loopback listener saw (`/?code=...`) or
    /// as the whole address the operator pasted (`http://127.0.0.1:PORT/?code=...`).
    ///
    /// The state is checked before anything else, so an error or a code from another run is never taken.
    public static func parse(_ redirect: String, expectedState: String) -> Result<AuthorizationResponse, AuthorizationRedirectError> {
        // A paste may come with the quotes or angle brackets of a chat or mail client around it.
        let text = redirect.trimmingCharacters(in: CharacterSet.whitespacesAndNewlines.union(CharacterSet(charactersIn: "\"'<>")))
        guard let components = URLComponents(string: text) else { return .failure(.notARedirect) }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] where query[item.name] == nil {
            query[item.name] = item.value ?? ""
        }
        guard query["code"] != nil || query["error"] != nil || query["state"] != nil else {
            return .failure(.notARedirect)
        }
        guard let state = query["state"], constantTimeEqual(state, expectedState) else {
            return .failure(.stateMismatch)
        }
        if let error = query["error"] {
            if error == "access_denied" { return .failure(.accessDenied) }
            return .failure(.authorizationError(error: error, description: query["error_description"]))
        }
        guard let code = query["code"], !code.isEmpty else { return .failure(.missingCode) }
        return .success(AuthorizationResponse(code: code, scope: query["scope"]))
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// A consent turned into tokens. The refresh token is the grant to store; never print it.
public struct ConsentGrant: Sendable {
    public var accessToken: AccessToken
    public var refreshToken: String
    public var idToken: String?

    /// The scopes the user actually granted (granular consent lets them untick some).
    public var grantedScopes: Set<String> { accessToken.scopes }

    /// Whether one of the granted scopes permits users.messages.send.
    public var canSend: Bool { !GmailScope.sendCapable.isDisjoint(with: grantedScopes) }

    /// The `email` claim of the id_token (present with the `email` scope). It comes straight from
    /// the token endpoint over TLS, so its signature is not checked (Google's guidance for this case).
    public var idTokenEmail: String? {
        guard let idToken else { return nil }
        let parts = idToken.split(separator: ".")
        guard parts.count >= 2, let payload = Base64URL.decode(String(parts[1])),
              let claims = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
        else { return nil }
        return claims["email"] as? String
    }
}

/// The token endpoint answered 200 but without a refresh token: nothing could be stored.
public struct MissingRefreshTokenError: Error, Sendable, CustomStringConvertible {
    public var description: String {
        "Google's token endpoint answered without a refresh_token (it sends one only with access_type=offline and a fresh consent)"
    }
}

/// The authorization_code grant with the PKCE verifier (docs/google-api.md 6.4).
public struct AuthorizationCodeGrant: Sendable {
    public var clientID: String
    public var clientSecret: String
    public var tokenURL: URL
    let transport: HTTPTransport

    public init(clientID: String, clientSecret: String, tokenURL: URL, transport: HTTPTransport) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.tokenURL = tokenURL
        self.transport = transport
    }

    /// Throws `TokenEndpointError` (with Google's whole answer, for the classifier) or `MissingRefreshTokenError`.
    public func exchange(code: String, verifier: String, redirectURI: String, now: Date) async throws -> ConsentGrant {
        let response: HTTPResponse
        do {
            response = try await transport.postForm(tokenURL, fields: [
                ("code", code), ("client_id", clientID), ("client_secret", clientSecret),
                ("code_verifier", verifier), ("redirect_uri", redirectURI), ("grant_type", "authorization_code"),
            ])
        } catch let error as TransportError {
            throw TokenEndpointError(response: nil, transportError: error, endpoint: tokenURL)
        }
        let parsed = try TokenResponse.parse(response, endpoint: tokenURL, now: now)
        guard let refreshToken = parsed.refreshToken, !refreshToken.isEmpty else { throw MissingRefreshTokenError() }
        return ConsentGrant(accessToken: parsed.token, refreshToken: refreshToken, idToken: parsed.idToken)
    }
}

extension GmailScope {
    /// What `reauth` asks for by default: sending, plus `openid email` so the address is known
    /// without a restricted scope (docs/google-api.md 6.6).
    public static let identity = ["openid", "email"]
    public static let reauthDefault = [send] + identity

    /// `gmail.send` -> `https://www.googleapis.com/auth/gmail.send`; full URLs and `openid`, `email`,
    /// `profile` stay as they are.
    public static func expand(_ name: String) -> String {
        if name.hasPrefix("https://") || ["openid", "email", "profile"].contains(name) { return name }
        return "https://www.googleapis.com/auth/" + name
    }
}
