import Foundation

/// A bearer token for Gmail with what Google said about it.
public struct AccessToken: Sendable, Equatable {
    public var value: String
    public var expiresAt: Date
    /// Space-separated scopes granted, when the token endpoint said.
    public var scope: String?

    public init(value: String, expiresAt: Date, scope: String?) {
        self.value = value
        self.expiresAt = expiresAt
        self.scope = scope
    }

    public var scopes: Set<String> { Set((scope ?? "").split(separator: " ").map(String.init)) }
}

/// The token endpoint refused, or answered something that is not a token. Carries the whole answer
/// so it can be classified and logged.
public struct TokenEndpointError: Error, Sendable, CustomStringConvertible {
    public var response: HTTPResponse?
    public var transportError: TransportError?
    public var endpoint: URL

    public var description: String {
        if let response { return "token endpoint \(endpoint.absoluteString) answered HTTP \(response.status): \(response.bodyText)" }
        return "token endpoint \(endpoint.absoluteString) unreachable: \(transportError?.description ?? "unknown")"
    }
}

/// Why a token cache asks its grant for a token. A grant that asks Google every time ignores it; one
/// that shares tokens between relays (Delivery's fleet grant) needs it to know which stored token will do.
public enum TokenFetchReason: Sendable, Equatable {
    /// None is cached, or the cached one expires within the cache's margin.
    case expiring
    /// Gmail answered 401 to this token: any token but this one.
    case rejected(AccessToken)
    /// Proof that the grant works now (the health probe, `doctor`): a token just issued by Google.
    case fresh
}

/// Something that can mint access tokens for one account.
public protocol TokenGrant: Sendable {
    /// Asks Google for a new access token.
    func fetchToken(now: Date) async throws -> AccessToken
    /// What the token cache calls; `reason` says why. By default the same as `fetchToken(now:)`.
    func fetchToken(now: Date, reason: TokenFetchReason) async throws -> AccessToken
}

extension TokenGrant {
    public func fetchToken(now: Date, reason: TokenFetchReason) async throws -> AccessToken {
        try await fetchToken(now: now)
    }
}

/// Parses the token endpoint's success body: `{"access_token","expires_in","token_type","scope"}`.
enum TokenResponse {
    static func parse(_ response: HTTPResponse, endpoint: URL, now: Date) throws -> (token: AccessToken, refreshToken: String?, idToken: String?) {
        guard response.status == 200,
              let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
              let value = object["access_token"] as? String, !value.isEmpty
        else {
            throw TokenEndpointError(response: response, transportError: nil, endpoint: endpoint)
        }
        let expiresIn = (object["expires_in"] as? NSNumber)?.doubleValue ?? Double(object["expires_in"] as? String ?? "") ?? 3600
        return (
            AccessToken(value: value, expiresAt: now.addingTimeInterval(expiresIn), scope: object["scope"] as? String),
            object["refresh_token"] as? String,
            object["id_token"] as? String
        )
    }
}

/// The refresh-token grant of a user's consent (RFC 6749 section 6).
public struct RefreshTokenGrant: TokenGrant {
    public var clientID: String
    public var clientSecret: String
    public var refreshToken: String
    public var tokenURL: URL
    let transport: HTTPTransport

    public init(clientID: String, clientSecret: String, refreshToken: String, tokenURL: URL, transport: HTTPTransport) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
        self.tokenURL = tokenURL
        self.transport = transport
    }

    public func fetchToken(now: Date) async throws -> AccessToken {
        let response: HTTPResponse
        do {
            response = try await transport.postForm(tokenURL, fields: [
                ("grant_type", "refresh_token"), ("refresh_token", refreshToken),
                ("client_id", clientID), ("client_secret", clientSecret),
            ])
        } catch let error as TransportError {
            throw TokenEndpointError(response: nil, transportError: error, endpoint: tokenURL)
        }
        return try TokenResponse.parse(response, endpoint: tokenURL, now: now).token
    }
}
