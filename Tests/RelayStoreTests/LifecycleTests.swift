import Foundation
import GRDB
import RelayVocabulary
import Testing
@testable import RelayStore

/// The message lifecycle's table of allowed moves, and SQLite's unsynced claims (the stores' paths are
/// tested on both stores in Tests/StoreContractTests/LifecycleContractTests).
@Suite struct LifecycleTests {
    /// The table in MessageLifecycle.swift and the README, written out once more by hand: a change to the
    /// code's table has to change this too.
    @Test func theAllowedMovesAreExactlyTheTable() {
        let expected: [MessageStatus: Set<MessageStatus>] = [
            .queued: [.sending, .held, .queued, .discarded, .failed],
            .sending: [.sent, .queued, .held, .failed],
            .held: [.queued, .discarded, .failed],
            .failed: [.queued, .discarded],
            .sent: [],
            .discarded: [],
        ]
        for from in MessageStatus.allCases {
            for to in MessageStatus.allCases {
                let allowed = MessageLifecycle.allows(from: from, to: to)
                #expect(allowed == expected[from]!.contains(to), "\(from.rawValue) -> \(to.rawValue)")
            }
        }
        #expect(MessageLifecycle.initialStatuses == [.queued, .sending, .held])
    }

    /// A claim commits without its own sync (a crash may undo it: the message is then `queued`, as
    /// restart makes of `sending`), but only that transaction: the writer is back at synchronous=FULL
    /// after it, also when it fails, so every accept (every 250) stays synced.
    @Test func aClaimIsUnsyncedAndTheWriterIsBackAtFullAfterIt() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir.path)
        try await store.addAccount(name: "main", kind: .sandbox)
        let id = try await store.accept(try spoolMessage(store))
        let during = try await store.writeUnsynced { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(during == 1, "NORMAL inside")
        #expect(try writeSync(store) { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)

        let claimed = try await store.claimDue(limit: 5, capacities: ["main": 5])
        #expect(claimed.map(\.id) == [id])
        #expect(try writeSync(store) { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try await store.message(id: id)?.status == .sending, "committed and visible to readers at once")

        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await store.writeUnsynced { db in
                try db.execute(sql: "UPDATE messages SET status = 'queued' WHERE id = ?", arguments: [id])
                throw Refused()
            }
        }
        #expect(try writeSync(store) { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try await store.message(id: id)?.status == .sending, "a failed unsynced write is rolled back")
    }

    /// Attempt results go through a batched writer made `synced: false`: its transactions run at NORMAL,
    /// a synced one (the intake's) at FULL, and the writer is at FULL again after either, so the next
    /// 250's commit syncs the WAL, attempt results included.
    @Test func attemptResultsAreUnsyncedAndAcceptsStaySynced() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir.path)
        let probe = { @Sendable (db: Database, _: Int) throws -> Int in try Int.fetchOne(db, sql: "PRAGMA synchronous")! }
        let unsynced = BatchedWriter<Int, Int>(pool: store.pool, synced: false, apply: probe)
        let synced = BatchedWriter<Int, Int>(pool: store.pool, apply: probe)
        #expect(try await unsynced.submit(1) == 1, "NORMAL inside an unsynced batch")
        #expect(try writeSync(store) { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try await synced.submit(1) == 2, "FULL inside a synced batch")

        try await store.addAccount(name: "main", kind: .sandbox)
        let id = try await store.accept(try spoolMessage(store))
        _ = try await store.claimDue(limit: 1, capacities: ["main": 1])
        var report = AttemptReport(messageID: id, account: "main", outcome: .sent(gmailID: "g-1"))
        report.accountChange = .succeeded(at: Date())
        _ = try await store.finishAttempt(report)
        #expect(try await store.message(id: id)?.status == .sent, "committed and visible at once")
        #expect(try writeSync(store) { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2, "FULL again after the attempt")
    }
}

/// A temporary directory for a Swift Testing test, removed when the value goes.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "relaystore-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
