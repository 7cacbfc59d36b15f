import Foundation

/// Group commit for accepted messages: messages whose SMTP sessions finish while a commit is being
/// written go into the next transaction together, so N concurrent clients cost one fsync of the
/// spool directory and one of the database, not N of each (their bodies were synced one by one, in
/// parallel, by `SpoolFile.finish(syncingDirectory: false)`).
/// Nobody waits for a batch to fill: a lone message is committed at once. Each caller still returns
/// only after the transaction holding its own message is durable, so a 250 keeps meaning "on disk".
public actor GroupCommitter {
    private let store: RelayStore
    private let maximumBatch: Int
    private var pending: [(message: NewMessage, reply: CheckedContinuation<Int64, any Error>)] = []
    private var writing = false
    /// Transactions written and messages committed so far: the bench reports messages per transaction.
    public private(set) var transactions = 0
    public private(set) var messages = 0

    private let syncsSpoolDirectory: Bool
    private let onBatch: @Sendable (_ messages: Int) -> Void

    /// - Parameters:
    ///   - syncsSpoolDirectory: the messages' spool files were finished without syncing the spool
    ///     directory; each batch syncs it once before its transaction.
    ///   - onBatch: told the size of every committed batch (for metrics).
    public init(store: RelayStore, maximumBatch: Int = 256, syncsSpoolDirectory: Bool = false,
                onBatch: @escaping @Sendable (_ messages: Int) -> Void = { _ in }) {
        self.store = store
        self.maximumBatch = max(1, maximumBatch)
        self.syncsSpoolDirectory = syncsSpoolDirectory
        self.onBatch = onBatch
    }

    /// Commits one message (in whatever transaction is next) and returns its log id.
    public func accept(_ message: NewMessage) async throws -> Int64 {
        try await withCheckedThrowingContinuation { reply in
            pending.append((message, reply))
            if !writing {
                writing = true
                Task { await self.writeBatches() }
            }
        }
    }

    private func writeBatches() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maximumBatch))
            pending.removeFirst(batch.count)
            transactions += 1
            do {
                let results = try await store.acceptMessages(batch.map(\.message), syncingSpoolDirectory: syncsSpoolDirectory)
                for (result, entry) in zip(results, batch) {
                    entry.reply.resume(with: result.mapError { $0 as any Error })
                }
                messages += results.count
                onBatch(results.count)
            } catch {
                // Nothing of this batch was committed: each SMTP client hears 452 and keeps its message.
                for entry in batch { entry.reply.resume(throwing: error) }
            }
        }
        writing = false
    }
}
