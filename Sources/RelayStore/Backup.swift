import Foundation
import StoreModel
import GRDB
import RelayVocabulary

/// A message body a backup carries: the spool file a row of the copied database names.
public struct BackupBody: Sendable, Equatable {
    public var messageID: Int64
    public var status: MessageStatus
    /// Absolute path in the data directory the copy was taken from.
    public var spoolPath: String
}

extension RelayStore {
    /// Statuses whose bodies a backup carries: mail still to be sent, and failed mail that `queue retry` can
    /// send again. Sent and discarded bodies are left out (their rows, headers and attempts stay).
    public static let backedUpStatuses: [MessageStatus] = [.queued, .sending, .held, .failed]

    /// A consistent copy of the database at `path` through SQLite's online backup API: one read snapshot,
    /// taken while the server keeps writing. The copy is a single file (rollback journal, no -wal) made 0600.
    public func backupDatabase(to path: String) throws {
        try POSIX.createPrivateFile(path)
        let destination = try DatabaseQueue(path: path)
        try pool.backup(to: destination)
        try destination.writeWithoutTransaction { db in
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE")
        }
        try destination.close()
    }

    /// The bodies a database copy needs (see `backedUpStatuses`), oldest first.
    public static func bodiesToBackUp(databaseAt path: String) throws -> [BackupBody] {
        let queue = try DatabaseQueue(path: path, configuration: readOnly())
        defer { try? queue.close() }
        let statuses = backedUpStatuses.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT id, status, spool_path FROM messages WHERE spool_path IS NOT NULL AND status IN (\(statuses)) ORDER BY id")
                .compactMap { row in
                    guard let status = MessageStatus(rawValue: row["status"]) else { return nil }
                    return BackupBody(messageID: row["id"], status: status, spoolPath: row["spool_path"])
                }
        }
    }

    /// After a restore: spool paths are absolute, so point each row at its file in the new spool directory,
    /// and clear the path of rows whose body was not in the backup (the row stays; there is no body to send).
    /// Returns how many rows lost their body.
    @discardableResult
    public static func relocateSpool(databaseAt path: String, messagesDirectory: String, restoredFiles: Set<String>) throws -> Int {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.write { db in
            var cleared = 0
            for row in try Row.fetchAll(db, sql: "SELECT id, spool_path FROM messages WHERE spool_path IS NOT NULL") {
                let id: Int64 = row["id"]
                let name = ((row["spool_path"] as String) as NSString).lastPathComponent
                if restoredFiles.contains(name) {
                    try db.execute(sql: "UPDATE messages SET spool_path = ? WHERE id = ?", arguments: [messagesDirectory + "/" + name, id])
                } else {
                    try db.execute(sql: "UPDATE messages SET spool_path = NULL WHERE id = ?", arguments: [id])
                    cleared += 1
                }
            }
            return cleared
        }
    }

    /// Messages by status in a database file (what a backup holds).
    public static func messageCounts(databaseAt path: String) throws -> [MessageStatus: Int] {
        let queue = try DatabaseQueue(path: path, configuration: readOnly())
        defer { try? queue.close() }
        return try queue.read { db in
            var counts: [MessageStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM messages GROUP BY status") {
                if let status = MessageStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    private static func readOnly() -> Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        return configuration
    }
}
