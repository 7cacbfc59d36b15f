import Foundation

/// What Google's tokeninfo endpoint says about an access token (docs/google-api.md 7.2): the granted scopes
/// and, with an identity scope, the address. A debugging aid Google may throttle: `doctor` and the
/// status checks call it on demand, never per send.
public struct TokenInfo: Sendable, Equatable {
    public var scopes: Set<String>
    public var email: String?
    public var expiresIn: Int?
    /// The OAuth client the token was issued to.
    public var clientID: String?

    /// Whether any granted scope allows users.messages.send.
    public var canSend: Bool { !scopes.isDisjoint(with: GmailScope.sendCapable) }

    /// Asks tokeninfo about `accessToken`. A refusal (400 invalid_token) comes back as a `FailedCall`.
    public static func fetch(accessToken: String, endpoints: GoogleEndpoints, transport: HTTPTransport) async -> Result<TokenInfo, FailedCall> {
        let url = endpoints.tokeninfoURL.appendingQuery("access_token=" + FormEncoding.component(accessToken))
        let response: HTTPResponse
        do {
            response = try await transport.get(url)
        } catch {
            return .failure(FailedCall(endpoint: .tokeninfo, url: endpoints.tokeninfoURL, response: nil, transportError: "\(error)"))
        }
        guard response.status == 200, let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            return .failure(FailedCall(endpoint: .tokeninfo, url: endpoints.tokeninfoURL, response: response, transportError: nil))
        }
        let scope = object["scope"] as? String ?? ""
        return .success(TokenInfo(
            scopes: Set(scope.split(separator: " ").map(String.init)),
            email: object["email"] as? String,
            expiresIn: (object["expires_in"] as? String).flatMap { Int($0) } ?? (object["expires_in"] as? NSNumber)?.intValue,
            clientID: object["azp"] as? String ?? object["aud"] as? String))
    }
}
