import Foundation

/// Revoking a grant at Google (docs/google-api.md 7.1).
public enum TokenRevocation {
    public enum Outcome: Sendable {
        /// 200: the grant (and every token of it) is gone.
        case revoked
        /// 400 invalid_token "Token expired or revoked": nothing left to revoke, which is what was wanted.
        case alreadyInvalid
        /// Anything else (no answer, 5xx, an unexpected body): the grant may still be alive.
        case failed(FailedCall)
    }

    /// POSTs `token=` as a form; the token is never part of the URL.
    public static func revoke(token: String, endpoint: URL, transport: HTTPTransport) async -> Outcome {
        let response: HTTPResponse
        do {
            response = try await transport.postForm(endpoint, fields: [("token", token)])
        } catch {
            return .failed(FailedCall(endpoint: .revoke, url: endpoint, response: nil, transportError: "\(error)"))
        }
        if response.status == 200 { return .revoked }
        if response.status == 400,
           let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
           object["error"] as? String == "invalid_token" {
            return .alreadyInvalid
        }
        return .failed(FailedCall(endpoint: .revoke, url: endpoint, response: response, transportError: nil))
    }
}
