import Foundation
import GRDB
import Testing
@testable import RelayStore

/// /api/stats' counts, on a real SQLite file, with events a millisecond either side of an hour's edge.
@Suite struct HourlyStatsTests {
    /// An hour boundary: 2025-06-15T15:00:00Z.
    static let hourStart = Date(timeIntervalSince1970: 1_749_999_600)

    func makeStore(_ clock: TestClock) throws -> (RelayStore, String) {
        let directory = NSTemporaryDirectory() + "hourlystats-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (try openStore(directory, clock: clock), directory)
    }

    @Test func countsFallInTheHourOfTheirEvent() async throws {
        let clock = TestClock(Self.hourStart.addingTimeInterval(-0.001))  // 14:59:59.999
        let (store, directory) = try makeStore(clock)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)

        // Accepted `.sending` and then finished, as the synchronous SMTP path does.
        let a = try await store.accept(try spoolMessage(store, status: .sending))  // accepted at 14:59:59.999
        clock.advance(0.001)                                                    // 15:00:00.000
        try await store.finish(a, .sent(gmailID: "18c0"))                       // sent at 15:00
        _ = try await store.accept(try spoolMessage(store, status: .held))      // accepted + held at 15:00
        clock.advance(3599.999)                                                 // 15:59:59.999
        let c = try await store.accept(try spoolMessage(store, status: .sending))
        try await store.finish(c, .failed(problemCode: .messageRejected, detail: "rejected"))
        clock.advance(0.001)                                                    // 16:00:00.000
        let d = try await store.accept(try spoolMessage(store))
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

    @Test func everyHourIsPresentAndTheWindowIsBounded() async throws {
        let clock = TestClock(Self.hourStart.addingTimeInterval(120))
        let (store, directory) = try makeStore(clock)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let empty = try await store.hourlyCounts(hours: 48)
        #expect(empty.count == 48)
        #expect(empty.last?.hour == Self.hourStart, "the current hour is last")
        #expect(empty.allSatisfy { $0.sent == 0 && $0.failed == 0 && $0.held == 0 && $0.queued == 0 })
        #expect(try await store.hourlyCounts(hours: 100_000).count == RelayStore.maximumStatsHours)
        #expect(try await store.hourlyCounts(hours: 0).count == 1)
    }

    @Test func theQueryReadsOnlyTheKindAndTimeIndex() async throws {
        let clock = TestClock(Self.hourStart)
        let (store, directory) = try makeStore(clock)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plan = try readSync(store) { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + RelayStore.hourlyCountsQuery, arguments: [0, 1])
                .map { $0["detail"] as String }
        }
        let searches = plan.filter { $0.contains("SEARCH events") }
        #expect(searches.count == 4, "plan: \(plan)")
        #expect(searches.allSatisfy { $0.contains("COVERING INDEX events_kind_at (kind=? AND at>? AND at<?)") }, "plan: \(plan)")
        #expect(!plan.contains { $0.contains("SCAN events") || $0.contains("TEMP B-TREE") }, "plan: \(plan)")
    }

    @Test func secretStoredAtFollowsTheSecret() async throws {
        let clock = TestClock(Self.hourStart)
        let (store, directory) = try makeStore(clock)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await store.addAccount(name: "sa", kind: .serviceAccount, secret: Data("{}".utf8), state: .ok)
        #expect(try await store.account(named: "sa")?.secretStoredAt == Self.hourStart)
        clock.advance(86_400)
        _ = try await store.updateAccount(AccountUpdate(name: "sa", secret: Data("{\"new\":1}".utf8), afterwards: .readyToSend))
        #expect(try await store.account(named: "sa")?.secretStoredAt == Self.hourStart.addingTimeInterval(86_400))
        try await store.addAccount(name: "box", kind: .sandbox, state: .ok)
        #expect(try await store.account(named: "box")?.secretStoredAt == nil)
    }
}
