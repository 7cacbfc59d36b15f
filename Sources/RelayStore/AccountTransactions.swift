import Foundation
import StoreModel
import GRDB
import RelayVocabulary

extension RelayStore {
    /// Applies an `AccountUpdate`; returns how many held messages were queued again.
    @discardableResult
    public func updateAccount(_ update: AccountUpdate) async throws -> Int {
        let name = update.name
        let prepared = try update.prepared(secrets)
        let (sealed, addresses, consented) = (prepared.sealedSecret, prepared.fromAddresses, prepared.consentedAt)
        let now = nowMillis
        return try await pool.write { db in
            guard let id = try Int64.fetchOne(db, cached: "SELECT id FROM accounts WHERE name = ?", arguments: [name]) else {
                throw StoreError.unknownAccount(name)
            }
            if let sealed {
                try db.execute(cached: "UPDATE accounts SET secret = ?, consented_at = COALESCE(?, consented_at), secret_stored_at = ?, updated_at = ? WHERE id = ?",
                               arguments: [sealed, consented, now, now, id])
                try insertEvent(db, at: now, kind: .accountSecret, detail: "secret stored (account update)", accountID: id, account: name)
            }
            if let addresses {
                try db.execute(cached: "UPDATE accounts SET from_addresses = ?, updated_at = ? WHERE id = ?",
                               arguments: [JSONList.encode(addresses), now, id])
            }
            switch update.afterwards {
            case .unchanged:
                return 0
            case .needsReauth(let problemCode):
                try applyAccountState(db, name: name, state: .needsReauth, problemCode: problemCode, detail: nil, now: now)
                return 0
            case .readyToSend:
                try applyAccountState(db, name: name, state: .ok, problemCode: nil, detail: nil, now: now)
                return try applyReleaseHeld(db, account: name, now: now)
            }
        }
    }
}

extension RelayStore {
    /// Records a grant check at `date`; returns how many queued messages were held.
    @discardableResult
    public func recordGrantCheck(name: String, at date: Date, _ check: GrantCheck) async throws -> Int {
        let at = Millis.from(date)
        let now = nowMillis
        return try await pool.write { db in
            try db.execute(cached: "UPDATE accounts SET checked_at = ? WHERE name = ?", arguments: [at, name])
            if db.changesCount == 0 { throw StoreError.unknownAccount(name) }
            switch check {
            case .inconclusive:
                return 0
            case .tokenIssued(let expiresAt, let scopes):
                try recordToken(db, name: name, expiresAt: expiresAt, scopes: scopes, now: now)
                return 0
            case .cannotSend(let state, let problemCode, let detail, let holdQueued):
                try applyAccountState(db, name: name, state: state, problemCode: problemCode, detail: detail, now: now)
                return holdQueued ? try applyHoldQueued(db, account: name, problemCode: problemCode, now: now) : 0
            }
        }
    }
}
