import Foundation
import GRDB

extension RelayStore {
    /// Adds an SMTP login for one CMS site, bound to an account.
    public func addCredential(username: String, account: String, password: String) async throws {
        guard Validation.isValidUsername(username) else { throw StoreError.invalidUsername(username) }
        guard password.count >= PasswordHasher.minimumPasswordLength else {
            throw StoreError.weakPassword(minimumLength: PasswordHasher.minimumPasswordLength)
        }
        let hasher = self.hasher
        let hashed = await kdf.run { Result { try hasher.hash(password) } }
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
            try insertEvent(db, at: now, kind: "credential_added", detail: "SMTP username \(username)",
                            accountID: accountID, account: account)
        }
    }

    /// Checks an SMTP AUTH login. Returns nil for a wrong password or unknown username, after the same
    /// amount of KDF work either way, so timing does not tell which usernames exist. Throws only when
    /// the database cannot be read (the SMTP layer answers with a temporary error then).
    public func verifyCredential(username: String, password: String) async throws -> VerifiedCredential? {
        struct Stored: Sendable {
            var hash: String
            var lastUsedAt: Int64?
            var credential: VerifiedCredential
        }
        let stored: Stored? = Validation.isValidUsername(username)
            ? try await pool.read { db in
                guard let row = try Row.fetchOne(db, cached: """
                        SELECT c.password_hash, c.last_used_at, a.id AS account_id, a.name, a.kind, a.state
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
                        state: AccountState(rawValue: row["state"]) ?? .unconfigured))
            }
            : nil
        let hasher = self.hasher
        let valid = await kdf.run { () -> Bool in
            guard let stored else {
                hasher.dummyVerify(password)
                return false
            }
            return hasher.verify(password, against: stored.hash)
        }
        guard valid, let stored else { return nil }
        // A CMS may log in once per message: refresh last_used_at at most once a minute, not a write per AUTH.
        let now = nowMillis
        if (stored.lastUsedAt ?? 0) < now - 60_000 {
            try await pool.write { db in
                try db.execute(cached: "UPDATE credentials SET last_used_at = ? WHERE username = ?", arguments: [now, username])
            }
        }
        return stored.credential
    }

    public func credentials() async throws -> [Credential] {
        try await credentialRows(whereUsername: nil)
    }

    /// One login by username (the account a message of that login goes through), or nil.
    public func credential(username: String) async throws -> Credential? {
        try await credentialRows(whereUsername: username).first
    }

    private func credentialRows(whereUsername username: String?) async throws -> [Credential] {
        try await pool.read { db in
            try Row.fetchAll(db, cached: """
                    SELECT c.username, a.name, c.created_at, c.last_used_at
                    FROM credentials c JOIN accounts a ON a.id = c.account_id
                    \(username == nil ? "" : "WHERE c.username = ?")
                    ORDER BY c.username
                    """,
                arguments: StatementArguments(username.map { [$0] } ?? [])
            ).map { row in
                Credential(
                    username: row["username"], account: row["name"],
                    createdAt: Millis.date(row["created_at"] as Int64),
                    lastUsedAt: Millis.dateIfAny(row["last_used_at"] as Int64?))
            }
        }
    }

    public func removeCredential(username: String) async throws {
        let now = nowMillis
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, cached: "SELECT c.id, a.id AS account_id, a.name FROM credentials c JOIN accounts a ON a.id = c.account_id WHERE c.username = ?",
                arguments: [username])
            else { throw StoreError.unknownCredential(username) }
            try db.execute(cached: "DELETE FROM credentials WHERE id = ?", arguments: [row["id"] as Int64])
            try insertEvent(db, at: now, kind: "credential_removed", detail: "SMTP username \(username)",
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
