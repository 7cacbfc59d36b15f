import Foundation
import PostgresNIO
import RelayVocabulary

// SMTP logins, as RelayStore's Credentials.swift: the same hashing, the same check (StoreModel's
// LoginChecker: timing-safe unknown users, the verified-login cache, the KDF limit, rehashing), the same
// daily limits and events.

extension PostgresRelayStore: CredentialStore {
    public func addCredential(username: String, account: String, password: String, generated: Bool = false) async throws {
        guard Validation.isValidUsername(username) else { throw StoreError.invalidUsername(username) }
        let hash = try await logins.hash(password, generated: generated)
        let now = nowMillis
        try await write { [self] db in
            guard let accountID: Int64 = try await db.value("SELECT id FROM accounts WHERE name = \(account)")
            else { throw StoreError.unknownAccount(account) }
            if try await db.row("SELECT 1 FROM credentials WHERE username = \(username)") != nil {
                throw StoreError.duplicateCredential(username)
            }
            do {
                try await db.run("""
                    INSERT INTO credentials (username, account_id, password_hash, created_at) VALUES (\(username), \(accountID), \(hash), \(now))
                    """)
            } catch where isUniqueViolation(error) {
                throw StoreError.duplicateCredential(username)  // another relay added it since the check
            }
            try await db.insertEvent(at: now, kind: .credentialAdded, detail: "SMTP username \(username)", accountID: accountID, account: account)
        }
    }

    public func checkCredential(username: String, password: String) async throws -> CredentialCheck {
        let stored: StoredLogin? = Validation.isValidUsername(username)
            ? try await read { [self] db in
                guard let row = try await db.row("""
                    SELECT c.password_hash, c.last_used_at, c.daily_limit, a.id AS account_id, a.name, a.kind, a.state
                    FROM credentials c JOIN accounts a ON a.id = c.account_id WHERE c.username = \(username)
                    """)
                else { return nil }
                return StoredLogin(
                    hash: try row.get("password_hash"),
                    lastUsedAt: try row.get("last_used_at"),
                    credential: VerifiedCredential(
                        username: username, accountID: try row.get("account_id"), account: try row.get("name"),
                        kind: AccountKind(rawValue: try row.get("kind")) ?? .sandbox,
                        state: AccountState(rawValue: try row.get("state")) ?? .unconfigured,
                        dailyLimit: try row.get("daily_limit")))
            }
            : nil
        return try await logins.check(
            username: username, password: password, stored: stored, now: clock(),
            rehash: { new, old in
                do {
                    // Only while the row still holds the old hash: a concurrent change wins.
                    try await write { db -> Void in
                        try await db.run("""
                            UPDATE credentials SET password_hash = \(new) WHERE username = \(username) AND password_hash = \(old)
                            """)
                    }
                } catch {
                    logger.warning("password rehash not written", metadata: ["smtp.user": "\(username)", "error": "\(error)"])
                }
            },
            touch: { now in
                try await write { db -> Void in
                    try await db.run("UPDATE credentials SET last_used_at = \(now) WHERE username = \(username)")
                }
            })
    }

    public func credentials() async throws -> [Credential] {
        try await credentialRows(whereUsername: nil)
    }

    public func credential(username: String) async throws -> Credential? {
        try await credentialRows(whereUsername: username).first
    }

    private func credentialRows(whereUsername username: String?) async throws -> [Credential] {
        let since = Millis.from(startOfUTCDay(clock()))
        return try await read { [self] db in
            try await db.rows("""
                SELECT c.username, a.name, c.created_at, c.last_used_at, c.daily_limit,
                    (SELECT count(*) FROM messages m WHERE m.credential_username = c.username AND m.created_at >= \(since)) AS sent_today
                FROM credentials c JOIN accounts a ON a.id = c.account_id
                WHERE \(username)::text IS NULL OR c.username = \(username)
                ORDER BY c.username
                """).map { row in
                Credential(
                    username: try row.get("username"), account: try row.get("name"), createdAt: try row.date("created_at"),
                    lastUsedAt: try row.dateIfAny("last_used_at"), dailyLimit: try row.get("daily_limit"),
                    sentToday: try row.get("sent_today"))
            }
        }
    }

    public func setCredentialDailyLimit(username: String, limit: Int?) async throws {
        if let limit, limit < 0 { throw StoreError.invalidDailyLimit(limit) }
        let now = nowMillis
        try await write { [self] db in
            let row = try await lockedCredential(db, username)
            try await db.run("UPDATE credentials SET daily_limit = \(limit) WHERE id = \(try row.get("id", as: Int64.self))")
            try await db.insertEvent(at: now, kind: .credentialUpdated, detail: EventWords.dailyLimit(username: username, limit: limit),
                                     accountID: try row.get("account_id"), account: try row.get("name"))
        }
    }

    public func dailyUsage(username: String) async throws -> DailyUsage {
        let since = startOfUTCDay(clock())
        let sinceMillis = Millis.from(since)
        return try await read { [self] db in
            let row = try await db.row("""
                SELECT (SELECT daily_limit FROM credentials WHERE username = \(username)) AS daily_limit,
                    (SELECT count(*) FROM messages WHERE credential_username = \(username) AND created_at >= \(sinceMillis)) AS sent
                """)
            return DailyUsage(limit: try row?.get("daily_limit", as: Int?.self), count: try row?.get("sent", as: Int.self) ?? 0, since: since)
        }
    }

    public func removeCredential(username: String) async throws {
        let now = nowMillis
        try await write { [self] db in
            let row = try await lockedCredential(db, username)
            try await db.run("DELETE FROM credentials WHERE id = \(try row.get("id", as: Int64.self))")
            try await db.insertEvent(at: now, kind: .credentialRemoved, detail: "SMTP username \(username)",
                                     accountID: try row.get("account_id"), account: try row.get("name"))
        }
    }

    /// The login's id and account, its row locked; `unknownCredential` when there is none.
    private func lockedCredential(_ db: Session, _ username: String) async throws -> PostgresRandomAccessRow {
        guard let row = try await db.row("""
            SELECT c.id, a.id AS account_id, a.name FROM credentials c JOIN accounts a ON a.id = c.account_id
            WHERE c.username = \(username) FOR UPDATE OF c
            """)
        else { throw StoreError.unknownCredential(username) }
        return row
    }
}
