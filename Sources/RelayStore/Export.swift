import Foundation
import GRDB

/// Reading the whole store out, for `gmail-relay store copy` (into PostgreSQL): rows page by page in id
/// order, every column as stored, and each message's body where it is (inline or a spool file), so no
/// table and no large body is ever held in memory whole.
extension RelayStore {
    /// Where a message's body is.
    public enum ExportedBody: Sendable, Equatable {
        /// Stored in `message_bodies` (up to 64 KiB).
        case inline(Data)
        /// A spool file (absolute path), to be read in pieces.
        case file(String)
    }

    /// Up to `limit` rows of `table` with an id greater than `afterID`, in id order, every column (by
    /// the table's own names) with its stored value.
    public func exportRows(table: StoreTable, afterID: Int64, limit: Int) throws -> [StoreRow] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM \(table.rawValue) WHERE id > ? ORDER BY id LIMIT ?",
                arguments: [afterID, max(1, limit)]
            ).map(Self.storeRow)
        }
    }

    /// The body of a message: inline, its spool file, or nil when it has none (sent mail after retention,
    /// or a message whose file is gone).
    public func exportBody(messageID: Int64) throws -> ExportedBody? {
        try pool.read { db in
            if let body = try Data.fetchOne(db, sql: "SELECT body FROM message_bodies WHERE message_id = ?", arguments: [messageID]) {
                return .inline(body)
            }
            return try String.fetchOne(db, sql: "SELECT spool_path FROM messages WHERE id = ?", arguments: [messageID])
                .map(ExportedBody.file)
        }
    }

    /// Rows per table, and messages per status (for comparing a copy with its source).
    public func exportCounts() throws -> [String: Int] {
        try pool.read { db in
            var counts: [String: Int] = [:]
            for table in StoreTable.allCases {
                counts[table.rawValue] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table.rawValue)") ?? 0
            }
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM messages GROUP BY status") {
                counts["messages." + (row["status"] as String)] = row["n"]
            }
            return counts
        }
    }

    private static func storeRow(_ row: Row) -> StoreRow {
        var columns: [String] = []
        var values: [StoreValue] = []
        columns.reserveCapacity(row.count)
        values.reserveCapacity(row.count)
        for (column, value) in row {
            columns.append(column)
            switch value.storage {
            case .null: values.append(.null)
            case .int64(let number): values.append(.integer(number))
            case .double(let number): values.append(.real(number))
            case .string(let text): values.append(.text(text))
            case .blob(let data): values.append(.blob(data))
            }
        }
        return StoreRow(columns: columns, values: values)
    }
}
