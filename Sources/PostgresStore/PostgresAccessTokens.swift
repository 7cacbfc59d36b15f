import Foundation
import PostgresNIO

// One access token per account for the whole fleet (issue 15): `account_tokens` holds each account's
// current token sealed, and a refresh runs under a per-account transaction-scoped advisory lock, so
// however many relays need a token at once, one asks Google and the others read what it stored.

extension PostgresRelayStore: SharedAccessTokens {
    /// pg_advisory_xact_lock's first key of a token refresh ("gmtk" in ASCII); the second is the account's
    /// id. The two-key form is its own key space: it never meets the migrator's one-key lock.
    static let tokenLockSpace: Int32 = 0x676d_746b

    public func sharedAccessToken(
        account: String, grantDigest: Data, meeting requirement: SharedTokenRequirement
    ) async throws -> SharedAccessToken? {
        let stored = try await read { [self] db in try await storedToken(db, account: account) }
        return usable(stored, account: account, grantDigest: grantDigest, requirement: requirement)
    }

    public func refreshSharedAccessToken(
        account: String, grantDigest: Data, unlessMet requirement: SharedTokenRequirement,
        refresh: @escaping @Sendable () async throws -> SharedAccessToken
    ) async throws -> SharedAccessToken {
        // A token Google issued but the database could not take is still good for this relay.
        let obtained = LockedValue<SharedAccessToken?>(nil)
        let outcome: Result<SharedAccessToken, any Error>
        do {
            outcome = try await write { [self] db in
                guard let id: Int64 = try await db.value("SELECT id FROM accounts WHERE name = \(account)") else {
                    throw StoreError.unknownAccount(account)
                }
                // Held until this transaction ends: commit, rollback, or the connection gone with its relay.
                try await db.run("SELECT pg_advisory_xact_lock(\(Self.tokenLockSpace), \(Int32(truncatingIfNeeded: id)))")
                // Read after the lock: a relay that held it before us has committed what it got.
                if let token = usable(try await storedToken(db, account: account), account: account, grantDigest: grantDigest,
                                      requirement: requirement) {
                    return .success(token)
                }
                let token: SharedAccessToken
                do {
                    token = try await refresh()
                } catch {
                    // Google's answer goes back as it came (the classifier and the send log read it);
                    // nothing is stored, and the lock goes with the transaction.
                    return .failure(error)
                }
                obtained.withLock { $0 = token }
                let sealed = try secrets.sealAccessToken(token.value, account: account, grantDigest: grantDigest)
                try await db.run("""
                    INSERT INTO account_tokens (account_id, grant_digest, token, scope, expires_at, obtained_at, obtained_by)
                    VALUES (\(id), \(grantDigest), \(sealed), \(token.scope), \(Millis.from(token.expiresAt)),
                        \(Millis.from(token.obtainedAt)), \(relayName))
                    ON CONFLICT (account_id) DO UPDATE SET grant_digest = EXCLUDED.grant_digest, token = EXCLUDED.token,
                        scope = EXCLUDED.scope, expires_at = EXCLUDED.expires_at, obtained_at = EXCLUDED.obtained_at,
                        obtained_by = EXCLUDED.obtained_by, refreshes = account_tokens.refreshes + 1
                    """)
                return .success(token)
            }
        } catch {
            guard let token = obtained.withLock({ $0 }) else { throw error }
            logger.warning("could not share a new access token with the other relays; this relay uses it alone",
                           metadata: ["account": "\(account)", "error": "\(error)"])
            return token
        }
        return try outcome.get()
    }

    /// How many times the fleet asked Google for this account's token since the row was made (0: never).
    public func sharedTokenRefreshes(account: String) async throws -> Int64 {
        try await read { [self] db in
            try await db.value("""
                SELECT t.refreshes FROM account_tokens t JOIN accounts a ON a.id = t.account_id WHERE a.name = \(account)
                """) ?? 0
        }
    }
}

/// A row of `account_tokens`, still sealed.
struct StoredAccessToken: Sendable {
    var grantDigest: Data
    var sealed: Data
    var scope: String?
    var expiresAt: Int64
    var obtainedAt: Int64
}

extension PostgresRelayStore {
    func storedToken(_ db: Session, account: String) async throws -> StoredAccessToken? {
        guard let row = try await db.row("""
            SELECT t.grant_digest, t.token, t.scope, t.expires_at, t.obtained_at
            FROM account_tokens t JOIN accounts a ON a.id = t.account_id WHERE a.name = \(account)
            """) else { return nil }
        return StoredAccessToken(
            grantDigest: try row.get("grant_digest"), sealed: try row.get("token"), scope: try row.get("scope"),
            expiresAt: try row.get("expires_at"), obtainedAt: try row.get("obtained_at"))
    }

    /// The stored token opened, if it is this grant's and meets the requirement. A token this relay's
    /// key cannot open is as good as none (the refresh replaces it), and the log says why.
    func usable(
        _ stored: StoredAccessToken?, account: String, grantDigest: Data, requirement: SharedTokenRequirement
    ) -> SharedAccessToken? {
        guard let stored, stored.grantDigest == grantDigest else { return nil }
        let value: String
        do {
            value = try secrets.openAccessToken(stored.sealed, account: account, grantDigest: grantDigest)
        } catch {
            logger.warning("the shared access token does not open with this relay's key file: every relay must read the same one",
                           metadata: ["account": "\(account)", "secret_key_file": "\(secretKeyFile)"])
            return nil
        }
        let token = SharedAccessToken(value: value, expiresAt: Millis.date(stored.expiresAt), scope: stored.scope,
                                      obtainedAt: Millis.date(stored.obtainedAt))
        return requirement.isMet(by: token) ? token : nil
    }
}
