import Foundation
import PostgresNIO
import RelayVocabulary

// `account update`, grant checks, `reauth` and fallbacks, each in one transaction, as RelayStore's
// AccountTransactions.swift, Reauthorization.swift and Fallback.swift.

extension PostgresRelayStore {
    @discardableResult
    public func updateAccount(_ update: AccountUpdate) async throws -> Int {
        let name = update.name
        let prepared = try update.prepared(secrets)
        let (sealed, addresses, consented) = (prepared.sealedSecret, prepared.fromAddresses, prepared.consentedAt)
        let now = nowMillis
        return try await write { [self] db in
            guard let id: Int64 = try await db.value("SELECT id FROM accounts WHERE name = \(name) FOR UPDATE") else {
                throw StoreError.unknownAccount(name)
            }
            if let sealed {
                try await db.run("""
                    UPDATE accounts SET secret = \(sealed), consented_at = coalesce(\(consented), consented_at),
                        secret_stored_at = \(now), updated_at = \(now)
                    WHERE id = \(id)
                    """)
                try await db.insertEvent(at: now, kind: .accountSecret, detail: "secret stored (account update)", accountID: id, account: name)
            }
            if let addresses {
                try await db.run("UPDATE accounts SET from_addresses = \(JSONList.encode(addresses)), updated_at = \(now) WHERE id = \(id)")
            }
            switch update.afterwards {
            case .unchanged:
                return 0
            case .needsReauth(let problemCode):
                try await applyAccountState(db, name: name, state: .needsReauth, problemCode: problemCode, detail: nil, now: now)
                return 0
            case .readyToSend:
                try await applyAccountState(db, name: name, state: .ok, problemCode: nil, detail: nil, now: now)
                return try await releaseHeld(db, account: name, now: now)
            }
        }
    }

    @discardableResult
    public func recordGrantCheck(name: String, at date: Date, _ check: GrantCheck) async throws -> Int {
        let at = Millis.from(date)
        let now = nowMillis
        return try await write { [self] db in
            if case .cannotSend(_, _, _, true) = check { try await lockAgainstAccepts(db, accounts: [name]) }
            if try await db.run("UPDATE accounts SET checked_at = \(at) WHERE name = \(name) RETURNING id") == 0 {
                throw StoreError.unknownAccount(name)
            }
            switch check {
            case .inconclusive:
                return 0
            case .tokenIssued(let expiresAt, let scopes):
                try await recordToken(db, name: name, expiresAt: expiresAt, scopes: scopes, now: now)
                return 0
            case .cannotSend(let state, let problemCode, let detail, let hold):
                try await applyAccountState(db, name: name, state: state, problemCode: problemCode, detail: detail, now: now)
                return hold ? try await holdQueued(db, account: name, problemCode: problemCode, now: now) : 0
            }
        }
    }

    public func recordReauthorization(name: String, secret: Data, consentedAt: Date, address: String?) async throws -> Reauthorization {
        let sealed = try secrets.seal(secret, account: name)
        let consented = Millis.from(consentedAt)
        let now = nowMillis
        let newAddress = address.map { $0.trimmingCharacters(in: .whitespaces) }
        if let newAddress, !Validation.isValidAddress(newAddress) { throw StoreError.invalidAddress(newAddress) }
        return try await write { [self] db in
            guard let row = try await db.row("SELECT id, from_addresses FROM accounts WHERE name = \(name) FOR UPDATE") else {
                throw StoreError.unknownAccount(name)
            }
            let id: Int64 = try row.get("id")
            try await db.run("""
                UPDATE accounts SET secret = \(sealed), consented_at = \(consented), secret_stored_at = \(now), updated_at = \(now)
                WHERE id = \(id)
                """)
            try await db.insertEvent(at: now, kind: .accountSecret, detail: "secret stored (new consent)", accountID: id, account: name)
            var addressAdded = false
            if let newAddress, JSONList.decode(try row.get("from_addresses", as: String.self)).isEmpty {
                try await db.run("UPDATE accounts SET from_addresses = \(JSONList.encode([newAddress])) WHERE id = \(id)")
                addressAdded = true
            }
            _ = try await applyAccountSuccess(db, name: name, at: now)
            let released = try await releaseHeld(db, account: name, now: now)
            return Reauthorization(released: released, addressAdded: addressAdded)
        }
    }

    @discardableResult
    public func setFallback(account name: String, to fallback: String?) async throws -> Int {
        let now = nowMillis
        return try await write { [self] db in
            guard let id: Int64 = try await db.value("SELECT id FROM accounts WHERE name = \(name) FOR UPDATE") else {
                throw StoreError.unknownAccount(name)
            }
            if let fallback {
                guard fallback != name else { throw StoreError.invalidFallback(name) }
                guard try await fetchAccount(db, name: fallback) != nil else { throw StoreError.unknownAccount(fallback) }
            }
            try await db.run("UPDATE accounts SET fallback_account = \(fallback), updated_at = \(now) WHERE id = \(id)")
            try await db.insertEvent(at: now, kind: .accountFallback, detail: EventWords.fallbackSet(fallback), accountID: id, account: name)
            return try await fetchUsableFallback(db, account: name) != nil ? releaseHeld(db, account: name, now: now) : 0
        }
    }

    public func usableFallback(for name: String) async throws -> Account? {
        try await read { [self] db in try await fetchUsableFallback(db, account: name) }
    }

    /// The account's fallback while the account needs reauthorization or is blocked and the fallback is ok.
    func fetchUsableFallback(_ db: Session, account name: String) async throws -> Account? {
        guard let row = try await db.row("SELECT state, fallback_account FROM accounts WHERE name = \(name)"),
              let fallbackName = try row.get("fallback_account", as: String?.self),
              AccountState(rawValue: try row.get("state"))?.isCoveredByFallback == true,
              let fallback = try await fetchAccount(db, name: fallbackName), fallback.state == .ok
        else { return nil }
        return fallback
    }

    /// Waits for the accepts in flight for these accounts (they hold `FOR KEY SHARE`) and keeps new ones
    /// out until this transaction ends, so holding or releasing their mail sees every message accepted
    /// before and decides every message accepted after (see `accept(_:readingAccountOf:decide:)`).
    /// It must come before this transaction updates the row: an accept that arrives after an update
    /// locks the row's old version, which a lock on the new version does not wait for. So every
    /// transaction that may hold or release an account's mail (`holdQueued`, `releaseHeld`) locks the
    /// account this way (or `FOR UPDATE`) first.
    func lockAgainstAccepts(_ db: Session, accounts: [String]) async throws {
        try await db.run("SELECT id FROM accounts WHERE name = ANY(\(accounts)) ORDER BY id FOR UPDATE")
    }

    /// Queued mail of an account that cannot send is held, unless its fallback can send it.
    func holdQueued(_ db: Session, account: String, problemCode: ProblemCode, now: Int64) async throws -> Int {
        if try await fetchUsableFallback(db, account: account) != nil { return 0 }
        let messages = try await states(db, status: .queued, account: account)
        for message in messages {
            try await apply(db, message, .heldWithAccount(problemCode: problemCode), now: now)
        }
        return messages.count
    }

    /// The account can send again: its held mail, and that of the accounts it stands in for, is queued.
    func releaseHeld(_ db: Session, account: String, now: Int64) async throws -> Int {
        let messages = try await states(db, status: .held, account: account)
        for message in messages {
            try await apply(db, message, .released(through: nil), now: now)
        }
        return messages.count + (try await releaseHeldOfDependents(db, fallback: account, now: now))
    }

    private func releaseHeldOfDependents(_ db: Session, fallback account: String, now: Int64) async throws -> Int {
        guard try await fetchAccount(db, name: account)?.state == .ok else { return 0 }
        let dependents = try await db.rows("""
            SELECT name FROM accounts WHERE fallback_account = \(account) AND state IN ('needs_reauth', 'blocked')
            """).map { try $0.get("name", as: String.self) }
        try await lockAgainstAccepts(db, accounts: dependents)
        var released = 0
        for dependent in dependents {
            let messages = try await states(db, status: .held, account: dependent)
            for message in messages {
                try await apply(db, message, .released(through: account), now: now)
            }
            released += messages.count
        }
        return released
    }
}
