import Foundation
import RelayStatus
import RelayStore
import RelayVocabulary

/// Gauges read from the database at scrape time, in Prometheus text format: the queue by status and the
/// accounts by state. They hold across restarts and include what CLI processes changed, which in-process
/// counters cannot. The delivery engine's counters and durations (`RelayMetrics`) are appended by the app.
public enum StoreGauges {
    public static func prometheusText(_ store: any MessageStore & AccountStore, now: Date = Date()) async -> String {
        guard let counts = try? await store.queueCounts(), let accounts = try? await store.accounts(),
              let oldest = try? await store.oldestWaiting()
        else {
            return "# the relay database could not be read\n"
        }
        var out = """
            # HELP relay_messages Messages in the send log by status (sent: in the last 24 hours).
            # TYPE relay_messages gauge
            relay_messages{status="queued"} \(counts.queued)
            relay_messages{status="sending"} \(counts.sending)
            relay_messages{status="held"} \(counts.held)
            relay_messages{status="failed"} \(counts.failed)
            relay_messages{status="sent_24h"} \(counts.sent24h)
            # HELP relay_accounts Accounts by state.
            # TYPE relay_accounts gauge

            """
        for state in AccountState.allCases {
            out += "relay_accounts{state=\"\(state.rawValue)\"} \(accounts.filter { $0.state == state }.count)\n"
        }
        out += """
            # HELP relay_oldest_message_age_seconds Age of the oldest message by waiting status (0 when there is none).
            # TYPE relay_oldest_message_age_seconds gauge

            """
        for status in [MessageStatus.queued, .sending, .held] {
            let age = oldest[status].map { max(0, now.timeIntervalSince($0)) } ?? 0
            out += "relay_oldest_message_age_seconds{status=\"\(status.rawValue)\"} \(Int(age))\n"
        }
        return out
    }
}

extension StoreGauges {
    /// The fleet sharing a PostgreSQL store, as every relay of it sees it (the same numbers from each,
    /// labelled by the relay they are about): up (1) or gone (0), and the messages each is sending.
    public static func fleetText(_ relays: [RelayStatus]) -> String {
        guard !relays.isEmpty else { return "" }
        var out = """
            # HELP relay_fleet_up Relays sharing the store: 1 while a relay's heartbeat is fresher than its lease, 0 once gone.
            # TYPE relay_fleet_up gauge

            """
        for relay in relays { out += "relay_fleet_up{relay=\"\(PrometheusLabel.escape(relay.name))\"} \(relay.state == .up ? 1 : 0)\n" }
        out += """
            # HELP relay_fleet_sending Messages each relay of the fleet holds in sending (its leases).
            # TYPE relay_fleet_sending gauge

            """
        for relay in relays { out += "relay_fleet_sending{relay=\"\(PrometheusLabel.escape(relay.name))\"} \(relay.claimed)\n" }
        return out
    }
}

/// Prometheus label values escape backslash, double quote and newline.
enum PrometheusLabel {
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
