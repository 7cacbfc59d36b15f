import Foundation
import GmailAPI
import RelayVocabulary

/// What an account keeps encrypted in the store (RelayStore seals it with AES-GCM): how it signs in
/// to Google. Never printed, never logged.
public enum StoredGrant: Codable, Sendable {
    /// A user's consent through an OAuth client. No refresh token yet means `reauth` must run.
    case oauthClient(clientID: String, clientSecret: String, refreshToken: String?)
    /// A service account key (the JSON file as Google gave it) impersonating `subject`.
    case serviceAccount(keyJSON: String, subject: String?)

    public func encoded() throws -> Data { try JSONEncoder().encode(self) }
    public static func decode(_ data: Data) throws -> StoredGrant { try JSONDecoder().decode(StoredGrant.self, from: data) }

    /// How the failure classifier should see this account.
    public var classifierKind: GoogleFailure.AccountKind {
        switch self {
        case .oauthClient: return .userGrant
        case .serviceAccount(_, let subject): return .serviceAccount(subject: subject)
        }
    }

    /// The verdict on a failed call of this account, as the worker, the probe and `doctor` all see it.
    /// `previousPreconditionFailures`: failedPrecondition answers this message already got.
    public func classify(
        _ call: FailedCall, consentedAt: Date?, now: Date, previousPreconditionFailures: Int = 0
    ) -> Classification {
        // Only a revoke call has no failure to classify; treat anything like it as no answer.
        let failure = GoogleFailure(call, accountKind: classifierKind, consentedAt: consentedAt, now: now,
                                    previousPreconditionFailures: previousPreconditionFailures)
            ?? GoogleFailure(endpoint: .gmailSend, status: nil, transportError: call.description, accountKind: classifierKind, now: now)
        return FailureClassifier.classify(failure)
    }

    /// An error of reading Google's client secret file, worded for the operator.
    public struct ClientFileError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads Google's downloaded OAuth client file (`{"installed": {...}}` or `{"web": {...}}`).
    public static func fromClientSecretFile(_ data: Data) throws -> (clientID: String, clientSecret: String) {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ClientFileError(description: "--client-secret-file: not JSON")
        }
        if object["type"] as? String == "service_account" {
            throw ClientFileError(description: "--client-secret-file: this is a service account key; use --service-account KEY.json --subject USER@DOMAIN")
        }
        guard let client = (object["installed"] ?? object["web"]) as? [String: Any],
              let id = client["client_id"] as? String, let secret = client["client_secret"] as? String
        else {
            throw ClientFileError(description: "--client-secret-file: expected Google's OAuth client file with \"installed\" (Desktop app) and client_id/client_secret")
        }
        return (id, secret)
    }
}
