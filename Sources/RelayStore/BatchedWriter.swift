import Foundation
import GRDB

/// Write requests that arrive while a transaction is being written share the next one: one commit
/// (one WAL fsync) for all of them instead of one each. Nobody waits for a batch to fill: a lone
/// request is written at once. Each request runs in its own savepoint, so one that fails is rolled
/// back and fails alone while the others commit; every caller returns only after the transaction
/// holding its own changes is durable (or, for a writer made with `synced: false`, committed). Used for accepted messages (GroupCommitter) and for the
/// results of delivery attempts (`finishAttempt`).
///
/// Not an actor: a request is queued under a lock and the batch is written by a job on GRDB's writer
/// queue, which resumes each caller from there. Per request that is two thread hand-offs (the
/// caller's executor to the writer and back), where an actor plus a drain task plus `pool.write`
/// took five or six, and at one connection those hand-offs, not CPU, bounded the ingest rate.
final class BatchedWriter<Request: Sendable, Answer: Sendable>: @unchecked Sendable {
    private let pool: DatabasePool
    private let maximumBatch: Int
    /// False: commits are not synced by themselves (`RelayStore.withoutSync`), for changes a power cut may undo.
    private let synced: Bool
    private let beforeBatch: (@Sendable (Database, [Request]) throws -> Void)?
    private let afterCommit: @Sendable (_ committed: Int) -> Void
    private let apply: @Sendable (Database, Request) throws -> Answer
    /// Guards `pending`, `writing` and the counters.
    private let lock = NSLock()
    private var pending: [(request: Request, reply: CheckedContinuation<Answer, any Error>)] = []
    /// A writer job is queued or running: it takes what is pending, so no second one is queued.
    private var writing = false
    private var transactionCount = 0
    private var committedCount = 0

    /// - Parameters:
    ///   - synced: whether each commit is synced before its callers hear of it (every 250's is).
    ///   - beforeBatch: runs first in each transaction; when it throws, the whole batch fails.
    ///   - afterCommit: told how many requests each committed transaction held.
    init(pool: DatabasePool, maximumBatch: Int = 128, synced: Bool = true, beforeBatch: (@Sendable (Database, [Request]) throws -> Void)? = nil,
         afterCommit: @escaping @Sendable (_ committed: Int) -> Void = { _ in },
         apply: @escaping @Sendable (Database, Request) throws -> Answer) {
        self.pool = pool
        self.maximumBatch = max(1, maximumBatch)
        self.synced = synced
        self.beforeBatch = beforeBatch
        self.afterCommit = afterCommit
        self.apply = apply
    }

    /// Transactions written and requests committed so far.
    var transactions: Int { lock.withLock { transactionCount } }
    var committed: Int { lock.withLock { committedCount } }

    func submit(_ request: Request) async throws -> Answer {
        try await withCheckedThrowingContinuation { reply in
            let startWriter = lock.withLock {
                pending.append((request, reply))
                defer { writing = true }
                return !writing
            }
            if startWriter { pool.asyncWriteWithoutTransaction { db in self.writeBatch(db) } }
        }
    }

    /// On the writer queue: commits one batch of what is pending, answers its callers, and queues
    /// itself again while more is pending. (Behind whatever else waits for the writer, such as the
    /// delivery worker's claims: one batch per turn, not the queue drained in one go.)
    private func writeBatch(_ db: Database) {
        let batch = lock.withLock {
            let batch = Array(pending.prefix(maximumBatch))
            pending.removeFirst(batch.count)
            transactionCount += 1
            return batch
        }
        let requests = batch.map(\.request)
        var answers: [Result<Answer, any Error>] = []
        do {
            let write = {
                try db.inTransaction {
                    try self.beforeBatch?(db, requests)
                    answers = try requests.map { request in try Self.inSavepoint(db) { try self.apply(db, request) } }
                    return .commit
                }
            }
            if synced { try write() } else { try RelayStore.withoutSync(db, write) }
            let succeeded = answers.filter { if case .success = $0 { true } else { false } }.count
            lock.withLock { committedCount += succeeded }
            afterCommit(succeeded)
            for (answer, entry) in zip(answers, batch) { entry.reply.resume(with: answer) }
        } catch {
            // The transaction itself failed: nothing of this batch was committed.
            for entry in batch { entry.reply.resume(throwing: error) }
        }
        let more = lock.withLock {
            if pending.isEmpty { writing = false }
            return !pending.isEmpty
        }
        if more { pool.asyncWriteWithoutTransaction { db in self.writeBatch(db) } }
    }

    /// `body` in a savepoint of the batch's transaction: its answer, or its error with its changes
    /// rolled back. The savepoint statements come from the statement cache (GRDB's `inSavepoint`
    /// compiles them anew each time, which was measurable per message); an error of the savepoint
    /// statements themselves fails the whole batch.
    private static func inSavepoint(_ db: Database, _ body: () throws -> Answer) throws -> Result<Answer, any Error> {
        try db.execute(cached: "SAVEPOINT batched_request")
        do {
            let answer = try body()
            try db.execute(cached: "RELEASE SAVEPOINT batched_request")
            return .success(answer)
        } catch {
            try db.execute(cached: "ROLLBACK TO SAVEPOINT batched_request")
            try db.execute(cached: "RELEASE SAVEPOINT batched_request")
            return .failure(error)
        }
    }
}
