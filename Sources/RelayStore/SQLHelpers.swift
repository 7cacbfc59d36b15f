import Foundation
import StoreModel
import GRDB
import RelayVocabulary

/// A line in `events`.
func insertEvent(
    _ db: Database, at: Int64, kind: EventKind, detail: String,
    messageID: Int64? = nil, accountID: Int64? = nil, account: String? = nil, problem: ProblemCode? = nil
) throws {
    try db.execute(cached: """
            INSERT INTO events (message_id, account_id, account, at, kind, detail, problem_code) VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
        arguments: [messageID, accountID, account, at, kind.rawValue, detail, problem?.rawValue])
}
