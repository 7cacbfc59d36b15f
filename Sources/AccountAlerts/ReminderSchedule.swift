import Foundation
import RelayVocabulary
import RelayStore

/// When a problem that lasts is worth another message: `alerts.remind_hours` after the last alert about
/// the account (0: never). Pure; the watcher feeds it each reading and its clock.
///
/// A problem the account already had when `serve` started counts from that first reading: the page shows
/// it, and the first reminder comes one interval later. A restart of `serve` starts the count again.
public struct ReminderSchedule: Sendable, Equatable {
    /// nil: no reminders.
    public let interval: TimeInterval?
    /// The last alert (or the first sighting) per account that is not ok.
    private(set) var lastAlert: [String: Date] = [:]

    public init(remindHours: Int) {
        interval = remindHours > 0 ? TimeInterval(remindHours) * 3600 : nil
    }

    /// One reading: `changed` names the accounts that were just alerted for a state change. Returns the
    /// accounts due a reminder now, and counts them as alerted.
    public mutating func due(_ accounts: [Account], changed: Set<String>, now: Date) -> [Account] {
        var due: [Account] = []
        var next: [String: Date] = [:]
        for account in accounts where account.state != .ok {
            if changed.contains(account.name) {
                next[account.name] = now
            } else if let last = lastAlert[account.name] {
                if let interval, now.timeIntervalSince(last) >= interval {
                    due.append(account)
                    next[account.name] = now
                } else {
                    next[account.name] = last
                }
            } else {
                next[account.name] = now
            }
        }
        // Accounts that are ok (or gone) drop out: a later problem starts a new count.
        lastAlert = next
        return due
    }
}
