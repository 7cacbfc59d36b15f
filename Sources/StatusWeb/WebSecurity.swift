import Crypto
import Foundation
import HTTPTypes
import RelayConfig

/// Why the web server refuses to start.
public enum WebServerError: Error, CustomStringConvertible, Equatable {
    case adminTokenRequired(listen: String)
    case tokenTooShort(key: String)
    case readTokenWithoutAdminToken
    case sameTokens

    public var description: String {
        switch self {
        case .adminTokenRequired(let listen):
            return "web.admin_token is required because web.listen \(listen) is not a loopback address: set web.admin_token (or GMAIL_RELAY_WEB_ADMIN_TOKEN) to a long random string, or listen on 127.0.0.1"
        case .tokenTooShort(let key):
            return "\(key) must be at least \(WebSecurity.minimumTokenLength) characters long: make one with `openssl rand -base64 32`"
        case .readTokenWithoutAdminToken:
            return "web.read_token is set but the page is open (web.open = true): a read token only means something when tokens are required"
        case .sameTokens:
            return "web.read_token must differ from web.admin_token"
        }
    }
}

/// What a token or a session may do: the admin token everything, the read token GET only.
public enum WebRole: String, Sendable {
    case admin
    case reader

    /// Everything but GET and HEAD changes something.
    func mayUse(_ method: HTTPRequest.Method) -> Bool {
        self == .admin || method == .get || method == .head
    }
}

/// Who may do what on the web server, and the tokens that prove it.
///
/// - With an admin token (`web.admin_token`, or the one `serve` made in the data directory): the API,
///   /metrics and /healthz want `Authorization: Bearer <token>`; pages want the session cookie that the
///   sign-in form (or a one-time sign-in link) sets. `web.read_token` does the same for GET requests only.
/// - Without one (only with `web.open = true`, on loopback): everyone on this machine may look and act, but
///   POSTs still need a CSRF token (pages) or must not come from another site (API), and the Host header
///   must be a loopback name, so a web page in the operator's browser cannot act on the relay.
///
/// Sessions and CSRF tokens are HMACs under a key made at start, so they end when the process ends and
/// need no storage. Every comparison of a secret runs in constant time.
public struct WebSecurity: Sendable {
    public static let sessionCookie = "gmail_relay_session"
    public static let sessionLifetime: TimeInterval = 12 * 3600
    /// Shorter tokens are refused at start: a token is the only thing between the network and the mail.
    public static let minimumTokenLength = RelayConfiguration.minimumWebTokenLength
    /// How long a wrong token waits for its answer (form and Bearer alike): guessing stays slow.
    static let wrongTokenDelay: Duration = .milliseconds(300)

    let adminTokenDigest: [UInt8]?
    let readTokenDigest: [UInt8]?
    /// The key's bytes (SymmetricKey is not Sendable).
    private let keyBytes: [UInt8]
    let signInLinks: SignInLinks?

    public var requiresLogin: Bool { adminTokenDigest != nil }

    /// Refuses a non-loopback listen address without a token, and tokens shorter than `minimumTokenLength`.
    public init(listen: SocketAddressSpec, adminToken: String?, readToken: String? = nil) throws {
        let admin = adminToken.flatMap { $0.isEmpty ? nil : $0 }
        let read = readToken.flatMap { $0.isEmpty ? nil : $0 }
        if admin == nil && !listen.isLoopback { throw WebServerError.adminTokenRequired(listen: listen.description) }
        if admin == nil && read != nil { throw WebServerError.readTokenWithoutAdminToken }
        for (key, token) in [("web.admin_token", admin), ("web.read_token", read)] {
            if let token, token.count < Self.minimumTokenLength { throw WebServerError.tokenTooShort(key: key) }
        }
        if let admin, admin == read { throw WebServerError.sameTokens }
        self.init(adminToken: admin, readToken: read, key: SymmetricKey(size: .bits256))
    }

    init(adminToken: String?, readToken: String? = nil, key: SymmetricKey) {
        self.adminTokenDigest = adminToken.map { Array(SHA256.hash(data: Data($0.utf8))) }
        self.readTokenDigest = readToken.map { Array(SHA256.hash(data: Data($0.utf8))) }
        self.keyBytes = key.withUnsafeBytes { Array($0) }
        self.signInLinks = adminToken.map { SignInLinks(adminToken: $0) }
    }

    // MARK: Tokens

    /// Which token this is, if any. Constant time: both sides are hashed first, so neither the length
    /// nor a prefix of a token leaks.
    public func role(ofToken candidate: String) -> WebRole? {
        let digest = Array(SHA256.hash(data: Data(candidate.utf8)))
        let isAdmin = adminTokenDigest.map { Self.constantTimeEqual(digest, $0) } ?? false
        let isReader = readTokenDigest.map { Self.constantTimeEqual(digest, $0) } ?? false
        return isAdmin ? .admin : isReader ? .reader : nil
    }

    public func isAdminToken(_ candidate: String) -> Bool { role(ofToken: candidate) == .admin }

    /// The role of an `Authorization: Bearer <token>` header, if it carries a token of this server.
    public func bearerRole(_ header: String?) -> WebRole? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return role(ofToken: String(parts[1]).trimmingCharacters(in: .whitespaces))
    }

    // MARK: Sessions

    /// `<expiry>.<role>.<nonce>.<mac>`: a value only this process can make.
    public func newSession(now: Date, role: WebRole = .admin) -> String {
        let expiry = Int64(now.addingTimeInterval(Self.sessionLifetime).timeIntervalSince1970)
        let nonce = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }.hex
        let payload = "\(expiry).\(role.rawValue).\(nonce)"
        return payload + "." + mac("session|" + payload)
    }

    /// The role of a session cookie, if it is a live session of this process.
    public func sessionRole(_ value: String?, now: Date) -> WebRole? {
        guard let value, value.utf8.count <= 256 else { return nil }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, let expiry = Int64(parts[0]), let role = WebRole(rawValue: String(parts[1])) else { return nil }
        let expected = mac("session|\(parts[0]).\(parts[1]).\(parts[2])")
        guard Self.constantTimeEqual(Array(expected.utf8), Array(parts[3].utf8)) else { return nil }
        return Double(expiry) > now.timeIntervalSince1970 ? role : nil
    }

    public func isValidSession(_ value: String?, now: Date) -> Bool { sessionRole(value, now: now) != nil }

    // MARK: CSRF

    /// The token every POST form of a page carries: bound to the session (or, without login, to this
    /// process). A page of another site cannot read it, so it cannot forge the form.
    public func csrfToken(session: String?) -> String {
        mac("csrf|" + (session ?? "open"))
    }

    /// The login form's own token (there is no session yet).
    public var loginCSRFToken: String { mac("csrf|login") }

    public func isValidCSRF(_ candidate: String?, session: String?) -> Bool {
        guard let candidate else { return false }
        return Self.constantTimeEqual(Array(csrfToken(session: session).utf8), Array(candidate.utf8))
    }

    public func isValidLoginCSRF(_ candidate: String?) -> Bool {
        guard let candidate else { return false }
        return Self.constantTimeEqual(Array(loginCSRFToken.utf8), Array(candidate.utf8))
    }

    // MARK: Helpers

    private func mac(_ text: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: SymmetricKey(data: keyBytes))).hex
    }

    /// Runs over the whole of both inputs whatever they contain; a length difference is folded in.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        let count = max(a.count, b.count)
        for index in 0..<count {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }

    /// Names this machine answers to; without a token only these Host headers are served (DNS rebinding).
    static func isLoopbackHost(_ host: String) -> Bool {
        var name = host
        if name.hasPrefix("[") {
            name = String(name.dropFirst().prefix { $0 != "]" })
        } else if let colon = name.lastIndex(of: ":"), name.filter({ $0 == ":" }).count == 1 {
            name = String(name[..<colon])
        }
        return SocketAddressSpec(host: name, port: 1).isLoopback
    }
}

extension Data {
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
