import GRDB

/// Write requests that arrive while a transaction is being written share the next one: one commit
/// (one WAL fsync) for all of them instead of one each. Nobody waits for a batch to fill: a lone
/// request is written at once. Each request runs in its own savepoint, so one that fails is rolled
/// back and fails alone while the others commit; every caller returns only after the transaction
/// holding its own changes is durable.
actor BatchedWriter<Request: Sendable, Answer: Sendable> {
    private let pool: DatabasePool
    private let maximumBatch: Int
    private let apply: @Sendable (Database, Request) throws -> Answer
    private var pending: [(request: Request, reply: CheckedContinuation<Answer, any Error>)] = []
    private var writing = false
    /// Transactions written so far (tests check that concurrent requests shared them).
    private(set) var transactions = 0

    init(pool: DatabasePool, maximumBatch: Int = 128, apply: @escaping @Sendable (Database, Request) throws -> Answer) {
        self.pool = pool
        self.maximumBatch = max(1, maximumBatch)
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
            let apply = self.apply
            transactions += 1
            do {
                let answers: [Result<Answer, any Error>] = try await pool.write { db in
                    requests.map { request in
                        Result {
                            var answer: Answer?
                            try db.inSavepoint {
                                answer = try apply(db, request)
                                return .commit
                            }
                            return answer!
                        }
                    }
                }
                for (answer, entry) in zip(answers, batch) { entry.reply.resume(with: answer) }
            } catch {
                // The transaction itself failed: nothing of this batch was committed.
                for entry in batch { entry.reply.resume(throwing: error) }
            }
        }
        writing = false
    }
}
