import Crypto
import Foundation

/// Logins verified recently, so a CMS that logs in for every message pays the slow password hash once
/// an hour rather than on every connection (Dovecot's `auth_cache` is the model).
///
/// - Keyed by an HMAC of username and password under a key made at start and never stored: the cache
///   holds no password, and its keys are useless outside this process.
/// - An entry remembers the stored hash it was verified against; a hit counts only while the login's
///   row still holds that hash, so a login removed or given a new password stops working at once
///   (also when another process, the CLI, changed it).
/// - Only a successful verification is inserted: a wrong password is never cached.
/// - Bounded: `capacity` entries, each for `lifetime` at most.
package final class VerifiedLoginCache: @unchecked Sendable {
    package let capacity: Int
    package let lifetime: TimeInterval
    private let keyBytes: [UInt8]
    private let lock = NSLock()
    private var entries: [Data: Entry] = [:]

    private struct Entry {
        var storedHash: String
        var expiresAt: TimeInterval
    }

    package init(capacity: Int = 10_000, lifetime: TimeInterval = 3600) {
        self.capacity = capacity
        self.lifetime = lifetime
        self.keyBytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    package var count: Int { lock.withLock { entries.count } }

    /// True when `username`/`password` were verified against `storedHash` within the lifetime.
    package func contains(username: String, password: String, storedHash: String, now: Date) -> Bool {
        let key = self.key(username, password)
        return lock.withLock {
            guard let entry = entries[key] else { return false }
            guard entry.expiresAt > now.timeIntervalSince1970, entry.storedHash == storedHash else {
                entries[key] = nil
                return false
            }
            return true
        }
    }

    package func insert(username: String, password: String, storedHash: String, now: Date) {
        let key = self.key(username, password)
        let nowSeconds = now.timeIntervalSince1970
        lock.withLock {
            if entries.count >= capacity && entries[key] == nil {
                entries = entries.filter { $0.value.expiresAt > nowSeconds }
                // Still full of live entries: drop the ones closest to expiry (the oldest), a tenth at a time.
                if entries.count >= capacity {
                    let oldest = entries.sorted { $0.value.expiresAt < $1.value.expiresAt }.prefix(max(1, capacity / 10))
                    for (key, _) in oldest { entries[key] = nil }
                }
            }
            entries[key] = Entry(storedHash: storedHash, expiresAt: nowSeconds + lifetime)
        }
    }

    private func key(_ username: String, _ password: String) -> Data {
        var message = Data(username.utf8)
        message.append(0)
        message.append(contentsOf: password.utf8)
        return Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: keyBytes)))
    }
}
