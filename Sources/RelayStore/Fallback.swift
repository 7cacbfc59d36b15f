import Foundation
import StoreModel
import GRDB
import RelayVocabulary

// Fallback accounts (`gmail-relay account update NAME --fallback OTHER`): while NAME needs
// reauthorization or is blocked, its new and held mail goes out through OTHER; when NAME can send
// again, through NAME again. One step only: OTHER's own fallback is never followed, so two accounts
// that name each other cannot loop. Off unless set.

extension RelayStore {
    /// Sets (or with nil clears) the account's fallback. Returns how many held messages went back to the
    /// queue because the fallback can send them now.
    @discardableResult
    public func setFallback(account name: String, to fallback: String?) async throws -> Int {
        let now = nowMillis
        return try await pool.write { db in
            guard let id = try Int64.fetchOne(db, cached: "SELECT id FROM accounts WHERE name = ?", arguments: [name]) else {
                throw StoreError.unknownAccount(name)
            }
            if let fallback {
                guard fallback != name else { throw StoreError.invalidFallback(name) }
                guard try fetchAccount(db, name: fallback) != nil else { throw StoreError.unknownAccount(fallback) }
            }
            try db.execute(cached: "UPDATE accounts SET fallback_account = ?, updated_at = ? WHERE id = ?",
                           arguments: [fallback, now, id])
            try insertEvent(db, at: now, kind: .accountFallback,
                            detail: EventWords.fallbackSet(fallback), accountID: id, account: name)
            return try fetchUsableFallback(db, account: name) != nil ? applyReleaseHeld(db, account: name, now: now) : 0
        }
    }

    /// The account that sends `name`'s mail now instead of it: its fallback, while `name` needs
    /// reauthorization or is blocked and the fallback's state is ok; nil otherwise.
    public func usableFallback(for name: String) async throws -> Account? {
        try await pool.read { db in try fetchUsableFallback(db, account: name) }
    }
}

func fetchUsableFallback(_ db: Database, account name: String) throws -> Account? {
    guard let row = try Row.fetchOne(db, cached: "SELECT state, fallback_account FROM accounts WHERE name = ?", arguments: [name]),
          let fallbackName = row["fallback_account"] as String?,
          AccountState(rawValue: row["state"])?.isCoveredByFallback == true,
          let fallback = try fetchAccount(db, name: fallbackName), fallback.state == .ok
    else { return nil }
    return fallback
}

/// `account` can send again: the held mail of the accounts it stands in for goes back to the queue
/// too (it goes out through `account`). Called where an account's own held mail is released.
func applyReleaseHeldOfDependents(_ db: Database, fallback account: String, now: Int64) throws -> Int {
    guard try fetchAccount(db, name: account)?.state == .ok else { return 0 }
    let dependents = try String.fetchAll(db, cached: """
            SELECT name FROM accounts WHERE fallback_account = ? AND state IN ('needs_reauth', 'blocked')
            """, arguments: [account])
    var released = 0
    for dependent in dependents {
        let messages = try MessageLifecycle.states(db, status: .held, account: dependent)
        for message in messages {
            try MessageLifecycle.apply(db, message, .released(through: account), now: now)
        }
        released += messages.count
    }
    return released
}
