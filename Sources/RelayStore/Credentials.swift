import Foundation
import StoreModel
import GRDB
import RelayVocabulary

extension RelayStore {
    /// Adds an SMTP login for one CMS site, bound to an account.
    /// `generated`: the relay made the password (192 random bits), so it gets the fast hash.
    public func addCredential(username: String, account: String, password: String, generated: Bool = false) async throws {
        guard Validation.isValidUsername(username) else { throw StoreError.invalidUsername(username) }
        let hash = try await logins.hash(password, generated: generated)
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

    /// Checks an SMTP AUTH login (the steps are StoreModel's `LoginChecker`): in the same time for
    /// unknown usernames as for wrong passwords. Throws only when the database cannot be read.
    public func checkCredential(username: String, password: String) async throws -> CredentialCheck {
        let stored: StoredLogin? = Validation.isValidUsername(username)
            ? try await pool.read { db in
                guard let row = try Row.fetchOne(db, cached: """
                        SELECT c.password_hash, c.last_used_at, c.daily_limit, a.id AS account_id, a.name, a.kind, a.state
                        FROM credentials c JOIN accounts a ON a.id = c.account_id
                        WHERE c.username = ?
                        """,
                    arguments: [username])
                else { return nil }
                return StoredLogin(
                    hash: row["password_hash"],
                    lastUsedAt: row["last_used_at"],
                    credential: VerifiedCredential(
                        username: username, accountID: row["account_id"], account: row["name"],
                        kind: AccountKind(rawValue: row["kind"]) ?? .sandbox,
                        state: AccountState(rawValue: row["state"]) ?? .unconfigured,
                        dailyLimit: row["daily_limit"]))
            }
            : nil
        return try await logins.check(
            username: username, password: password, stored: stored, now: clock(),
            rehash: { new, old in await rehash(username: username, new: new, old: old) },
            touch: { now in
                try await pool.write { db in
                    try db.execute(cached: "UPDATE credentials SET last_used_at = ? WHERE username = ?", arguments: [now, username])
                }
            })
    }

    /// Writes a login's password hashed with today's parameters (only if the row still holds the old
    /// hash: a concurrent change wins). A failure leaves the old hash, which still works.
    private func rehash(username: String, new: String, old: String) async {
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
        let since = Millis.from(startOfUTCDay(clock()))
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
            let detail = EventWords.dailyLimit(username: username, limit: limit)
            try insertEvent(db, at: now, kind: .credentialUpdated, detail: detail, accountID: row["account_id"], account: row["name"])
        }
    }

    /// A login's messages today (since 00:00 UTC, by the store's clock) and its limit now. One read,
    /// an index range (messages_credential_created): it runs at each MAIL FROM of a limited login.
    public func dailyUsage(username: String) async throws -> DailyUsage {
        let since = startOfUTCDay(clock())
        let sinceMillis = Millis.from(since)
        return try await pool.read { db in
            let row = try Row.fetchOne(db, cached: """
                    SELECT (SELECT daily_limit FROM credentials WHERE username = ?) AS daily_limit,
                        (SELECT COUNT(*) FROM messages WHERE credential_username = ? AND created_at >= ?) AS sent
                    """, arguments: [username, username, sinceMillis])
            return DailyUsage(limit: row?["daily_limit"], count: row?["sent"] ?? 0, since: since)
        }
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
