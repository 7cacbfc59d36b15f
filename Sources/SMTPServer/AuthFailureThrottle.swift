import NIOConcurrencyHelpers
import NIOCore

/// Slows down password guessing: each failed AUTH from an address, and each failed AUTH for a username
/// from anywhere, doubles the wait before the next 535 answer (capped); the longer of the two applies.
/// A quiet quarter of an hour forgets a record. Per username, so guesses spread over many addresses
/// against one login slow down too; per address, so one address trying many usernames does.
public final class AuthFailureThrottle: Sendable {
    private struct Record { var failures: Int; var last: NIODeadline }
    private struct Records {
        var byAddress: [String: Record] = [:]
        var byUsername: [String: Record] = [:]
    }
    private let records = NIOLockedValueBox(Records())
    private let base: Duration
    private let cap: Duration = .seconds(10)
    private let forgetAfter: TimeAmount = .minutes(15)
    /// Bounds memory under a flood of new addresses or usernames: past it, old records are pruned.
    static let maximumRecords = 10_000

    public init(base: Duration) {
        self.base = base
    }

    /// Records a failure and returns how long to wait before answering it.
    public func failed(peer: String, username: String, now: NIODeadline = .now()) -> Duration {
        records.withLockedValue { records in
            let byAddress = Self.count(&records.byAddress, peer, now: now, forgetAfter: forgetAfter)
            let byUsername = Self.count(&records.byUsername, username.lowercased(), now: now, forgetAfter: forgetAfter)
            let factor = 1 << min(max(byAddress, byUsername) - 1, 10)
            return min(base * factor, cap)
        }
    }

    /// A success clears its address; the username's record stays, so a guesser who also owns another
    /// login cannot reset the count of the one being guessed, and expires on its own.
    public func succeeded(peer: String) {
        records.withLockedValue { _ = $0.byAddress.removeValue(forKey: peer) }
    }

    private static func count(_ table: inout [String: Record], _ key: String, now: NIODeadline, forgetAfter: TimeAmount) -> Int {
        if table.count >= maximumRecords {
            table = table.filter { now - $0.value.last < forgetAfter }
            // Still full of fresh records (a flood of distinct keys): start over rather than grow.
            if table.count >= maximumRecords { table = [:] }
        }
        var record = table[key] ?? Record(failures: 0, last: now)
        if now - record.last >= forgetAfter { record.failures = 0 }
        record.failures += 1
        record.last = now
        table[key] = record
        return record.failures
    }
}
