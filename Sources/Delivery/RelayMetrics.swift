import Foundation
import Prometheus

/// The relay's metrics in one Prometheus registry, owned by the application (never a global), so tests
/// can run several relays in one process. The web server serves `prometheusText()` at /metrics, next to
/// the gauges it reads from the database at each scrape (messages by status, accounts by state).
public final class RelayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let sendDuration: DurationHistogram

    private static var accepted: MetricNameDescriptor { descriptor("messages_accepted", "total", "Messages accepted over SMTP, by account") }
    private static var outcomes: MetricNameDescriptor { descriptor("messages", "total", "Messages by delivery outcome (sent, failed, held, retry), by account") }
    private static var attempts: MetricNameDescriptor { descriptor("attempts", "total", "Delivery attempts by result class, by account") }
    private static var refreshes: MetricNameDescriptor { descriptor("token_refreshes", "total", "Requests to Google's token endpoint, by account and result") }
    private static var commits: MetricNameDescriptor { descriptor("accept_commits", "total", "Durable transactions that committed accepted messages (group commit: several messages each)") }
    private static var committed: MetricNameDescriptor { descriptor("accept_committed_messages", "total", "Accepted messages committed; divided by relay_accept_commits_total, messages per transaction") }
    private static var claims: MetricNameDescriptor { descriptor("delivery_claims", "total", "Claims of due messages by the delivery worker (several messages each under load)") }
    private static var claimedMessages: MetricNameDescriptor { descriptor("delivery_claimed_messages", "total", "Messages claimed for delivery; divided by relay_delivery_claims_total, messages per claim") }
    private static var duration: MetricNameDescriptor { descriptor("send_duration", "seconds", "Time of one delivery attempt (token and upload)") }

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        sendDuration = registry.makeDurationHistogram(
            descriptor: Self.duration,
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30)])
    }

    /// The Prometheus text exposition format.
    public func prometheusText() -> String { registry.emitToString() }

    public func messageAccepted(account: String) {
        registry.makeCounter(descriptor: Self.accepted, labels: [("account", account)]).increment()
    }

    /// One group-commit transaction that made `messages` accepted messages durable.
    public func acceptBatchCommitted(messages: Int) {
        registry.makeCounter(descriptor: Self.commits).increment()
        registry.makeCounter(descriptor: Self.committed).increment(by: Int64(messages))
    }

    /// One claim by the delivery worker that took `messages` due messages.
    public func claimed(messages: Int) {
        registry.makeCounter(descriptor: Self.claims).increment()
        registry.makeCounter(descriptor: Self.claimedMessages).increment(by: Int64(messages))
    }

    /// Where a delivery attempt left the message: sent, failed, held, retry.
    public func messageOutcome(_ outcome: String, account: String) {
        registry.makeCounter(descriptor: Self.outcomes, labels: [("account", account), ("outcome", outcome)]).increment()
    }

    /// One delivery attempt, by class (sent, transient, rate_limited, account_blocked, message_rejected).
    public func attempt(class name: String, account: String, duration: Duration) {
        registry.makeCounter(descriptor: Self.attempts, labels: [("account", account), ("class", name)]).increment()
        sendDuration.record(duration)
    }

    public func tokenRefresh(account: String, succeeded: Bool) {
        registry.makeCounter(descriptor: Self.refreshes, labels: [("account", account), ("result", succeeded ? "ok" : "failed")])
            .increment()
    }

    private static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "relay", metricName: name, unitName: unit, helpText: help)
    }
}
