import Foundation
import GmailAPI

/// What an account keeps encrypted in the store (RelayStore seals it with AES-GCM): how it signs in
/// to Google. Never printed, never logged.
enum StoredGrant: Codable, Sendable {
    /// A user's consent through an OAuth client. No refresh token yet means `reauth` must run.
    case oauthClient(clientID: String, clientSecret: String, refreshToken: String?)
    /// A service account key (the JSON file as Google gave it) impersonating `subject`.
    case serviceAccount(keyJSON: String, subject: String?)

    func encoded() throws -> Data { try JSONEncoder().encode(self) }
    static func decode(_ data: Data) throws -> StoredGrant { try JSONDecoder().decode(StoredGrant.self, from: data) }

    /// Reads Google's downloaded OAuth client file (`{"installed": {...}}` or `{"web": {...}}`).
    static func fromClientSecretFile(_ data: Data) throws -> (clientID: String, clientSecret: String) {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw OperatorError("--client-secret-file: not JSON")
        }
        if object["type"] as? String == "service_account" {
            throw OperatorError("--client-secret-file: this is a service account key; use --service-account KEY.json --subject USER@DOMAIN")
        }
        guard let client = (object["installed"] ?? object["web"]) as? [String: Any],
              let id = client["client_id"] as? String, let secret = client["client_secret"] as? String
        else {
            throw OperatorError("--client-secret-file: expected Google's OAuth client file with \"installed\" (Desktop app) and client_id/client_secret")
        }
        return (id, secret)
    }
}
