import Foundation

/// At most `limit` sends started in any `window` for one account (Gmail's per-user quota is about 60
/// sends a minute), plus a pause until a given time (the daily sending limit). Pure: the caller passes `now`.
public struct SendPacer: Sendable, Equatable {
    /// Changes when the relay's share of a fleet's limit changes (`DeliveryLanes.setFleetSize`).
    public var limit: Int {
        didSet { limit = max(1, limit) }
    }
    public let window: TimeInterval
    /// Start times inside the current window, oldest first.
    private var starts: [Date] = []
    public private(set) var pausedUntil: Date?

    public init(limit: Int, window: TimeInterval = 60) {
        self.limit = max(1, limit)
        self.window = window
    }

    /// How many sends may start right now.
    public mutating func available(now: Date) -> Int {
        if let pausedUntil, pausedUntil > now { return 0 }
        forget(before: now)
        return max(0, limit - starts.count)
    }

    /// Counts a send that starts now.
    public mutating func record(now: Date) {
        forget(before: now)
        starts.append(now)
    }

    /// Forgets the newest `count` starts: sends that were counted and then did not start after all.
    public mutating func unrecord(_ count: Int) {
        starts.removeLast(min(max(0, count), starts.count))
    }

    /// When the next send may start; `now` when one may start already.
    public mutating func nextStart(now: Date) -> Date {
        if let pausedUntil, pausedUntil > now { return pausedUntil }
        forget(before: now)
        guard starts.count >= limit, let oldest = starts.first else { return now }
        return oldest.addingTimeInterval(window)
    }

    public mutating func pause(until date: Date) {
        pausedUntil = max(pausedUntil ?? date, date)
    }

    public mutating func resume() {
        pausedUntil = nil
    }

    private mutating func forget(before now: Date) {
        let cutoff = now.addingTimeInterval(-window)
        if let index = starts.firstIndex(where: { $0 > cutoff }) {
            starts.removeFirst(index)
        } else {
            starts.removeAll()
        }
        if let pausedUntil, pausedUntil <= now { self.pausedUntil = nil }
    }
}
