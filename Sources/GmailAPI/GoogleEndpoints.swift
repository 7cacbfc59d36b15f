import Foundation

/// Where Google is: the google.* keys of the configuration (their defaults are Google's own URLs), so tests
/// (the fake Google) and proxies can stand in.
public struct GoogleEndpoints: Sendable, Equatable {
    public var authURL: URL
    public var tokenURL: URL
    public var gmailURL: URL
    public var tokeninfoURL: URL
    public var revokeURL: URL

    public init(authURL: URL, tokenURL: URL, gmailURL: URL, tokeninfoURL: URL, revokeURL: URL) {
        self.authURL = authURL
        self.tokenURL = tokenURL
        self.gmailURL = gmailURL
        self.tokeninfoURL = tokeninfoURL
        self.revokeURL = revokeURL
    }

    /// The media-upload form of users.messages.send: the raw message as the body, up to 35 MiB.
    public var sendURL: URL {
        gmailURL.appendingPathComponent("upload/gmail/v1/users/me/messages/send").appendingQuery("uploadType=media")
    }
}

extension URL {
    func appendingQuery(_ query: String) -> URL {
        var components = URLComponents(url: self, resolvingAgainstBaseURL: false)!
        components.percentEncodedQuery = [components.percentEncodedQuery, query].compactMap { $0 }.joined(separator: "&")
        return components.url!
    }
}

/// Scopes the relay asks for. gmail.send is the narrowest scope that can send (sensitive, not restricted).
public enum GmailScope {
    public static let send = "https://www.googleapis.com/auth/gmail.send"
    /// Every scope that permits users.messages.send (docs/google-api.md 6.6).
    public static let sendCapable: Set<String> = [
        "https://www.googleapis.com/auth/gmail.send",
        "https://www.googleapis.com/auth/gmail.compose",
        "https://www.googleapis.com/auth/gmail.modify",
        "https://mail.google.com/",
    ]
}
