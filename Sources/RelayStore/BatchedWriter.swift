import GRDB

/// Write requests that arrive while a transaction is being written share the next one: one commit
/// (one WAL fsync) for all of them instead of one each. Nobody waits for a batch to fill: a lone
/// request is written at once. Each request runs in its own savepoint, so one that fails is rolled
/// back and fails alone while the others commit; every caller returns only after the transaction
/// holding its own changes is durable. Used for accepted messages (GroupCommitter) and for the
/// results of delivery attempts (`finishAttempt`).
actor BatchedWriter<Request: Sendable, Answer: Sendable> {
    private let pool: DatabasePool
    private let maximumBatch: Int
    private let beforeBatch: (@Sendable (Database, [Request]) throws -> Void)?
    private let afterCommit: @Sendable (_ committed: Int) -> Void
    private let apply: @Sendable (Database, Request) throws -> Answer
    private var pending: [(request: Request, reply: CheckedContinuation<Answer, any Error>)] = []
    private var writing = false
    /// Transactions written and requests committed so far.
    private(set) var transactions = 0
    private(set) var committed = 0

    /// - Parameters:
    ///   - beforeBatch: runs first in each transaction; when it throws, the whole batch fails.
    ///   - afterCommit: told how many requests each committed transaction held.
    init(pool: DatabasePool, maximumBatch: Int = 128, beforeBatch: (@Sendable (Database, [Request]) throws -> Void)? = nil,
         afterCommit: @escaping @Sendable (_ committed: Int) -> Void = { _ in },
         apply: @escaping @Sendable (Database, Request) throws -> Answer) {
        self.pool = pool
        self.maximumBatch = max(1, maximumBatch)
        self.beforeBatch = beforeBatch
        self.afterCommit = afterCommit
        self.apply = apply
    }

    func submit(_ request: Request) async throws -> Answer {
        try await withCheckedThrowingContinuation { reply in
            pending.append((request, reply))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maximumBatch))
            pending.removeFirst(batch.count)
            let requests = batch.map(\.request)
            let (apply, beforeBatch) = (self.apply, self.beforeBatch)
            transactions += 1
            do {
                let answers: [Result<Answer, any Error>] = try await pool.write { db in
                    try beforeBatch?(db, requests)
                    return try requests.map { request in try Self.inSavepoint(db) { try apply(db, request) } }
                }
                let succeeded = answers.filter { if case .success = $0 { true } else { false } }.count
                committed += succeeded
                afterCommit(succeeded)
                for (answer, entry) in zip(answers, batch) { entry.reply.resume(with: answer) }
            } catch {
                // The transaction itself failed: nothing of this batch was committed.
                for entry in batch { entry.reply.resume(throwing: error) }
            }
        }
        writing = false
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
