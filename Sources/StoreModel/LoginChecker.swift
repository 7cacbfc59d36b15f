import Foundation

/// What a store reads about a login to check an SMTP AUTH against it.
package struct StoredLogin: Sendable {
    package var hash: String
    package var lastUsedAt: Int64?
    package var credential: VerifiedCredential

    package init(hash: String, lastUsedAt: Int64?, credential: VerifiedCredential) {
        self.hash = hash
        self.lastUsedAt = lastUsedAt
        self.credential = credential
    }
}

/// The decision steps of an SMTP AUTH check, the same whichever store holds the logins; the store only
/// reads the login and writes what the verdict asks for.
///
/// A wrong password and an unknown username cost the same work, so timing does not tell which usernames
/// exist. Fast paths, in order: a generated password's hash (one SHA-256), a login verified within the
/// hour against the same stored hash (`VerifiedLoginCache`); else scrypt on the KDF threads, and past
/// `maximumPendingSlowChecks` waiting or running, `.busy` at once.
package final class LoginChecker: Sendable {
    package enum Verdict: Sendable, Equatable {
        case busy
        case invalid
        /// `rehashed`: the password hashed again with today's parameters, for the store to write in
        /// place of `StoredLogin.hash` (only while the row still holds that one).
        case valid(rehashed: String?)
    }

    /// Most slow (scrypt) checks waiting or running at once: a few per core. Past it a login that needs
    /// one gets `.busy`, so a flood of wrong passwords cannot queue minutes of CPU ahead of real logins.
    package static var maximumPendingSlowChecks: Int { max(16, 8 * ProcessInfo.processInfo.activeProcessorCount) }

    package let hasher: PasswordHasher
    package let kdf: KDFRunner
    package let cache = VerifiedLoginCache()
    private let onSlowCheck: @Sendable () -> Void

    package init(hasher: PasswordHasher, kdf: KDFRunner = .shared, onSlowCheck: @escaping @Sendable () -> Void = {}) {
        self.hasher = hasher
        self.kdf = kdf
        self.onSlowCheck = onSlowCheck
    }

    /// Hashes a new login's password on the KDF threads (fast for generated ones, scrypt otherwise).
    package func hash(_ password: String, generated: Bool) async throws -> String {
        guard password.count >= PasswordHasher.minimumPasswordLength else {
            throw StoreError.weakPassword(minimumLength: PasswordHasher.minimumPasswordLength)
        }
        let hasher = self.hasher
        return try await kdf.run { Result { try hasher.hash(password, generated: generated) } }.get()
    }

    /// The whole check of an SMTP AUTH: the verdict, then what it asks the store to write, through the
    /// store's own statements: `rehash(new, old)` replaces a hash made with old parameters (only while
    /// the row still holds `old`; a failure is logged by the store and the old hash keeps working) and
    /// `touch(now)` refreshes `last_used_at`, at most once a minute (a CMS may log in for every message).
    package func check(
        username: String, password: String, stored: StoredLogin?, now: Date,
        rehash: (_ new: String, _ old: String) async -> Void, touch: (_ now: Int64) async throws -> Void
    ) async throws -> CredentialCheck {
        let verdict = await check(username: username, password: password, stored: stored, now: now)
        guard case .valid(let rehashed) = verdict, let stored else { return verdict == .busy ? .busy : .invalid }
        if let rehashed { await rehash(rehashed, stored.hash) }
        let nowMillis = Millis.from(now)
        if Self.needsTouch(lastUsedAt: stored.lastUsedAt, now: nowMillis) { try await touch(nowMillis) }
        return .valid(stored.credential)
    }

    /// Checks `password` against `stored` (nil: no such login, checked against nothing at the same cost).
    package func check(username: String, password: String, stored: StoredLogin?, now: Date) async -> Verdict {
        let hasher = self.hasher
        if let stored, PasswordHasher.isFast(stored.hash) {
            return hasher.verify(password, against: stored.hash) ? .valid(rehashed: nil) : .invalid
        }
        if let stored, cache.contains(username: username, password: password, storedHash: stored.hash, now: now) {
            return .valid(rehashed: nil)
        }
        let onSlowCheck = self.onSlowCheck
        let checked = await kdf.tryRun(maxPending: Self.maximumPendingSlowChecks) { () -> Bool in
            onSlowCheck()
            guard let stored else {
                hasher.dummyVerify(password)
                return false
            }
            return hasher.verify(password, against: stored.hash)
        }
        guard let checked else { return .busy }
        guard checked, let stored else { return .invalid }
        cache.insert(username: username, password: password, storedHash: stored.hash, now: now)
        // Only after a slow check: a cached or fast login need not parse the hash again. A rehash that
        // cannot run now (KDF busy) waits for the next slow check; the old hash still works.
        guard hasher.needsRehash(stored.hash) else { return .valid(rehashed: nil) }
        let rehashed = await kdf.tryRun(maxPending: Self.maximumPendingSlowChecks) { try? hasher.hash(password) }
        return .valid(rehashed: rehashed ?? nil)
    }

    /// A CMS may log in once per message: `last_used_at` is refreshed at most once a minute, not per AUTH.
    static func needsTouch(lastUsedAt: Int64?, now: Int64) -> Bool {
        (lastUsedAt ?? 0) < now - 60_000
    }
}
