import Foundation

/// One message Gmail accepted (users.messages.send answered 200).
public struct SentMessage: Sendable, Equatable {
    /// Gmail's message id (16 hex digits).
    public var id: String
    public var threadId: String
    /// The mailbox the access token acts for (the authenticated user).
    public var user: String
    /// The address in the From header, if one parsed.
    public var from: String?
    /// The address Gmail sends from: `from` when it is the user or one of the user's send-as
    /// aliases, otherwise the user's own address (docs/google-api.md §1.6: Gmail rewrites, it does not refuse).
    public var sentFrom: String
    public var to: [String]
    public var cc: [String]
    public var bcc: [String]
    /// To, Cc and Bcc without duplicates: whom Gmail delivers to (§1.5).
    public var recipients: [String]
    public var subject: String?
    public var labelIds: [String]
    /// The bytes as received (the upload body, or the decoded `raw` of the metadata URI).
    public var raw: Data
    public var receivedAt: Date

    public var rawText: String { String(decoding: raw, as: UTF8.self) }
}

/// What the consent page does when the browser arrives.
public enum ConsentBehaviour: Sendable, Equatable {
    /// Redirects with a code. `grantedScopes` nil = everything requested (the granular consent
    /// screen can grant fewer); `email` nil = the login_hint, else the first Gmail user added.
    case approve(grantedScopes: [String]? = nil, email: String? = nil)
    /// Redirects with `error=access_denied`.
    case deny
}

/// One visit to `GET /o/oauth2/v2/auth`, as the fake saw it.
public struct AuthorizationRequest: Sendable, Equatable {
    public var parameters: [String: String]
    public var clientID: String? { parameters["client_id"] }
    public var redirectURI: String? { parameters["redirect_uri"] }
    public var responseType: String? { parameters["response_type"] }
    public var scope: String? { parameters["scope"] }
    public var state: String? { parameters["state"] }
    public var loginHint: String? { parameters["login_hint"] }
    public var prompt: String? { parameters["prompt"] }
    public var accessType: String? { parameters["access_type"] }
    public var codeChallenge: String? { parameters["code_challenge"] }
    public var codeChallengeMethod: String? { parameters["code_challenge_method"] }
}

public enum FakeGoogleError: Error, CustomStringConvertible {
    case notStarted
    case failedToStart(String)
    case invalidPublicKey(String)

    public var description: String {
        switch self {
        case .notStarted: return "the fake Google server is not running"
        case .failedToStart(let why): return "the fake Google server did not start: \(why)"
        case .invalidPublicKey(let why): return "not an RSA public or private key in PEM form: \(why)"
        }
    }
}

/// Scopes that permit users.messages.send (docs/google-api.md §1.10).
enum Scopes {
    static let sendCapable: Set<String> = [
        "https://mail.google.com/",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://www.googleapis.com/auth/gmail.compose",
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
    ]
    static let email: Set<String> = ["email", "https://www.googleapis.com/auth/userinfo.email"]
    static let identity: Set<String> = [
        "openid", "email", "profile",
        "https://www.googleapis.com/auth/userinfo.email", "https://www.googleapis.com/auth/userinfo.profile",
    ]
}

/// A value behind a lock. (Mutex needs macOS 15; the package targets macOS 14.)
final class Protected<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
