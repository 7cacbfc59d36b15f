import Foundation
import Testing

@testable import Delivery

/// A relay of a fleet takes its share of each account's limits, so the fleet as a whole keeps them.
@Suite struct FleetShareTests {
    let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    /// How many sends `lanes` starts for one account at `now` when it is offered plenty.
    func granted(_ lanes: DeliveryLanes, at now: Date) async -> Int {
        await lanes.reserve(upTo: ["shop": 1000], total: 1000, now: now)["shop"] ?? 0
    }

    @Test func oneRelayHasTheWholeLimit() async {
        let lanes = DeliveryLanes(concurrency: 4, sendsPerMinute: 60)
        #expect(await granted(lanes, at: t0) == 4)
    }

    @Test func threeRelaysShareConcurrencyAndPacingRoundedUp() async {
        let lanes = DeliveryLanes(concurrency: 4, sendsPerMinute: 10)
        await lanes.setFleetSize(3)
        #expect(await lanes.concurrencyShare == 2)
        #expect(await lanes.sendsPerMinuteShare == 4)
        // Concurrency: 2 at once (3 relays x 2 = 6, near the 4 the account allows, never 12).
        #expect(await granted(lanes, at: t0) == 2)
        for _ in 0..<2 { await lanes.finish("shop") }
        // Pacing: 4 starts in the minute, then nothing until the window moves.
        #expect(await granted(lanes, at: t0.addingTimeInterval(1)) == 2)
        for _ in 0..<2 { await lanes.finish("shop") }
        #expect(await granted(lanes, at: t0.addingTimeInterval(2)) == 0)
        #expect(await granted(lanes, at: t0.addingTimeInterval(61)) == 2)
    }

    @Test func theShareFollowsTheFleetBothWays() async {
        let lanes = DeliveryLanes(concurrency: 8, sendsPerMinute: 100)
        await lanes.setFleetSize(4)
        #expect(await granted(lanes, at: t0) == 2)
        // A relay went: the others take more at once, also on lanes that already exist.
        await lanes.setFleetSize(1)
        #expect(await granted(lanes, at: t0.addingTimeInterval(1)) == 6)
        await lanes.setFleetSize(0)
        #expect(await lanes.fleetSize == 1, "never fewer than this relay")
    }
}
