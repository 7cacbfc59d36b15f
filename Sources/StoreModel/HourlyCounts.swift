import Foundation

/// One UTC hour of the send log, for /api/stats and the status page's charts.
///
/// Each count is a number of events recorded in that hour (docs/status-page.md "Charts"):
/// - `sent`: messages that became sent (Gmail accepted them; sandbox messages count when they are marked sent);
/// - `failed`: messages that became failed (given up for good, or failed because their account was removed);
/// - `held`: times a message was held (at acceptance or later, because its account could not send);
///   a message held, released and held again counts twice;
/// - `queued`: messages the relay accepted over SMTP.
/// Retries, releases and restarts are not counted: only these four transitions.
public struct HourlyCounts: Sendable, Equatable, Codable {
    /// The start of the hour (UTC, on the hour).
    public var hour: Date
    public var sent: Int
    public var failed: Int
    public var held: Int
    public var queued: Int

    public init(hour: Date, sent: Int = 0, failed: Int = 0, held: Int = 0, queued: Int = 0) {
        self.hour = hour
        self.sent = sent
        self.failed = failed
        self.held = held
        self.queued = queued
    }

    package enum CodingKeys: String, JSONFormKey { case hour, sent, failed, held, queued }
}
