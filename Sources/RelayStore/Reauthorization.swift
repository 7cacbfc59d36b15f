import Foundation
import StoreModel
import GRDB
import RelayVocabulary

extension RelayStore {
    /// `reauth` finished: the new grant (sealed) with its consent time, `address` as the first from
    /// address when the account has none, the account `ok`, and its held mail released, in one
    /// transaction, so an interrupted reauth leaves either the old grant or all of the new state.
    public func recordReauthorization(
        name: String, secret: Data, consentedAt: Date, address: String?
    ) async throws -> Reauthorization {
        let sealed = try secrets.seal(secret, account: name)
        let consented = Millis.from(consentedAt)
        let now = nowMillis
        let newAddress = address.map { $0.trimmingCharacters(in: .whitespaces) }
        if let newAddress, !Validation.isValidAddress(newAddress) { throw StoreError.invalidAddress(newAddress) }
        return try await pool.write { db in
            guard let row = try Row.fetchOne(db, cached: "SELECT id, from_addresses FROM accounts WHERE name = ?", arguments: [name]) else {
                throw StoreError.unknownAccount(name)
            }
            let id: Int64 = row["id"]
            try db.execute(cached: "UPDATE accounts SET secret = ?, consented_at = ?, secret_stored_at = ?, updated_at = ? WHERE id = ?",
                arguments: [sealed, consented, now, now, id])
            try insertEvent(db, at: now, kind: .accountSecret, detail: "secret stored (new consent)", accountID: id, account: name)
            var addressAdded = false
            if let newAddress, JSONList.decode(row["from_addresses"]).isEmpty {
                try db.execute(cached: "UPDATE accounts SET from_addresses = ? WHERE id = ?",
                               arguments: [JSONList.encode([newAddress]), id])
                addressAdded = true
            }
            _ = try applyAccountSuccess(db, name: name, at: now)
            let released = try applyReleaseHeld(db, account: name, now: now)
            return Reauthorization(released: released, addressAdded: addressAdded)
        }
    }
}
