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

    func testFiltersAndPaging() async throws {
        let (store, _, ids) = try await seeded([.sending, .queued, .sending, .queued])
        try await store.finish(ids[0], .sent(gmailID: "18c2f0a1b2c3d4e5"))
        try await store.finish(ids[2], .failed(problemCode: .messageRejected, detail: "invalid_argument"))

        var page = try await store.messages()
        XCTAssertEqual(page.map(\.id), ids.reversed(), "newest first")
        page = try await store.messages(status: .sent)
        XCTAssertEqual(page.map(\.id), [ids[0]])
        page = try await store.messages(status: .queued)
        XCTAssertEqual(page.map(\.id), [ids[3], ids[1]])
        page = try await store.messages(account: "blog")
        XCTAssertEqual(page.map(\.id), [ids[3], ids[2]])
        page = try await store.messages(status: .failed, account: "shop")
        XCTAssertEqual(page.map(\.id), [])
        page = try await store.messages(query: "ORDER #100")
        XCTAssertEqual(page.map(\.id), [ids[1], ids[0]], "subject, case-insensitive")
        page = try await store.messages(query: "carol@")
        XCTAssertEqual(page.map(\.id), [ids[1]], "recipient")
        page = try await store.messages(query: "wordpress@blog")
        XCTAssertEqual(page.map(\.id), [ids[3], ids[2]], "sender")
        page = try await store.messages(query: "18c2f0a1")
        XCTAssertEqual(page.map(\.id), [ids[0]], "gmail id")
        page = try await store.messages(query: "100%")
        XCTAssertEqual(page.map(\.id), [ids[2]], "% is literal")
        page = try await store.messages(query: "_")
        XCTAssertEqual(page.map(\.id), [], "_ is literal")
        page = try await store.messages(query: "\(ids[3])")
        XCTAssertTrue(page.map(\.id).contains(ids[3]), "log id")
        page = try await store.messages(limit: 2)
        XCTAssertEqual(page.map(\.id), [ids[3], ids[2]])
        page = try await store.messages(limit: 2, offset: 2)
        XCTAssertEqual(page.map(\.id), [ids[1], ids[0]])
        page = try await store.messages(limit: 2, offset: 4)
        XCTAssertEqual(page.map(\.id), [])
        page = try await store.messages(query: "'; DROP TABLE messages; --")
        XCTAssertEqual(page.map(\.id), [])
        let still = try await store.messages().count
        XCTAssertEqual(still, 4)
    }

    func testMessageRecordJSONKeysAndValues() async throws {
        let (store, _, ids) = try await seeded([.queued, .sending, .queued, .queued])
        try await store.finish(ids[1], .sent(gmailID: "18c2"))
        let record = try await XCTUnwrapAsync(await store.message(id: ids[1]))
        let data = try JSONEncoder().encode(record)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(object.keys), [
            "id", "status", "account", "mail_from", "recipients", "subject", "message_id", "size", "gmail_id",
            "problem", "attempts", "created_at", "updated_at", "sandbox", "peer", "tls", "sent_through",
        ])
        XCTAssertEqual(MessageRecord.jsonKeys, Set(object.keys))
        XCTAssertEqual(object["recipients"] as? [String], ["bob@example.com", "carol@example.com"])
        XCTAssertEqual(object["status"] as? String, "sent")
        XCTAssertEqual(object["gmail_id"] as? String, "18c2")
        XCTAssertTrue(object["problem"] is NSNull, "null problem is present as null")
        XCTAssertEqual(object["created_at"] as? String, "2025-06-15T15:06:42Z")
        XCTAssertEqual(object["tls"] as? Bool, false)
        XCTAssertNil(object["spool_path"], "internal paths stay out of the API")
        XCTAssertEqual(try JSONDecoder().decode(MessageRecord.self, from: data).id, record.id)

        // Timestamps survive a round trip through the database and JSON at second precision.
        let decoded = try JSONDecoder().decode(MessageRecord.self, from: data)
        XCTAssertEqual(decoded.createdAt, record.createdAt)
        XCTAssertEqual(decoded.recipients, record.recipients)
    }

    func testAttemptsAreRecordedInFull() async throws {
        let (store, clock, ids) = try await seeded([.sending, .queued, .queued, .queued])
        let body = #"{"error":{"code":429,"message":"User-rate limit exceeded.  Retry after 2025-06-15T16:00:00.000Z","status":"RESOURCE_EXHAUSTED"}}"#
        let started = clock.now
        clock.advance(2)
        try await store.finish(ids[0], .queued(problemCode: .rateLimited, nextAttemptAt: clock.now + 60.5, detail: nil), attempts: [NewAttempt(
            messageID: ids[0], startedAt: started, finishedAt: clock.now,
            endpoint: "https://gmail.googleapis.com/upload/gmail/v1/users/me/messages/send?uploadType=media",
            httpStatus: 429, responseBody: body, problemCode: .rateLimited, nextDelaySeconds: 60.5)])
        clock.advance(61)
        _ = try await store.claimAll()
        try await store.finish(ids[0], .queued(problemCode: .rateLimited, nextAttemptAt: clock.now + 60.5, detail: nil), attempts: [NewAttempt(
            messageID: ids[0], startedAt: clock.now, finishedAt: clock.now, endpoint: "https://gmail.googleapis.com/x",
            httpStatus: nil, responseBody: nil, problemCode: .networkError, nextDelaySeconds: nil)])

        let attempts = try await store.attempts(messageID: ids[0])
        XCTAssertEqual(attempts.count, 2)
        XCTAssertEqual(attempts[0].httpStatus, 429)
        XCTAssertEqual(attempts[0].responseBody, body)
        XCTAssertEqual(attempts[0].problem, .rateLimited)
        XCTAssertEqual(attempts[0].nextDelaySeconds, 60.5)
        XCTAssertEqual(attempts[0].startedAt, started)
        XCTAssertEqual(attempts[0].finishedAt, started + 2)
        XCTAssertNil(attempts[1].httpStatus)
        let record = try await XCTUnwrapAsync(await store.message(id: ids[0]))
        XCTAssertEqual(record.attempts, 2)
        XCTAssertEqual(record.problem, .rateLimited)
        XCTAssertEqual(record.nextAttemptAt, clock.now + 60.5)

        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(attempts[0])) as? [String: Any]
        XCTAssertEqual(Set(json?.keys ?? [:].keys), [
            "started_at", "finished_at", "http_status", "response_body", "problem", "endpoint", "next_delay_seconds",
        ])
        XCTAssertEqual(json?["response_body"] as? String, body)

        let huge = String(repeating: "x", count: RelayStore.maximumResponseBodyBytes + 10)
        clock.advance(61)
        _ = try await store.claimAll()
        try await store.finish(ids[0], .failed(problemCode: .backendError, detail: "502"), attempts: [NewAttempt(
            messageID: ids[0], startedAt: clock.now, finishedAt: clock.now, endpoint: "e", httpStatus: 502,
            responseBody: huge, problemCode: nil, nextDelaySeconds: nil)])
        let kept = try await store.attempts(messageID: ids[0]).last?.responseBody ?? ""
        XCTAssertTrue(kept.hasPrefix(String(repeating: "x", count: 1000)))
        XCTAssertTrue(kept.hasSuffix("[truncated: \(huge.utf8.count) bytes in all]"), String(kept.suffix(60)))
    }

    func testQueueCounts() async throws {
        let (store, clock, ids) = try await seeded([.sending, .held, .sending, .queued])
        try await store.finish(ids[0], .sent(gmailID: "a"))
        try await store.finish(ids[2], .failed(problemCode: .messageRejected, detail: "invalid_argument"))
        var counts = try await store.queueCounts()
        XCTAssertEqual(counts, QueueCounts(queued: 1, sending: 0, held: 1, failed: 1, sent24h: 1))
        _ = try await store.claimAll()
        counts = try await store.queueCounts()
        XCTAssertEqual(counts, QueueCounts(queued: 0, sending: 1, held: 1, failed: 1, sent24h: 1))
        clock.advance(24 * 3600 + 1)
        counts = try await store.queueCounts()
        XCTAssertEqual(counts.sent24h, 0)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(counts)) as? [String: Int]
        XCTAssertEqual(json, ["queued": 0, "sending": 1, "held": 1, "failed": 1, "sent_24h": 0])
    }

    func testWorkerCycleClaimRetryLaterSend() async throws {
        let (store, clock, ids) = try await seeded()
        let due = try await store.nextDueDate()
        XCTAssertNotNil(due)
        let claimed = try await store.claimAll(limit: 3)
        XCTAssertEqual(claimed.map(\.id), Array(ids.prefix(3)), "oldest due first")
        XCTAssertTrue(claimed.allSatisfy { $0.status == .sending })
        let again = try await store.claimAll()
        XCTAssertEqual(again.map(\.id), [ids[3]], "claimed ones are not handed out twice")

        try await store.markStatus(id: ids[0], status: .queued, problemCode: .backendError, nextAttemptAt: clock.now + 30)
        var none = try await store.claimAll()
        XCTAssertEqual(none.count, 0, "not due yet")
        let nextDue = try await store.nextDueDate()
        XCTAssertEqual(nextDue, clock.now + 30)
        clock.advance(31)
        let retried = try await store.claimAll()
        XCTAssertEqual(retried.map(\.id), [ids[0]])
        try await store.finish(ids[0], .sent(gmailID: "g1"))
        let record = try await XCTUnwrapAsync(await store.message(id: ids[0]))
        XCTAssertEqual(record.status, .sent)
        XCTAssertEqual(record.gmailID, "g1")
        XCTAssertNil(record.problem)
        XCTAssertNil(record.nextAttemptAt)
        let kinds = try await store.events(messageID: ids[0]).map(\.kind.rawValue)
        XCTAssertEqual(kinds, ["accepted", "queued", "sent"])
        none = try await store.claimAll()
        XCTAssertEqual(none.count, 0)
        let empty = try await store.nextDueDate()
        XCTAssertNil(empty)
        await assertThrows(.unknownMessage(999)) {
            try await store.finishAttempt(AttemptReport(messageID: 999, account: "shop", outcome: .sent(gmailID: "x")))
        }
        await assertThrows(.unknownMessage(999)) { try await store.markStatus(id: 999, status: .failed) }
        await assertThrows(.unknownMessage(999)) {
            try await store.finishAttempt(AttemptReport(messageID: 999, account: "shop", attempts: [NewAttempt(
                messageID: 999, startedAt: clock.now, finishedAt: clock.now, endpoint: "e", httpStatus: nil,
                responseBody: nil, problemCode: nil, nextDelaySeconds: nil)], outcome: .failed(problemCode: .backendError, detail: "x")))
        }
    }

    func testRestartRequeuesInterruptedSends() async throws {
        let (store, _, ids) = try await seeded()
        _ = try await store.claimAll(limit: 2)
        let requeued = try await store.requeueInterrupted()
        XCTAssertEqual(requeued, 2)
        let statuses = try await store.messages().map(\.status)
        XCTAssertEqual(statuses, [.queued, .queued, .queued, .queued])
        let events = try await store.events(messageID: ids[0])
        XCTAssertEqual(events.last?.detail, "interrupted by a restart")
    }

    func testHeldReleaseRetryAndDiscard() async throws {
        let (store, _, ids) = try await seeded([.held, .held, .held, .sending])

        let released = try await store.updateAccount(AccountUpdate(name: "shop", afterwards: .readyToSend))
        XCTAssertEqual(released, 2)
        var record = try await XCTUnwrapAsync(await store.message(id: ids[0]))
        XCTAssertEqual(record.status, .queued)
        XCTAssertNil(record.problem)
        let events = try await store.events(messageID: ids[0]).map(\.kind.rawValue)
        XCTAssertEqual(events, ["accepted", "held", "released"])

        try await store.retry(id: ids[2])
        record = try await XCTUnwrapAsync(await store.message(id: ids[2]))
        XCTAssertEqual(record.status, .queued)

        try await store.finish(ids[3], .sent(gmailID: nil))
        await assertThrows(.invalidTransition(id: ids[3], from: .sent, to: .queued)) { try await store.retry(id: ids[3]) }
        await assertThrows(.invalidTransition(id: ids[3], from: .sent, to: .discarded)) { try await store.discard(id: ids[3]) }
        await assertThrows(.unknownMessage(12345)) { try await store.retry(id: 12345) }

        try await store.discard(id: ids[2])
        await assertThrows(.invalidTransition(id: ids[2], from: .discarded, to: .queued)) { try await store.retry(id: ids[2]) }
        let discardEvent = try await store.events(messageID: ids[2]).last
        XCTAssertEqual(discardEvent?.kind, .discarded)
        XCTAssertEqual(discardEvent?.detail, "discarded by operator")

        _ = try await store.claimAll(limit: 1)
        await assertThrows(.invalidTransition(id: ids[0], from: .sending, to: .discarded)) { try await store.discard(id: ids[0]) }

        _ = try await store.claimAll()
        try await store.markStatus(id: ids[1], status: .failed, problemCode: .messageRejected)
        try await store.markStatus(id: ids[0], status: .held, problemCode: .grantRevoked)
        let all = try await store.retryAll()
        XCTAssertEqual(all, 2)
        let statuses = try await store.messages().map(\.status)
        XCTAssertEqual(statuses, [.sent, .discarded, .queued, .queued])
    }

    func testRetryNeedsTheBody() async throws {
        let (store, _, ids) = try await seeded([.sending, .queued, .queued, .queued])
        try await store.finish(ids[0], .failed(problemCode: .backendError, detail: "x"))
        try writeSync(store) { try $0.execute(sql: "UPDATE messages SET spool_path = NULL WHERE id = ?", arguments: [ids[0]]) }
        await assertThrows(.spoolFileMissing(id: ids[0])) { try await store.retry(id: ids[0]) }
        let count = try await store.retryAll()
        XCTAssertEqual(count, 0)
    }

    func testPurgeRemovesOldFinishedMessagesAndTheirFiles() async throws {
        let (store, clock, ids) = try await seeded([.sending, .sending, .held, .sending])
        try await store.finish(ids[0], .sent(gmailID: "a"))
        try await store.finish(ids[1], .failed(problemCode: .backendError, detail: "x"), attempts: [NewAttempt(
            messageID: ids[1], startedAt: clock.now, finishedAt: clock.now, endpoint: "e", httpStatus: 400,
            responseBody: "{}", problemCode: .backendError, nextDelaySeconds: nil)])
        let paths = try await store.messages().compactMap(\.spoolPath)
        clock.advance(31 * 24 * 3600)
        try await store.finish(ids[3], .sent(gmailID: "recent"))

        let result = try await store.purge(before: clock.now - 30 * 24 * 3600)
        XCTAssertEqual(result, PurgeResult(messagesRemoved: 2, spoolFilesRemoved: 2))
        let left = try await store.messages().map(\.id)
        XCTAssertEqual(left, [ids[3], ids[2]], "recent and held messages stay")
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
