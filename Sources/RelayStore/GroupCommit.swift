import Foundation
import StoreModel
import GRDB

/// Group commit for accepted messages: messages whose SMTP sessions finish while a commit is being
/// written go into the next transaction together, so N concurrent clients cost one fsync of the
/// spool directory and one of the database, not N of each (their bodies were synced one by one, in
/// parallel, by `SpoolFile.finish(syncingDirectory: false)`). Each caller still returns only after
/// the transaction holding its own message is durable, so a 250 keeps meaning "on disk"; a message
/// for an unknown account fails alone. The batching itself is BatchedWriter's.
public final class GroupCommitter: Sendable {
    private let writer: BatchedWriter<NewMessage, MessageRecord>

    /// - Parameters:
    ///   - syncsSpoolDirectory: the messages' spool files were finished without syncing the spool
    ///     directory; each batch syncs it once before its transaction.
    ///   - onBatch: told how many messages every committed batch held (for metrics).
    public init(store: RelayStore, maximumBatch: Int = 256, syncsSpoolDirectory: Bool = false,
                onBatch: @escaping @Sendable (_ messages: Int) -> Void = { _ in }) {
        let spool = store.spool
        let clock = store.clock
        var syncDirectory: (@Sendable (Database, [NewMessage]) throws -> Void)?
        if syncsSpoolDirectory {
            // Only a batch with a spool file needs it: inline bodies are durable with the commit itself.
            syncDirectory = { _, batch in
                if batch.contains(where: { $0.spoolPath != nil }) { try spool.syncMessagesDirectory() }
            }
        }
        let apply: @Sendable (Database, NewMessage) throws -> MessageRecord = { db, message in
            try RelayStore.applyAccept(db, message, now: Millis.from(clock()))
        }
        writer = BatchedWriter(pool: store.pool, maximumBatch: maximumBatch, beforeBatch: syncDirectory,
                               afterCommit: onBatch, apply: apply)
    }

    /// Commits one message (in whatever transaction is next) and returns its row as stored (its log
    /// id included), so the caller need not read it back.
    public func accept(_ message: NewMessage) async throws -> MessageRecord {
        try await writer.submit(message)
    }

    /// Transactions written and messages committed so far: the bench reports messages per transaction.
    public var transactions: Int { get async { await writer.transactions } }
    public var messages: Int { get async { await writer.committed } }
}
