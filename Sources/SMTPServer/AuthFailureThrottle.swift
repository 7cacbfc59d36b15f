import NIOConcurrencyHelpers
import NIOCore

/// Slows down password guessing: each failed AUTH from an address doubles the wait before the next
/// 535 answer from that address (capped), and a quiet quarter of an hour forgets it.
public final class AuthFailureThrottle: Sendable {
    private struct Record { var failures: Int; var last: NIODeadline }
    private let records = NIOLockedValueBox([String: Record]())
    private let base: Duration
    private let cap: Duration = .seconds(10)
    private let forgetAfter: TimeAmount = .minutes(15)

    public init(base: Duration) {
        self.base = base
    }

    /// Records a failure and returns how long to wait before answering it.
    public func failed(peer: String, now: NIODeadline = .now()) -> Duration {
        records.withLockedValue { records in
            if records.count > 10_000 { records = records.filter { now - $0.value.last < forgetAfter } }
            var record = records[peer] ?? Record(failures: 0, last: now)
            if now - record.last >= forgetAfter { record.failures = 0 }
            record.failures += 1
            record.last = now
            records[peer] = record
            let factor = 1 << min(record.failures - 1, 10)
            return min(base * factor, cap)
        }
    }

    public func succeeded(peer: String) {
        records.withLockedValue { _ = $0.removeValue(forKey: peer) }
    }
}
