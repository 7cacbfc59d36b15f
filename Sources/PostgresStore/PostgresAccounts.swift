import Foundation
import PostgresNIO
import RelayVocabulary

// Accounts, as RelayStore's Accounts.swift: same checks, errors and events.

extension PostgresRelayStore: AccountStore {
    @discardableResult
    public func addAccount(
        name: String, kind: AccountKind, fromAddresses: [String] = [], secret: Data? = nil, state: AccountState = .unconfigured
    ) async throws -> Account {
        guard Validation.isValidAccountName(name) else { throw StoreError.invalidAccountName(name) }
        let addresses = try normalizedAddresses(fromAddresses)
        let sealed = try secret.map { try secrets.seal($0, account: name) }
        let stored: Int64? = sealed == nil ? nil : nowMillis
        let now = nowMillis
        return try await write { [self] db in
            if try await db.row("SELECT 1 FROM accounts WHERE name = \(name)") != nil { throw StoreError.duplicateAccount(name) }
            let id: Int64
            do {
                id = try await db.value("""
                    INSERT INTO accounts (name, kind, from_addresses, state, secret, consented_at, secret_stored_at, created_at, updated_at)
                    VALUES (\(name), \(kind.rawValue), \(JSONList.encode(addresses)), \(state.rawValue), \(sealed), \(stored), \(stored),
                        \(now), \(now))
                    RETURNING id
                    """) ?? 0
            } catch where isUniqueViolation(error) {
                throw StoreError.duplicateAccount(name)  // another relay added it since the check
            }
            try await db.insertEvent(at: now, kind: .accountAdded, detail: EventWords.accountAdded(kind: kind, addresses: addresses),
                                     accountID: id, account: name)
            return try await fetchAccount(db, name: name)!
        }
    }

    public func account(named name: String) async throws -> Account? {
        try await read { [self] db in try await fetchAccount(db, name: name) }
    }

    public func accounts() async throws -> [Account] {
        try await read { [self] db in
            try await db.rows("SELECT \(unescaped: Account.pgColumns) FROM accounts ORDER BY name").map(Account.init(pg:))
        }
    }

    @discardableResult
    public func removeAccount(named name: String) async throws -> AccountRemoval {
        let now = nowMillis
        return try await write { [self] db in
            guard let id: Int64 = try await db.value("SELECT id FROM accounts WHERE name = \(name) FOR UPDATE") else {
                throw StoreError.unknownAccount(name)
            }
            let credentials: Int = try await db.value("SELECT count(*) FROM credentials WHERE account_id = \(id)") ?? 0
            let stranded = try await db.rows("""
                SELECT id, status, account_id, account FROM messages WHERE account_id = \(id) AND status IN ('queued', 'held')
                FOR NO KEY UPDATE
                """).map(MessageState.init(pg:))
            for message in stranded {
                try await apply(db, message, .accountRemoved, now: now)
            }
            // Credentials go by ON DELETE CASCADE; messages and events keep the name, lose the id.
            try await db.run("DELETE FROM accounts WHERE id = \(id)")
            // Accounts that fell back on this one no longer have a fallback.
            try await db.run("UPDATE accounts SET fallback_account = NULL WHERE fallback_account = \(name)")
            try await db.insertEvent(at: now, kind: .accountRemoved,
                                     detail: EventWords.accountRemoved(credentials: credentials, messages: stranded.count), account: name)
            return AccountRemoval(credentialsRemoved: credentials, messagesFailed: stranded.count)
        }
    }

    public func setAccountState(
        name: String, state: AccountState, problemCode: ProblemCode? = nil, detail: ProblemDetail? = nil
    ) async throws {
        let now = nowMillis
        try await write { [self] db in
            try await applyAccountState(db, name: name, state: state, problemCode: problemCode, detail: detail, now: now)
        }
    }

    /// The opened secret, or nil when none is stored. A relay whose key file is not the one the secret
    /// was sealed with gets `secretUndecryptable` (as on SQLite), and the log names the key file it used.
    public func accountSecret(named name: String) async throws -> Data? {
        let sealed: Data?? = try await read { [self] db in
            guard let row = try await db.row("SELECT secret FROM accounts WHERE name = \(name)") else { return .none }
            return .some(try row.get("secret", as: Data?.self))
        }
        guard let found = sealed else { throw StoreError.unknownAccount(name) }
        guard let data = found else { return nil }
        do {
            return try secrets.open(data, account: name)
        } catch StoreError.secretUndecryptable(let what) {
            logger.error("a stored secret does not open with this relay's key file: every relay must read the same one",
                         metadata: ["account": "\(name)", "secret_key_file": "\(secretKeyFile)"])
            throw StoreError.secretUndecryptable(what)
        }
    }

    public func setTokenExpiry(name: String, expiresAt: Date?, scopes: [String]? = nil) async throws {
        let now = nowMillis
        try await write { [self] db in
            if try await recordToken(db, name: name, expiresAt: expiresAt, scopes: scopes, now: now) == 0 {
                throw StoreError.unknownAccount(name)
            }
        }
    }
}

// MARK: - Steps shared by several transactions

extension PostgresRelayStore {
    func fetchAccount(_ db: Session, name: String) async throws -> Account? {
        try await db.row("SELECT \(unescaped: Account.pgColumns) FROM accounts WHERE name = \(name)").map(Account.init(pg:))
    }

    func applyAccountState(
        _ db: Session, name: String, state: AccountState, problemCode: ProblemCode?, detail: ProblemDetail?, now: Int64
    ) async throws {
        let code = problemCode?.rawValue
        let detail = detail?.json
        guard let row = try await db.row("SELECT id, state, problem_code, problem_detail FROM accounts WHERE name = \(name) FOR NO KEY UPDATE")
        else { throw StoreError.unknownAccount(name) }
        let id: Int64 = try row.get("id")
        // Reporting the same state again writes nothing, so the worker may report after every attempt.
        if try row.get("state", as: String.self) == state.rawValue, try row.get("problem_code", as: String?.self) == code,
           try row.get("problem_detail", as: String?.self) == detail {
            return
        }
        // A change may hold the account's mail: accepts in flight first (before the row is updated).
        try await lockAgainstAccepts(db, accounts: [name])
        try await db.run("""
            UPDATE accounts SET state = \(state.rawValue), problem_code = \(code), problem_detail = \(detail), updated_at = \(now)
            WHERE id = \(id)
            """)
        try await db.insertEvent(at: now, kind: .accountState, detail: EventWords.accountState(state, problemCode, detailJSON: detail),
                                 accountID: id, account: name, problem: problemCode)
    }

    /// Records a success; returns whether the account had been stopped, which the success now clears.
    func applyAccountSuccess(_ db: Session, name: String, at: Int64) async throws -> Bool {
        guard let row = try await db.row("SELECT id, state, problem_code FROM accounts WHERE name = \(name) FOR NO KEY UPDATE")
        else { throw StoreError.unknownAccount(name) }
        let id: Int64 = try row.get("id")
        let previous: String = try row.get("state")
        let problem: String? = try row.get("problem_code")
        if previous == AccountState.ok.rawValue && problem == nil {
            try await db.run("UPDATE accounts SET last_success_at = \(at) WHERE id = \(id)")
            return false
        }
        // The account starts again and its held mail goes: accepts in flight first (before the update).
        try await lockAgainstAccepts(db, accounts: [name])
        try await db.run("""
            UPDATE accounts SET last_success_at = \(at), state = 'ok', problem_code = NULL, problem_detail = NULL, updated_at = \(at)
            WHERE id = \(id)
            """)
        try await db.insertEvent(at: at, kind: .accountState,
                                 detail: EventWords.okAfterSuccess(previousState: previous, previousProblem: problem),
                                 accountID: id, account: name)
        return true
    }

    /// Returns how many accounts it changed (0: no such account).
    @discardableResult
    func recordToken(_ db: Session, name: String, expiresAt: Date?, scopes: [String]?, now: Int64) async throws -> Int {
        try await db.run("""
            UPDATE accounts SET token_expires_at = \(expiresAt.map(Millis.from)),
                granted_scopes = coalesce(\(scopes?.sorted().joined(separator: " ")), granted_scopes), updated_at = \(now)
            WHERE name = \(name) RETURNING id
            """)
    }
}

extension SenderAccount {
    /// A row of `SenderAccount.columns`.
    init(pg row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.get("id"), name: try row.get("name"), kind: AccountKind(rawValue: try row.get("kind")) ?? .sandbox,
            state: AccountState(rawValue: try row.get("state")) ?? .unconfigured,
            problemCode: ProblemCode(stored: try row.get("problem_code", as: String?.self)),
            fallback: try row.get("fallback_account"))
    }
}
