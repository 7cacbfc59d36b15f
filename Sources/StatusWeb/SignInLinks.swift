import Crypto
import Foundation

/// One-time sign-in links: `/login?ticket=<expiry>.<nonce>.<mac>`.
///
/// The MAC's key is derived from the admin token, so `serve` and `gmail-relay web-token` (another process
/// that reads the same token) make links the server accepts, and the token itself never appears in a
/// URL, a browser history or a log. A ticket works once (the server remembers used nonces until they
/// expire) and for `lifetime` at most.
public final class SignInLinks: @unchecked Sendable {
    public static let lifetime: TimeInterval = 3600
    /// Bounds the memory of used nonces; past it the oldest expire first anyway (they are pruned by age).
    static let maximumRemembered = 10_000

    private let keyBytes: [UInt8]
    private let lock = NSLock()
    private var used: [String: TimeInterval] = [:]

    public init(adminToken: String) {
        keyBytes = Array(SHA256.hash(data: Data(("gmail-relay sign-in link|" + adminToken).utf8)))
    }

    /// A fresh ticket, valid for `lifetime` from `now`.
    public func makeTicket(now: Date = Date()) -> String {
        let expiry = Int64(now.addingTimeInterval(Self.lifetime).timeIntervalSince1970)
        let nonce = SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }.hex
        let payload = "\(expiry).\(nonce)"
        return payload + "." + mac(payload)
    }

    /// The path and query of a sign-in link for `ticket`.
    public static func path(ticket: String) -> String { "/login?ticket=" + ticket }

    /// True once for a ticket this server's token made and that has not expired.
    public func redeem(_ ticket: String, now: Date = Date()) -> Bool {
        guard ticket.utf8.count <= 200 else { return false }
        let parts = ticket.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let expiry = Int64(parts[0]), parts[1].utf8.count == 32 else { return false }
        let expected = mac("\(parts[0]).\(parts[1])")
        guard WebSecurity.constantTimeEqual(Array(expected.utf8), Array(parts[2].utf8)) else { return false }
        let expiresAt = TimeInterval(expiry)
        let nowSeconds = now.timeIntervalSince1970
        // A ticket claiming to live longer than any this code makes was not made by it.
        guard expiresAt > nowSeconds, expiresAt <= nowSeconds + Self.lifetime + 60 else { return false }
        let nonce = String(parts[1])
        lock.lock()
        defer { lock.unlock() }
        if used.count >= Self.maximumRemembered { used = used.filter { $0.value > nowSeconds } }
        guard used[nonce] == nil, used.count < Self.maximumRemembered else { return false }
        used[nonce] = expiresAt
        return true
    }

    private func mac(_ text: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(("sign-in|" + text).utf8), using: SymmetricKey(data: keyBytes))).hex
    }
}
