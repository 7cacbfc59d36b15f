import Crypto
import Foundation
import RelayConfig

/// Why the web server refuses to start.
public enum WebServerError: Error, CustomStringConvertible, Equatable {
    case adminTokenRequired(listen: String)

    public var description: String {
        switch self {
        case .adminTokenRequired(let listen):
            return "web.admin_token is required because web.listen \(listen) is not a loopback address: set web.admin_token (or GMAIL_RELAY_WEB_ADMIN_TOKEN) to a long random string, or listen on 127.0.0.1"
        }
    }
}

/// Who may do what on the web server, and the tokens that prove it.
///
/// - With `web.admin_token`: the API and /metrics want `Authorization: Bearer <token>`; pages want the
///   session cookie that the login form sets after the same token was typed in.
/// - Without one (allowed on loopback only): everyone on this machine may look and act, but POSTs still
///   need a CSRF token (pages) or must not come from another site (API), and the Host header must be a
///   loopback name, so a web page in the operator's browser cannot act on the relay (CSRF, DNS rebinding).
///
/// Sessions and CSRF tokens are HMACs under a key made at start, so they end when the process ends and
/// need no storage. Every comparison of a secret runs in constant time.
public struct WebSecurity: Sendable {
    public static let sessionCookie = "gmail_relay_session"
    public static let sessionLifetime: TimeInterval = 12 * 3600

    let adminTokenDigest: [UInt8]?
    /// The key's bytes (SymmetricKey is not Sendable).
    private let keyBytes: [UInt8]

    public var requiresLogin: Bool { adminTokenDigest != nil }

    /// Refuses a non-loopback listen address without a token.
    public init(listen: SocketAddressSpec, adminToken: String?) throws {
        let token = adminToken.flatMap { $0.isEmpty ? nil : $0 }
        if token == nil && !listen.isLoopback { throw WebServerError.adminTokenRequired(listen: listen.description) }
        self.init(adminToken: token, key: SymmetricKey(size: .bits256))
    }

    init(adminToken: String?, key: SymmetricKey) {
        self.adminTokenDigest = adminToken.map { Array(SHA256.hash(data: Data($0.utf8))) }
        self.keyBytes = key.withUnsafeBytes { Array($0) }
    }

    // MARK: Admin token

    /// Constant time: both sides are hashed first, so neither the length nor a prefix of the token leaks.
    public func isAdminToken(_ candidate: String) -> Bool {
        guard let expected = adminTokenDigest else { return false }
        return Self.constantTimeEqual(Array(SHA256.hash(data: Data(candidate.utf8))), expected)
    }

    /// The token of an `Authorization: Bearer <token>` header, if it is one.
    public func isValidBearer(_ header: String?) -> Bool {
        guard let header else { return false }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return isAdminToken(String(parts[1]).trimmingCharacters(in: .whitespaces))
    }

    // MARK: Sessions

    /// `<expiry>.<nonce>.<mac>`: a value only this process can make.
    public func newSession(now: Date) -> String {
        let expiry = Int64(now.addingTimeInterval(Self.sessionLifetime).timeIntervalSince1970)
        let nonce = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }.hex
        let payload = "\(expiry).\(nonce)"
        return payload + "." + mac("session|" + payload)
    }

    public func isValidSession(_ value: String?, now: Date) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expiry = Int64(parts[0]) else { return false }
        let expected = mac("session|\(parts[0]).\(parts[1])")
        guard Self.constantTimeEqual(Array(expected.utf8), Array(parts[2].utf8)) else { return false }
        return Double(expiry) > now.timeIntervalSince1970
    }

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
