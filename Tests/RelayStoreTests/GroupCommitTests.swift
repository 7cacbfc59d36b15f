import Foundation
import XCTest
@testable import RelayStore

final class GroupCommitTests: XCTestCase {
    func testConcurrentMessagesShareTransactionsAndEachGetsItsOwnID() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
        let committer = GroupCommitter(store: store)
        var messages: [NewMessage] = []
        for _ in 0..<64 { messages.append(try spoolMessage(store)) }
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for message in messages { group.addTask { try await committer.accept(message).id } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(Set(ids).count, 64)
        let stored = try await store.messages(limit: 100)
        XCTAssertEqual(Set(stored.map(\.id)), Set(ids), "every message is in the database when its accept returns")
        let transactions = await committer.transactions
        XCTAssertLessThan(transactions, 32, "64 concurrent commits should share transactions")
        let committed = await committer.messages
        XCTAssertEqual(committed, 64)
    }

    func testAMessageForAnUnknownAccountFailsAlone() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
        let committer = GroupCommitter(store: store)
        let good = try spoolMessage(store)
        let bad = try spoolMessage(store, account: "gone")
        async let first = committer.accept(good)
        async let second = committer.accept(bad)
        let id = try await first.id
        do {
            _ = try await second
            XCTFail("an unknown account must fail")
        } catch let error as StoreError {
            XCTAssertEqual(error, .unknownAccount("gone"))
        }
        let message = try await store.message(id: id)
        XCTAssertNotNil(message)
    }

    func testOneDirectorySyncPerBatchAndEveryBatchReported() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
        let batches = Batches()
        let committer = GroupCommitter(store: store, syncsSpoolDirectory: true) { batches.add($0) }
        var messages: [NewMessage] = []
        for _ in 0..<40 { messages.append(try spoolMessage(store, syncingDirectory: false)) }
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for message in messages { group.addTask { try await committer.accept(message).id } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(Set(ids).count, 40)
        let transactions = await committer.transactions
        XCTAssertEqual(batches.sizes.count, transactions)
        XCTAssertEqual(batches.sizes.reduce(0, +), 40)
    }

    /// The directory sync comes before the transaction: when it fails, no row names a file whose
    /// directory entry may not survive a crash, and the client hears the failure.
    func testAFailedDirectorySyncCommitsNothing() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
        let message = try spoolMessage(store, syncingDirectory: false)
        try FileManager.default.moveItem(atPath: store.spool.messagesDirectory, toPath: store.spool.messagesDirectory + ".gone")
        let committer = GroupCommitter(store: store, syncsSpoolDirectory: true)
        do {
            _ = try await committer.accept(message)
            XCTFail("the batch must fail when the spool directory cannot be synced")
        } catch let error as SpoolError {
            XCTAssertEqual(error, .io(ENOENT))
        }
        let stored = try await store.messages(limit: 10)
        XCTAssertTrue(stored.isEmpty)
    }
}

final class Batches: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Int] = []
    func add(_ size: Int) { lock.withLock { recorded.append(size) } }
    var sizes: [Int] { lock.withLock { recorded } }
}

final class BatchedAttemptTests: XCTestCase {
    /// Attempts finishing together share transactions; one that cannot be applied (its message is
    /// gone) fails alone and the others are committed.
    func testConcurrentAttemptsShareTransactionsAndAFailureStaysAlone() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
        var ids: [Int64] = []
        for _ in 0..<48 { ids.append(try await store.accept(try spoolMessage(store, status: .sending))) }
        let results = await withTaskGroup(of: (Int64, Bool).self) { group in
            for id in ids + [999_999] {
                group.addTask {
                    let report = AttemptReport(messageID: id, account: "main", outcome: .sent(gmailID: "g-\(id)"))
                    return (id, (try? await store.finishAttempt(report)) != nil)
                }
            }
            return await group.reduce(into: [Int64: Bool]()) { $0[$1.0] = $1.1 }
        }
        XCTAssertEqual(results[999_999], false, "an unknown message fails")
        XCTAssertEqual(ids.filter { results[$0] == true }.count, 48, "the others commit")
        for id in ids {
            let message = try await store.message(id: id)
            XCTAssertEqual(message?.status, .sent)
            XCTAssertEqual(message?.gmailID, "g-\(id)")
        }
        let transactions = await store.attemptWriter.transactions
        XCTAssertLessThan(transactions, 40, "49 concurrent attempts should share transactions")
    }
}
