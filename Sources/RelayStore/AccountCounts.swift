import Foundation
import StoreModel
import GRDB
import RelayVocabulary

extension RelayStore {
    /// Queued (including sending), held and failed messages per account name, in one query.
    /// Accounts without such messages are absent.
    public func messageCountsByAccount() async throws -> [String: AccountMessageCounts] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, cached: """
                    SELECT account, status, COUNT(*) AS n FROM messages
                    WHERE status IN ('queued', 'sending', 'held', 'failed') GROUP BY account, status
                    """)
            var counts: [String: AccountMessageCounts] = [:]
            for row in rows { counts[row["account"] as String, default: .init()].add(MessageStatus(rawValue: row["status"]), row["n"]) }
            return counts
        }
    }
}
