import Foundation
import RelayVocabulary
@testable import StoreModel
import Testing
@testable import RelayStore

/// The send log and the worker's queue through the store API, on every store: queries and search,
/// attempts, claims, retries, purge, counts and the hourly statistics.
@Suite struct SendLogContractTests {
    /// Four messages (shop, shop, blog, blog), accepted in `statuses` (`.sending` as the synchronous
    /// path accepts them, so a test can end their attempt as it needs), one second apart.
    private func seeded(
        _ kind: StoreKind, _ statuses: [MessageStatus] = [.queued, .queued, .queued, .queued],
        _ body: (StoreUnderTest, TestClock, [Int64]) async throws -> Void
    ) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
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
                ids.append(try await store.accept(spoolMessage(store, account: account, from: from, to: to, subject: subject, status: status)))
            }
            try await body(store, clock, ids)
        }
    }

    /// An hour boundary: 2025-06-15T15:00:00Z.
    static let hourStart = Date(timeIntervalSince1970: 1_749_999_600)

    @Test(arguments: StoreKind.allCases)
    func filtersAndPaging(kind: StoreKind) async throws {
        try await seeded(kind, [.sending, .queued, .sending, .queued]) { store, _, ids in
            try await store.finish(ids[0], .sent(gmailID: "18c2f0a1b2c3d4e5"))
            try await store.finish(ids[2], .failed(problemCode: .messageRejected, detail: "invalid_argument"))

            var page = try await store.messages()
            #expect(page.map(\.id) == ids.reversed(), "newest first")
            page = try await store.messages(status: .sent)
            #expect(page.map(\.id) == [ids[0]])
            page = try await store.messages(status: .queued)
            #expect(page.map(\.id) == [ids[3], ids[1]])
            page = try await store.messages(account: "blog")
            #expect(page.map(\.id) == [ids[3], ids[2]])
            page = try await store.messages(status: .failed, account: "shop")
            #expect(page.map(\.id) == [])
            page = try await store.messages(query: "ORDER #100")
            #expect(page.map(\.id) == [ids[1], ids[0]], "subject, case-insensitive")
            page = try await store.messages(query: "carol@")
            #expect(page.map(\.id) == [ids[1]], "recipient")
            page = try await store.messages(query: "wordpress@blog")
            #expect(page.map(\.id) == [ids[3], ids[2]], "sender")
            page = try await store.messages(query: "18c2f0a1")
            #expect(page.map(\.id) == [ids[0]], "gmail id")
            page = try await store.messages(query: "100%")
            #expect(page.map(\.id) == [ids[2]], "% is literal")
            page = try await store.messages(query: "_")
            #expect(page.map(\.id) == [], "_ is literal")
            page = try await store.messages(query: "\(ids[3])")
            #expect(page.map(\.id).contains(ids[3]), "log id")
            page = try await store.messages(limit: 2)
            #expect(page.map(\.id) == [ids[3], ids[2]])
            page = try await store.messages(limit: 2, offset: 2)
            #expect(page.map(\.id) == [ids[1], ids[0]])
            page = try await store.messages(limit: 2, offset: 4)
            #expect(page.map(\.id) == [])
            page = try await store.messages(query: "'; DROP TABLE messages; --")
            #expect(page.map(\.id) == [])
            let still = try await store.messages().count
            #expect(still == 4)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func messageRecordJSONKeysAndValues(kind: StoreKind) async throws {
        try await seeded(kind, [.queued, .sending, .queued, .queued]) { store, _, ids in
            try await store.finish(ids[1], .sent(gmailID: "18c2"))
            let record = try #require(await store.message(id: ids[1]))
            let data = try JSONEncoder().encode(record)
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(Set(object.keys) == [
                "id", "status", "account", "mail_from", "recipients", "subject", "message_id", "size", "gmail_id",
                "problem", "attempts", "created_at", "updated_at", "sandbox", "peer", "tls", "sent_through",
            ])
            #expect(MessageRecord.jsonKeys == Set(object.keys))
            #expect(object["recipients"] as? [String] == ["bob@example.com", "carol@example.com"])
            #expect(object["status"] as? String == "sent")
            #expect(object["gmail_id"] as? String == "18c2")
            #expect(object["problem"] is NSNull, "null problem is present as null")
            #expect(object["created_at"] as? String == "2025-06-15T15:06:42Z")
            #expect(object["tls"] as? Bool == false)
            #expect(object["spool_path"] == nil, "internal paths stay out of the API")
            #expect(try JSONDecoder().decode(MessageRecord.self, from: data).id == record.id)

            // Timestamps survive a round trip through the database and JSON at second precision.
            let decoded = try JSONDecoder().decode(MessageRecord.self, from: data)
            #expect(decoded.createdAt == record.createdAt)
            #expect(decoded.recipients == record.recipients)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func attemptsAreRecordedInFull(kind: StoreKind) async throws {
        try await seeded(kind, [.sending, .queued, .queued, .queued]) { store, clock, ids in
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
            #expect(attempts.count == 2)
            #expect(attempts[0].httpStatus == 429)
            #expect(attempts[0].responseBody == body)
            #expect(attempts[0].problem == .rateLimited)
            #expect(attempts[0].nextDelaySeconds == 60.5)
            #expect(attempts[0].startedAt == started)
            #expect(attempts[0].finishedAt == started + 2)
            #expect(attempts[1].httpStatus == nil)
            let record = try #require(await store.message(id: ids[0]))
            #expect(record.attempts == 2)
            #expect(record.problem == .rateLimited)
            #expect(record.nextAttemptAt == clock.now + 60.5)

            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(attempts[0])) as? [String: Any]
            #expect(Set(json?.keys ?? [:].keys) == [
                "started_at", "finished_at", "http_status", "response_body", "problem", "endpoint", "next_delay_seconds",
            ])
            #expect(json?["response_body"] as? String == body)

            let huge = String(repeating: "x", count: RelayStore.maximumResponseBodyBytes + 10)
            clock.advance(61)
            _ = try await store.claimAll()
            try await store.finish(ids[0], .failed(problemCode: .backendError, detail: "502"), attempts: [NewAttempt(
                messageID: ids[0], startedAt: clock.now, finishedAt: clock.now, endpoint: "e", httpStatus: 502,
                responseBody: huge, problemCode: nil, nextDelaySeconds: nil)])
            let kept = try await store.attempts(messageID: ids[0]).last?.responseBody ?? ""
            #expect(kept.hasPrefix(String(repeating: "x", count: 1000)))
            #expect(kept.hasSuffix("[truncated: \(huge.utf8.count) bytes in all]"), "\(kept.suffix(60))")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func queueCounts(kind: StoreKind) async throws {
        try await seeded(kind, [.sending, .held, .sending, .queued]) { store, clock, ids in
            try await store.finish(ids[0], .sent(gmailID: "a"))
            try await store.finish(ids[2], .failed(problemCode: .messageRejected, detail: "invalid_argument"))
            var counts = try await store.queueCounts()
            #expect(counts == QueueCounts(queued: 1, sending: 0, held: 1, failed: 1, sent24h: 1))
            _ = try await store.claimAll()
            counts = try await store.queueCounts()
            #expect(counts == QueueCounts(queued: 0, sending: 1, held: 1, failed: 1, sent24h: 1))
            clock.advance(24 * 3600 + 1)
            counts = try await store.queueCounts()
            #expect(counts.sent24h == 0)
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(counts)) as? [String: Int]
            #expect(json == ["queued": 0, "sending": 1, "held": 1, "failed": 1, "sent_24h": 0])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func workerCycleClaimRetryLaterSend(kind: StoreKind) async throws {
        try await seeded(kind) { store, clock, ids in
            let due = try await store.nextDueDate()
            #expect(due != nil)
            let claimed = try await store.claimAll(limit: 3)
            #expect(claimed.map(\.id) == Array(ids.prefix(3)), "oldest due first")
            #expect(claimed.allSatisfy { $0.status == .sending })
            let again = try await store.claimAll()
            #expect(again.map(\.id) == [ids[3]], "claimed ones are not handed out twice")

            try await store.markStatus(id: ids[0], status: .queued, problemCode: .backendError, nextAttemptAt: clock.now + 30)
            var none = try await store.claimAll()
            #expect(none.count == 0, "not due yet")
            let nextDue = try await store.nextDueDate()
            #expect(nextDue == clock.now + 30)
            clock.advance(31)
            let retried = try await store.claimAll()
            #expect(retried.map(\.id) == [ids[0]])
            try await store.finish(ids[0], .sent(gmailID: "g1"))
            let record = try #require(await store.message(id: ids[0]))
            #expect(record.status == .sent)
            #expect(record.gmailID == "g1")
            #expect(record.problem == nil)
            #expect(record.nextAttemptAt == nil)
            let kinds = try await store.events(messageID: ids[0]).map(\.kind.rawValue)
            #expect(kinds == ["accepted", "queued", "sent"])
            none = try await store.claimAll()
            #expect(none.count == 0)
            let empty = try await store.nextDueDate()
            #expect(empty == nil)
            await #expect(throws: StoreError.unknownMessage(999)) {
                try await store.finishAttempt(AttemptReport(messageID: 999, account: "shop", outcome: .sent(gmailID: "x")))
            }
            await #expect(throws: StoreError.unknownMessage(999)) { try await store.markStatus(id: 999, status: .failed) }
            await #expect(throws: StoreError.unknownMessage(999)) {
                try await store.finishAttempt(AttemptReport(messageID: 999, account: "shop", attempts: [NewAttempt(
                    messageID: 999, startedAt: clock.now, finishedAt: clock.now, endpoint: "e", httpStatus: nil,
                    responseBody: nil, problemCode: nil, nextDelaySeconds: nil)], outcome: .failed(problemCode: .backendError, detail: "x")))
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func restartRequeuesInterruptedSends(kind: StoreKind) async throws {
        try await seeded(kind) { store, _, ids in
            _ = try await store.claimAll(limit: 2)
            let requeued = try await store.requeueInterrupted()
            #expect(requeued == 2)
            let statuses = try await store.messages().map(\.status)
            #expect(statuses == [.queued, .queued, .queued, .queued])
            let events = try await store.events(messageID: ids[0])
            #expect(events.last?.detail == "interrupted by a restart")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func heldReleaseRetryAndDiscard(kind: StoreKind) async throws {
        try await seeded(kind, [.held, .held, .held, .sending]) { store, _, ids in

            let released = try await store.updateAccount(AccountUpdate(name: "shop", afterwards: .readyToSend))
            #expect(released == 2)
            var record = try #require(await store.message(id: ids[0]))
            #expect(record.status == .queued)
            #expect(record.problem == nil)
            let events = try await store.events(messageID: ids[0]).map(\.kind.rawValue)
            #expect(events == ["accepted", "held", "released"])

            try await store.retry(id: ids[2])
            record = try #require(await store.message(id: ids[2]))
            #expect(record.status == .queued)

            try await store.finish(ids[3], .sent(gmailID: nil))
            await #expect(throws: StoreError.invalidTransition(id: ids[3], from: .sent, to: .queued)) { try await store.retry(id: ids[3]) }
            await #expect(throws: StoreError.invalidTransition(id: ids[3], from: .sent, to: .discarded)) { try await store.discard(id: ids[3]) }
            await #expect(throws: StoreError.unknownMessage(12345)) { try await store.retry(id: 12345) }

            try await store.discard(id: ids[2])
            await #expect(throws: StoreError.invalidTransition(id: ids[2], from: .discarded, to: .queued)) { try await store.retry(id: ids[2]) }
            let discardEvent = try await store.events(messageID: ids[2]).last
            #expect(discardEvent?.kind == .discarded)
            #expect(discardEvent?.detail == "discarded by operator")

            _ = try await store.claimAll(limit: 1)
            await #expect(throws: StoreError.invalidTransition(id: ids[0], from: .sending, to: .discarded)) { try await store.discard(id: ids[0]) }

            _ = try await store.claimAll()
            try await store.markStatus(id: ids[1], status: .failed, problemCode: .messageRejected)
            try await store.markStatus(id: ids[0], status: .held, problemCode: .grantRevoked)
            let all = try await store.retryAll()
            #expect(all == 2)
            let statuses = try await store.messages().map(\.status)
            #expect(statuses == [.sent, .discarded, .queued, .queued])
        }
    }

    /// Purge removes final messages last changed before the date with their bodies, attempts and events,
    /// and older account events; waiting and recent messages stay whole. (SQLite's spool files: RelayStoreTests.)
    @Test(arguments: StoreKind.allCases)
    func purgeRemovesOldFinishedMessagesWithTheirBodiesAndHistory(kind: StoreKind) async throws {
        try await seeded(kind, [.sending, .sending, .held, .sending]) { store, clock, ids in
            try await store.finish(ids[0], .sent(gmailID: "a"))
            try await store.finish(ids[1], .failed(problemCode: .backendError, detail: "x"), attempts: [NewAttempt(
                messageID: ids[1], startedAt: clock.now, finishedAt: clock.now, endpoint: "e", httpStatus: 400,
                responseBody: "{}", problemCode: .backendError, nextDelaySeconds: nil)])
            try await store.setAccountState(name: "blog", state: .blocked, problemCode: .permissionDenied)  // an old account event
            clock.advance(31 * 24 * 3600)
            try await store.finish(ids[3], .sent(gmailID: "recent"))
            try await store.setAccountState(name: "blog", state: .ok)  // a recent one

            let result = try await store.purge(before: clock.now - 30 * 24 * 3600)
            #expect(result.messagesRemoved == 2)
            let left = try await store.messages().map(\.id)
            #expect(left == [ids[3], ids[2]], "recent and held messages stay")
            for id in [ids[0], ids[1]] {
                #expect(try await store.message(id: id) == nil)
                #expect(try await store.attempts(messageID: id).isEmpty)
                #expect(try await store.events(messageID: id).isEmpty)
                #expect(try await store.inlineBody(messageID: id) == nil)
            }
            for id in [ids[2], ids[3]] {
                #expect(try await store.inlineBody(messageID: id) == Array("Subject: hi\r\n\r\nbody\r\n".utf8))
                #expect(try await store.events(messageID: id).first?.kind == .accepted)
            }
            #expect(try await store.events(account: "blog").map(\.kind) == [.accountState], "only the recent account event stays")
            #expect(try await store.purge(before: clock.now - 30 * 24 * 3600) == PurgeResult(messagesRemoved: 0, spoolFilesRemoved: 0))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func countsFallInTheHourOfTheirEvent(kind: StoreKind) async throws {
        let clock = TestClock(Self.hourStart.addingTimeInterval(-0.001))  // 14:59:59.999
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)

            // Accepted `.sending` and then finished, as the synchronous SMTP path does.
            let a = try await store.accept(spoolMessage(store, status: .sending))  // accepted at 14:59:59.999
            clock.advance(0.001)                                                    // 15:00:00.000
            try await store.finish(a, .sent(gmailID: "18c0"))                       // sent at 15:00
            _ = try await store.accept(spoolMessage(store, status: .held))      // accepted + held at 15:00
            clock.advance(3599.999)                                                 // 15:59:59.999
            let c = try await store.accept(spoolMessage(store, status: .sending))
            try await store.finish(c, .failed(problemCode: .messageRejected, detail: "rejected"))
            clock.advance(0.001)                                                    // 16:00:00.000
            let d = try await store.accept(spoolMessage(store))
            try await store.retry(id: d)                                            // not one of the four: not counted
            clock.advance(1800)                                                     // 16:30

            let three = try await store.hourlyCounts(hours: 3)
            #expect(three.map(\.hour) == [-3600.0, 0, 3600].map { Self.hourStart.addingTimeInterval($0) })
            #expect(three[0] == HourlyCounts(hour: Self.hourStart.addingTimeInterval(-3600), queued: 1))
            #expect(three[1] == HourlyCounts(hour: Self.hourStart, sent: 1, failed: 1, held: 1, queued: 2))
            #expect(three[2] == HourlyCounts(hour: Self.hourStart.addingTimeInterval(3600), queued: 1))

            let two = try await store.hourlyCounts(hours: 2)
            #expect(two.map(\.hour) == [Self.hourStart, Self.hourStart.addingTimeInterval(3600)], "the 14:00 hour is outside")
            #expect(two.map(\.queued) == [2, 1])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func everyHourIsPresentAndTheWindowIsBounded(kind: StoreKind) async throws {
        let clock = TestClock(Self.hourStart.addingTimeInterval(120))
        try await withStore(kind, clock: clock) { store in
            let empty = try await store.hourlyCounts(hours: 48)
            #expect(empty.count == 48)
            #expect(empty.last?.hour == Self.hourStart, "the current hour is last")
            #expect(empty.allSatisfy { $0.sent == 0 && $0.failed == 0 && $0.held == 0 && $0.queued == 0 })
            #expect(try await store.hourlyCounts(hours: 100_000).count == RelayStore.maximumStatsHours)
            #expect(try await store.hourlyCounts(hours: 0).count == 1)
        }
    }

    /// The figures of the status page and the gauges: the oldest waiting message per status, the
    /// waiting and failed messages per account (sending counts as queued), whether an account ever
    /// stopped with a problem.
    @Test(arguments: StoreKind.allCases)
    func oldestWaitingCountsPerAccountAndPastProblems(kind: StoreKind) async throws {
        try await seeded(kind, [.sending, .held, .queued, .queued]) { store, clock, ids in
            let accepted = try await store.messages().reduce(into: [Int64: Date]()) { $0[$1.id] = $1.createdAt }
            #expect(try await store.oldestWaiting() == [.sending: accepted[ids[0]]!, .held: accepted[ids[1]]!, .queued: accepted[ids[2]]!])
            #expect(try await store.messageCountsByAccount() == [
                "shop": AccountMessageCounts(queued: 1, held: 1), "blog": AccountMessageCounts(queued: 2),
            ])
            clock.advance(60)
            try await store.finish(ids[0], .failed(problemCode: .messageRejected, detail: "rejected"))
            _ = try await store.claimAll(limit: 1)
            #expect(try await store.oldestWaiting() == [.sending: accepted[ids[2]]!, .held: accepted[ids[1]]!, .queued: accepted[ids[3]]!])
            #expect(try await store.messageCountsByAccount() == [
                "shop": AccountMessageCounts(held: 1, failed: 1), "blog": AccountMessageCounts(queued: 2),
            ])
            try await store.discard(id: ids[1])
            try await store.discard(id: ids[0])
            #expect(try await store.messageCountsByAccount() == ["blog": AccountMessageCounts(queued: 2)], "an account with nothing waiting is absent")

            #expect(try await store.accountHadProblem("shop", .grantRevoked) == false)
            try await store.setAccountState(name: "shop", state: .needsReauth, problemCode: .grantRevoked)
            try await store.setAccountState(name: "shop", state: .ok)
            #expect(try await store.accountHadProblem("shop", .grantRevoked), "a past problem is remembered")
            #expect(try await store.accountHadProblem("shop", .testingModeExpiry) == false)
            #expect(try await store.accountHadProblem("blog", .grantRevoked) == false, "another account's problem is not this one's")
        }
    }

    /// What the operator and the worker write by hand reads back as written: markStatus's problem, next
    /// attempt and words; an attempt's classified detail; a discard's own words; an account state's
    /// problem in its event. A body of an unknown message is nil; a store with no stray files removes none.
    @Test(arguments: StoreKind.allCases)
    func detailsWrittenByHandReadBackAsWritten(kind: StoreKind) async throws {
        try await seeded(kind, [.sending, .sending, .queued, .queued]) { store, clock, ids in
            let next = clock.now + 90
            try await store.markStatus(id: ids[0], status: .queued, problemCode: .backendError, nextAttemptAt: next, detail: "store busy")
            var record = try #require(try await store.message(id: ids[0]))
            #expect(record.status == .queued)
            #expect(record.problem == .backendError)
            #expect(record.nextAttemptAt == next)
            #expect(try await store.events(messageID: ids[0]).last?.detail == "store busy, next attempt at \(ISO8601.string(next))")
            #expect(try await store.nextDueDate() == clock.now - 1, "ids[2] and ids[3] are due; the earlier first")

            let detail = ProblemDetail(reason: "rateLimitExceeded", retryAfter: Date(timeIntervalSince1970: 1_800_000_000),
                                       endpoint: .gmailSend, httpStatus: 429, bodyFormat: .googleError, rawBody: "{}")
            try await store.finish(ids[1], .queued(problemCode: .rateLimited, nextAttemptAt: next, detail: nil), attempts: [NewAttempt(
                messageID: ids[1], startedAt: clock.now, finishedAt: clock.now, endpoint: "https://example.invalid/send", httpStatus: 429,
                responseBody: "{}", problemCode: .rateLimited, problemDetail: detail, nextDelaySeconds: 90)])
            #expect(try await store.attempts(messageID: ids[1]).last?.detail == detail)
            #expect(try await store.events(messageID: ids[1]).last?.detail == "rate_limited, next attempt at \(ISO8601.string(next))")

            try await store.discard(id: ids[2], detail: "discarded by admin@example.org")
            #expect(try await store.events(messageID: ids[2]).last?.detail == "discarded by admin@example.org")
            record = try #require(try await store.message(id: ids[2]))
            #expect(record.status == .discarded)

            try await store.setAccountState(name: "blog", state: .blocked, problemCode: .permissionDenied,
                                            detail: ProblemDetail(googleMessage: "Delegation denied"))
            let event = try #require(try await store.events(account: "blog").first)
            #expect(event.kind == .accountState)
            #expect(event.problem == .permissionDenied)
            #expect(event.account == "blog")
            #expect(event.messageID == nil)
            #expect(try await store.events(account: "blog", limit: 1).count == 1)

            #expect(try await store.inlineBody(messageID: 999_999) == nil)
            #expect(try await store.api.removeOrphanSpoolFiles(minimumAge: 0) == 0)
        }
    }

    /// dueCounts counts only due queued messages, at most `limit` per account; a message due later is
    /// counted and claimed when its time comes.
    @Test(arguments: StoreKind.allCases)
    func dueCountsCountOnlyDueMessagesUpToTheLimit(kind: StoreKind) async throws {
        try await seeded(kind, [.queued, .queued, .held, .sending]) { store, clock, ids in
            _ = try await store.accept(spoolMessage(store, account: "shop"))
            #expect(try await store.dueCounts(limit: 10) == ["shop": 3])
            #expect(try await store.dueCounts(limit: 2) == ["shop": 2])
            #expect(try await store.dueCounts(limit: 0).values.allSatisfy { $0 == 0 })
            _ = try await store.claimAll(limit: 1)
            try await store.markStatus(id: ids[0], status: .queued, problemCode: .backendError, nextAttemptAt: clock.now + 30)
            #expect(try await store.dueCounts(limit: 10) == ["shop": 2], "not yet due")
            try await store.finish(ids[3], .queued(problemCode: .networkError, nextAttemptAt: clock.now + 10, detail: nil))
            #expect(try await store.dueCounts(limit: 10) == ["shop": 2])
            clock.advance(30)
            #expect(try await store.dueCounts(limit: 10) == ["shop": 3, "blog": 1])
            #expect(Set(try await store.claimAll().map(\.id)).isSuperset(of: [ids[0], ids[3]]))
        }
    }
}
