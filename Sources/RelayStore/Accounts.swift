import Foundation
import StoreModel
import GRDB
import RelayVocabulary

extension RelayStore {
    /// Adds an account. `secret` (a refresh token grant or a service-account key, as the caller encodes
    /// it) is encrypted with the SecretBox before it reaches the database.
    @discardableResult
    public func addAccount(
        name: String, kind: AccountKind, fromAddresses: [String] = [], secret: Data? = nil,
        state: AccountState = .unconfigured
    ) async throws -> Account {
        guard Validation.isValidAccountName(name) else { throw StoreError.invalidAccountName(name) }
        let addresses = try normalizedAddresses(fromAddresses)
        let sealed = try secret.map { try secrets.seal($0, account: name) }
        let now = nowMillis
        return try await pool.write { db in
            if try Bool.fetchOne(db, cached: "SELECT 1 FROM accounts WHERE name = ?", arguments: [name]) == true {
                throw StoreError.duplicateAccount(name)
            }
            try db.execute(cached: """
                    INSERT INTO accounts (name, kind, from_addresses, state, secret, consented_at, secret_stored_at, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [name, kind.rawValue, JSONList.encode(addresses), state.rawValue, sealed,
                            sealed == nil ? nil : now, sealed == nil ? nil : now, now, now])
            let id = db.lastInsertedRowID
            try insertEvent(db, at: now, kind: .accountAdded, detail: EventWords.accountAdded(kind: kind, addresses: addresses),
                            accountID: id, account: name)
            return try fetchAccount(db, name: name)!
        }
    }

    public func account(named name: String) async throws -> Account? {
        try await pool.read { db in try fetchAccount(db, name: name) }
    }

    public func accounts() async throws -> [Account] {
        try await pool.read { db in
            try Row.fetchAll(db, cached: "SELECT \(Account.columns) FROM accounts ORDER BY name").map(Account.init(row:))
        }
    }

    /// Removes the account and its SMTP credentials. The send log keeps its messages (they carry the
    /// account's name); queued and held ones can no longer be sent and become failed (`account_removed`).
    @discardableResult
    public func removeAccount(named name: String) async throws -> AccountRemoval {
        let now = nowMillis
        return try await pool.write { db in
            guard let id = try Int64.fetchOne(db, cached: "SELECT id FROM accounts WHERE name = ?", arguments: [name]) else {
                throw StoreError.unknownAccount(name)
            }
            let credentials = try Int.fetchOne(db, cached: "SELECT COUNT(*) FROM credentials WHERE account_id = ?", arguments: [id]) ?? 0
            let stranded = try Row.fetchAll(db, cached: """
                    SELECT id, status, account_id, account FROM messages WHERE account_id = ? AND status IN ('queued', 'held')
                    """, arguments: [id])
            for row in stranded {
                try MessageLifecycle.apply(db, MessageState(row: row), .accountRemoved, now: now)
            }
            // Credentials go by ON DELETE CASCADE; messages and events keep the name, lose the id.
            try db.execute(cached: "DELETE FROM accounts WHERE id = ?", arguments: [id])
            // Accounts that fell back on this one no longer have a fallback.
            try db.execute(cached: "UPDATE accounts SET fallback_account = NULL WHERE fallback_account = ?", arguments: [name])
            try insertEvent(db, at: now, kind: .accountRemoved,
                            detail: EventWords.accountRemoved(credentials: credentials, messages: stranded.count),
                            account: name)
            return AccountRemoval(credentialsRemoved: credentials, messagesFailed: stranded.count)
        }
    }

    /// Records what the delivery worker or `doctor` learned about the account. A call that changes
    /// nothing writes nothing, so the worker may report the same state after every attempt.
    public func setAccountState(
        name: String, state: AccountState, problemCode: ProblemCode? = nil, detail: ProblemDetail? = nil
    ) async throws {
        let now = nowMillis
        try await pool.write { db in
            try applyAccountState(db, name: name, state: state, problemCode: problemCode, detail: detail, now: now)
        }
    }

    /// The decrypted secret, or nil when none is stored.
    public func accountSecret(named name: String) async throws -> Data? {
        let sealed: Data?? = try await pool.read { db in
            guard let row = try Row.fetchOne(db, cached: "SELECT secret FROM accounts WHERE name = ?", arguments: [name]) else {
                return .none
            }
            return .some(row["secret"] as Data?)
        }
        guard let found = sealed else { throw StoreError.unknownAccount(name) }
        guard let data = found else { return nil }
        return try secrets.open(data, account: name)
    }

    /// What Google said about the account's newest access token: when it expires and, when the token
    /// endpoint or tokeninfo said, which scopes it carries (nil leaves the known scopes alone).
    public func setTokenExpiry(name: String, expiresAt: Date?, scopes: [String]? = nil) async throws {
        let now = nowMillis
        try await pool.write { db in
            try recordToken(db, name: name, expiresAt: expiresAt, scopes: scopes, now: now)
            if db.changesCount == 0 { throw StoreError.unknownAccount(name) }
        }
    }
}

func fetchAccount(_ db: Database, name: String) throws -> Account? {
    try Row.fetchOne(db, cached: "SELECT \(Account.columns) FROM accounts WHERE name = ?", arguments: [name]).map(Account.init(row:))
}

extension Account {
    /// Every column but the secret itself (an account read does not copy the encrypted grant).
    static let columns = """
        id, name, kind, from_addresses, state, problem_code, problem_detail, secret IS NOT NULL AS has_secret,
        consented_at, last_success_at, token_expires_at, checked_at, granted_scopes, fallback_account, secret_stored_at, created_at, updated_at
        """

    init(row: Row) {
        self.init(
            id: row["id"],
            name: row["name"],
            kind: AccountKind(rawValue: row["kind"]) ?? .sandbox,
            fromAddresses: JSONList.decode(row["from_addresses"]),
            state: AccountState(rawValue: row["state"]) ?? .unconfigured,
            problemCode: ProblemCode(stored: row["problem_code"]),
            problemDetail: ProblemDetail(json: row["problem_detail"]),
            hasSecret: row["has_secret"],
            consentedAt: Millis.dateIfAny(row["consented_at"] as Int64?),
            lastSuccessAt: Millis.dateIfAny(row["last_success_at"] as Int64?),
            tokenExpiresAt: Millis.dateIfAny(row["token_expires_at"] as Int64?),
            checkedAt: Millis.dateIfAny(row["checked_at"] as Int64?),
            grantedScopes: (row["granted_scopes"] as String?).map { $0.split(separator: " ").map(String.init) },
            fallback: row["fallback_account"],
            secretStoredAt: Millis.dateIfAny(row["secret_stored_at"] as Int64?),
            createdAt: Millis.date(row["created_at"] as Int64),
            updatedAt: Millis.date(row["updated_at"] as Int64))
    }
}

func applyAccountState(_ db: Database, name: String, state: AccountState, problemCode: ProblemCode?, detail: ProblemDetail?, now: Int64) throws {
    let code = problemCode?.rawValue
    let detail = detail?.json
    guard let row = try Row.fetchOne(db, cached: "SELECT id, state, problem_code, problem_detail FROM accounts WHERE name = ?", arguments: [name])
    else { throw StoreError.unknownAccount(name) }
    let id: Int64 = row["id"]
    // Reporting the same state again writes nothing, so the worker may report after every attempt.
    if row["state"] == state.rawValue, row["problem_code"] == code, row["problem_detail"] == detail {
        return
    }
    try db.execute(cached: "UPDATE accounts SET state = ?, problem_code = ?, problem_detail = ?, updated_at = ? WHERE id = ?",
        arguments: [state.rawValue, code, detail, now, id])
    try insertEvent(db, at: now, kind: .accountState, detail: EventWords.accountState(state, problemCode, detailJSON: detail),
                    accountID: id, account: name, problem: problemCode)
}

/// Records a success; returns whether the account had been stopped (a state other than ok, or a problem
/// such as a daily-limit pause), which the success now clears.
func applyAccountSuccess(_ db: Database, name: String, at: Int64) throws -> Bool {
    guard let row = try Row.fetchOne(db, cached: "SELECT id, state, problem_code FROM accounts WHERE name = ?", arguments: [name])
    else { throw StoreError.unknownAccount(name) }
    let id: Int64 = row["id"]
    let previous: String = row["state"]
    let problem: String? = row["problem_code"]
    if previous == AccountState.ok.rawValue && problem == nil {
        try db.execute(cached: "UPDATE accounts SET last_success_at = ? WHERE id = ?", arguments: [at, id])
        return false
    }
    try db.execute(cached: """
            UPDATE accounts SET last_success_at = ?, state = 'ok', problem_code = NULL, problem_detail = NULL,
                updated_at = ? WHERE id = ?
            """,
        arguments: [at, at, id])
    try insertEvent(db, at: at, kind: .accountState, detail: EventWords.okAfterSuccess(previousState: previous, previousProblem: problem),
                    accountID: id, account: name)
    return true
}

func recordToken(_ db: Database, name: String, expiresAt: Date?, scopes: [String]?, now: Int64) throws {
    try db.execute(cached: """
            UPDATE accounts SET token_expires_at = ?, granted_scopes = COALESCE(?, granted_scopes), updated_at = ?
            WHERE name = ?
            """,
        arguments: [expiresAt.map(Millis.from), scopes?.sorted().joined(separator: " "), now, name])
}
