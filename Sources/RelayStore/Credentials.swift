import Foundation
import StoreModel
import GRDB
import RelayVocabulary

extension RelayStore {
    /// Adds an SMTP login for one CMS site, bound to an account.
    /// `generated`: the relay made the password (192 random bits), so it gets the fast hash.
    public func addCredential(username: String, account: String, password: String, generated: Bool = false) async throws {
        guard Validation.isValidUsername(username) else { throw StoreError.invalidUsername(username) }
        guard password.count >= PasswordHasher.minimumPasswordLength else {
            throw StoreError.weakPassword(minimumLength: PasswordHasher.minimumPasswordLength)
        }
        let hasher = self.hasher
        let hashed = await kdf.run { Result { try hasher.hash(password, generated: generated) } }
        let hash = try hashed.get()
        let now = nowMillis
        try await pool.write { db in
            guard let accountID = try Int64.fetchOne(db, cached: "SELECT id FROM accounts WHERE name = ?", arguments: [account])
            else { throw StoreError.unknownAccount(account) }
            if try Bool.fetchOne(db, cached: "SELECT 1 FROM credentials WHERE username = ?", arguments: [username]) == true {
                throw StoreError.duplicateCredential(username)
            }
            try db.execute(cached: "INSERT INTO credentials (username, account_id, password_hash, created_at) VALUES (?, ?, ?, ?)",
                arguments: [username, accountID, hash, now])
            try insertEvent(db, at: now, kind: .credentialAdded, detail: "SMTP username \(username)",
                            accountID: accountID, account: account)
        }
    }

    /// Most slow (scrypt) checks waiting or running at once: a few per core. Past it a login that needs
    /// one gets `.busy`, so a flood of wrong passwords cannot queue minutes of CPU ahead of real logins.
    static var maximumPendingSlowChecks: Int { max(16, 8 * ProcessInfo.processInfo.activeProcessorCount) }

    /// Checks an SMTP AUTH login. A wrong password and an unknown username cost the same work, so
    /// timing does not tell which usernames exist. Fast paths, in order: a generated password's hash
    /// (one SHA-256), a login verified within the hour against the same stored hash (`VerifiedLoginCache`);
    /// else scrypt on the KDF threads. Throws only when the database cannot be read.
    public func checkCredential(username: String, password: String) async throws -> CredentialCheck {
        struct Stored: Sendable {
            var hash: String
            var lastUsedAt: Int64?
            var credential: VerifiedCredential
        }
        let stored: Stored? = Validation.isValidUsername(username)
            ? try await pool.read { db in
                guard let row = try Row.fetchOne(db, cached: """
                        SELECT c.password_hash, c.last_used_at, c.daily_limit, a.id AS account_id, a.name, a.kind, a.state
                        FROM credentials c JOIN accounts a ON a.id = c.account_id
                        WHERE c.username = ?
                        """,
                    arguments: [username])
                else { return nil }
                return Stored(
                    hash: row["password_hash"],
                    lastUsedAt: row["last_used_at"],
                    credential: VerifiedCredential(
                        username: username, accountID: row["account_id"], account: row["name"],
                        kind: AccountKind(rawValue: row["kind"]) ?? .sandbox,
                        state: AccountState(rawValue: row["state"]) ?? .unconfigured,
                        dailyLimit: row["daily_limit"]))
            }
            : nil
        let hasher = self.hasher
        let now = clock()
        let valid: Bool
        if let stored, PasswordHasher.isFast(stored.hash) {
            valid = hasher.verify(password, against: stored.hash)
        } else if let stored, loginCache.contains(username: username, password: password, storedHash: stored.hash, now: now) {
            valid = true
        } else {
            let slowChecks = self.slowChecks
            let checked = await kdf.tryRun(maxPending: Self.maximumPendingSlowChecks) { () -> Bool in
                slowChecks.withLock { $0 += 1 }
                guard let stored else {
                    hasher.dummyVerify(password)
                    return false
                }
                return hasher.verify(password, against: stored.hash)
            }
            guard let checked else { return .busy }
            valid = checked
            if valid, let stored {
                loginCache.insert(username: username, password: password, storedHash: stored.hash, now: now)
                // Only after a slow check: a cached or fast login need not parse the hash again.
                if hasher.needsRehash(stored.hash) { await rehash(username: username, password: password, old: stored.hash) }
            }
        }
        guard valid, let stored else { return .invalid }
        // A CMS may log in once per message: refresh last_used_at at most once a minute, not a write per AUTH.
        let nowMillis = Millis.from(now)
        if (stored.lastUsedAt ?? 0) < nowMillis - 60_000 {
            try await pool.write { db in
                try db.execute(cached: "UPDATE credentials SET last_used_at = ? WHERE username = ?", arguments: [nowMillis, username])
            }
        }
        return .valid(stored.credential)
    }

    /// The login's password, just verified, hashed again with today's parameters (only if the row still
    /// holds the old hash: a concurrent change wins). A failure leaves the old hash, which still works.
    private func rehash(username: String, password: String, old: String) async {
        let hasher = self.hasher
        guard case .success(let new)? = await kdf.tryRun(maxPending: Self.maximumPendingSlowChecks, { Result { try hasher.hash(password) } })
        else { return }
        do {
            try await pool.write { db in
                try db.execute(cached: "UPDATE credentials SET password_hash = ? WHERE username = ? AND password_hash = ?",
                               arguments: [new, username, old])
            }
        } catch {
            logger.warning("password rehash not written", metadata: ["smtp.user": "\(username)", "error": "\(error)"])
        }
    }

    public func credentials() async throws -> [Credential] {
        try await credentialRows(whereUsername: nil)
    }

    /// One login by username (the account a message of that login goes through), or nil.
    public func credential(username: String) async throws -> Credential? {
        try await credentialRows(whereUsername: username).first
    }

    private func credentialRows(whereUsername username: String?) async throws -> [Credential] {
        let since = Millis.from(Self.startOfUTCDay(clock()))
        return try await pool.read { db in
            try Row.fetchAll(db, cached: """
                    SELECT c.username, a.name, c.created_at, c.last_used_at, c.daily_limit,
                        (SELECT COUNT(*) FROM messages m WHERE m.credential_username = c.username AND m.created_at >= ?) AS sent_today
                    FROM credentials c JOIN accounts a ON a.id = c.account_id
                    \(username == nil ? "" : "WHERE c.username = ?")
                    ORDER BY c.username
                    """,
                arguments: StatementArguments([since as any DatabaseValueConvertible] + (username.map { [$0] } ?? []))
            ).map { row in
                Credential(
                    username: row["username"], account: row["name"],
                    createdAt: Millis.date(row["created_at"] as Int64),
                    lastUsedAt: Millis.dateIfAny(row["last_used_at"] as Int64?),
                    dailyLimit: row["daily_limit"], sentToday: row["sent_today"])
            }
        }
    }

    /// Sets (or, with nil, removes) a login's daily message limit.
    public func setCredentialDailyLimit(username: String, limit: Int?) async throws {
        if let limit, limit < 0 { throw StoreError.invalidDailyLimit(limit) }
        let now = nowMillis
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, cached: "SELECT c.id, a.id AS account_id, a.name FROM credentials c JOIN accounts a ON a.id = c.account_id WHERE c.username = ?",
                arguments: [username])
            else { throw StoreError.unknownCredential(username) }
            try db.execute(cached: "UPDATE credentials SET daily_limit = ? WHERE id = ?", arguments: [limit, row["id"] as Int64])
            let detail = limit.map { "SMTP username \(username): daily limit \($0)" } ?? "SMTP username \(username): no daily limit"
            try insertEvent(db, at: now, kind: .credentialUpdated, detail: detail, accountID: row["account_id"], account: row["name"])
        }
    }

    /// A login's messages today (since 00:00 UTC, by the store's clock) and its limit now. One read,
    /// an index range (messages_credential_created): it runs at each MAIL FROM of a limited login.
    public func dailyUsage(username: String) async throws -> DailyUsage {
        let since = Self.startOfUTCDay(clock())
        let sinceMillis = Millis.from(since)
        return try await pool.read { db in
            let row = try Row.fetchOne(db, cached: """
                    SELECT (SELECT daily_limit FROM credentials WHERE username = ?) AS daily_limit,
                        (SELECT COUNT(*) FROM messages WHERE credential_username = ? AND created_at >= ?) AS sent
                    """, arguments: [username, username, sinceMillis])
            return DailyUsage(limit: row?["daily_limit"], count: row?["sent"] ?? 0, since: since)
        }
    }

    /// 00:00 UTC of the day `date` falls in: per-login limits count from here.
    static func startOfUTCDay(_ date: Date) -> Date {
        let seconds = date.timeIntervalSince1970
        return Date(timeIntervalSince1970: (seconds / 86_400).rounded(.down) * 86_400)
    }

    public func removeCredential(username: String) async throws {
        let now = nowMillis
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, cached: "SELECT c.id, a.id AS account_id, a.name FROM credentials c JOIN accounts a ON a.id = c.account_id WHERE c.username = ?",
                arguments: [username])
            else { throw StoreError.unknownCredential(username) }
            try db.execute(cached: "DELETE FROM credentials WHERE id = ?", arguments: [row["id"] as Int64])
            try insertEvent(db, at: now, kind: .credentialRemoved, detail: "SMTP username \(username)",
                            accountID: row["account_id"], account: row["name"])
        }
    }

    /// The stored hash string, for tests and diagnostics (never logged).
    func passwordHash(username: String) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, cached: "SELECT password_hash FROM credentials WHERE username = ?", arguments: [username])
        }
    }
}
