import Foundation

/// Per-account limits of the delivery path: sends in flight (Gmail caps concurrent requests per user)
/// and sends started per minute, plus the pause of an account that hit its daily limit. Shared by the
/// worker and the synchronous DATA path. Time comes in as `now`, so tests drive it.
public actor DeliveryLanes {
    struct Lane {
        var inFlight = 0
        var pacer: SendPacer
    }

    public let concurrency: Int
    public let sendsPerMinute: Int
    /// The relays sharing a PostgreSQL store that are up (1 on SQLite). Each takes its share of the
    /// per-account limits, rounded up, so the fleet as a whole stays near them (at most one more send
    /// per relay); the share follows the heartbeat (`setFleetSize`).
    public private(set) var fleetSize = 1
    private var lanes: [String: Lane] = [:]

    /// This relay's share of `concurrency`.
    public var concurrencyShare: Int { max(1, (concurrency + fleetSize - 1) / fleetSize) }
    /// This relay's share of `sendsPerMinute`.
    public var sendsPerMinuteShare: Int { max(1, (sendsPerMinute + fleetSize - 1) / fleetSize) }

    /// The number of relays up in the fleet; the limits of every account are shared out again.
    public func setFleetSize(_ relays: Int) {
        let size = max(1, relays)
        guard size != fleetSize else { return }
        fleetSize = size
        for name in lanes.keys { lanes[name]!.pacer.limit = sendsPerMinuteShare }
    }

    public init(concurrency: Int, sendsPerMinute: Int) {
        self.concurrency = max(1, concurrency)
        self.sendsPerMinute = max(1, sendsPerMinute)
    }

    /// Takes slots for sends starting now, before the worker claims: at most `wanted[account]` for each
    /// account and `total` in all, shared out one per account in turn so no account starves the others.
    /// The worker claims exactly these from the store (`claimDue(limit:capacities:)`), so every claimed
    /// message already has its slot; the slots it could not fill go back through `cancel`.
    public func reserve(upTo wanted: [String: Int], total: Int, now: Date) -> [String: Int] {
        var granted: [String: Int] = [:]
        var left = max(0, total)
        var open = wanted.filter { $0.value > 0 }.keys.sorted()
        while left > 0 && !open.isEmpty {
            open = open.filter { name in
                guard left > 0, granted[name, default: 0] < wanted[name, default: 0], reserve(name, now: now) else { return false }
                granted[name, default: 0] += 1
                left -= 1
                return true
            }
        }
        return granted
    }

    /// Gives back `count` slots taken by `reserve` for sends that did not start (no message to claim).
    /// Unlike `finish`, the send never started, so it does not count against the pacing either.
    public func cancel(_ account: String, count: Int) {
        guard count > 0, var lane = lanes[account] else { return }
        lane.inFlight -= count
        lane.pacer.unrecord(count)
        lanes[account] = lane
    }

    /// Takes a slot for one send starting now, if the account has one. Balanced by `finish`.
    public func reserve(_ account: String, now: Date) -> Bool {
        guard capacity(account, now: now) > 0 else { return false }
        lanes[account, default: newLane()].inFlight += 1
        lanes[account]!.pacer.record(now: now)
        return true
    }

    public func finish(_ account: String) {
        lanes[account]?.inFlight -= 1
    }

    public func pause(_ account: String, until: Date) {
        lanes[account, default: newLane()].pacer.pause(until: until)
    }

    public func resume(_ account: String) {
        lanes[account]?.pacer.resume()
    }

    public var inFlight: Int { lanes.values.reduce(0) { $0 + $1.inFlight } }

    public func inFlight(_ account: String) -> Int { lanes[account]?.inFlight ?? 0 }

    /// The earliest time a currently blocked account could start again (pacing or pause); nil when none waits on time.
    public func nextOpening(now: Date) -> Date? {
        var earliest: Date?
        for name in lanes.keys {
            guard var pacer = lanes[name]?.pacer, lanes[name]!.inFlight < concurrencyShare else { continue }
            let next = pacer.nextStart(now: now)
            lanes[name]!.pacer = pacer
            if next > now { earliest = min(earliest ?? next, next) }
        }
        return earliest
    }

    public func pausedUntil(_ account: String, now: Date) -> Date? {
        guard let until = lanes[account]?.pacer.pausedUntil, until > now else { return nil }
        return until
    }

    private func capacity(_ account: String, now: Date) -> Int {
        var lane = lanes[account] ?? newLane()
        let paced = lane.pacer.available(now: now)
        if lanes[account] != nil { lanes[account] = lane }
        return max(0, min(concurrencyShare - lane.inFlight, paced))
    }

    private func newLane() -> Lane { Lane(pacer: SendPacer(limit: sendsPerMinuteShare)) }
}
