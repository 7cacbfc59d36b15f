import Foundation
import GRDB
import Testing
@testable import RelayStore

/// /api/stats' query on SQLite: the plan uses the index. (The counts themselves are tested on both stores
/// in Tests/StoreContractTests/SendLogContractTests.)
@Suite struct HourlyStatsTests {
    /// An hour boundary: 2025-06-15T15:00:00Z.
    static let hourStart = Date(timeIntervalSince1970: 1_749_999_600)

    func makeStore(_ clock: TestClock) throws -> (RelayStore, String) {
        let directory = NSTemporaryDirectory() + "hourlystats-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return (try openStore(directory, clock: clock), directory)
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
}
