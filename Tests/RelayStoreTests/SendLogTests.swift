import Foundation
import GRDB
import RelayVocabulary
import XCTest
@testable import RelayStore

final class SendLogTests: XCTestCase {
    /// Four messages (shop, shop, blog, blog), accepted in `statuses` (`.sending` as the synchronous
    /// path accepts them, so a test can end their attempt as it needs).
    private func seeded(_ statuses: [MessageStatus] = [.queued, .queued, .queued, .queued]) async throws -> (RelayStore, TestClock, [Int64]) {
        let clock = TestClock()
        let store = try openStore(makeTemporaryDirectory(self), clock: clock)
        try await store.addAccount(name: "shop", kind: .oauthUser, state: .ok)
        try await store.addAccount(name: "blog", kind: .sandbox, state: .ok)
        var ids: [Int64] = []
        let specs: [(String, String, [String], String?)] = [
            ("shop", "orders@shop.example", ["alice@example.com"], "Your order #1001"),
            ("shop", "orders@shop.example", ["bob@example.com", "carol@example.com"], "Your order #1002"),
            ("blog", "wordpress@blog.example", ["admin@blog.example"], "New comment: 100% agree"),
            ("blog", "wordpress@blog.example", ["admin@blog.example"], nil),
        ]
        for ((account, from, to, subject), status) in zip(specs, statuses) {
            clock.advance(1)
            ids.append(try await store.accept(try spoolMessage(store, account: account, from: from, to: to, subject: subject, status: status)))
        }
        return (store, clock, ids)
    }

    func testRetryNeedsTheBody() async throws {
        let (store, _, ids) = try await seeded([.sending, .queued, .queued, .queued])
        try await store.finish(ids[0], .failed(problemCode: .backendError, detail: "x"))
        try writeSync(store) { try $0.execute(sql: "UPDATE messages SET spool_path = NULL WHERE id = ?", arguments: [ids[0]]) }
        await assertThrows(.spoolFileMissing(id: ids[0])) { try await store.retry(id: ids[0]) }
        let count = try await store.retryAll()
        XCTAssertEqual(count, 0)
    }

    /// Purge on SQLite: the spool files of what it removes go with the rows, and no attempt or event row
    /// of a purged message is left behind. (What purge removes is tested on both stores in
    /// Tests/StoreContractTests/SendLogContractTests.)
    func testPurgeRemovesTheSpoolFilesAndRowsOfWhatItRemoves() async throws {
        let (store, clock, ids) = try await seeded([.sending, .sending, .held, .sending])
        try await store.finish(ids[0], .sent(gmailID: "a"))
        try await store.finish(ids[1], .failed(problemCode: .backendError, detail: "x"), attempts: [NewAttempt(
            messageID: ids[1], startedAt: clock.now, finishedAt: clock.now, endpoint: "e", httpStatus: 400,
            responseBody: "{}", problemCode: .backendError, nextDelaySeconds: nil)])
        let paths = try await store.messages().compactMap(\.spoolPath)
        XCTAssertEqual(paths.count, 4)
        clock.advance(31 * 24 * 3600)
        try await store.finish(ids[3], .sent(gmailID: "recent"))

        let result = try await store.purge(before: clock.now - 30 * 24 * 3600)
        XCTAssertEqual(result, PurgeResult(messagesRemoved: 2, spoolFilesRemoved: 2))
        let orphanAttempts = try readSync(store) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM attempts") }
        XCTAssertEqual(orphanAttempts, 0)
        let orphanEvents = try readSync(store) {
            try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events WHERE message_id IN (?, ?)", arguments: [ids[0], ids[1]])
        }
        XCTAssertEqual(orphanEvents, 0)
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        XCTAssertEqual(existing.count, 2)
    }
}
