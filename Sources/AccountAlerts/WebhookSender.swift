import Foundation
import GmailAPI

/// POSTs one JSON body; returns the HTTP status, throws when no answer came.
public protocol WebhookSending: Sendable {
    func post(_ body: Data, to url: URL) async throws -> Int
}

/// Over GmailAPI's HTTPTransport: the same URLSession client as the calls to Google, cancellable
/// when `serve` stops.
public final class URLSessionWebhookSender: WebhookSending {
    private let transport: HTTPTransport

    public init(timeout: TimeInterval = 10) {
        transport = HTTPTransport(timeout: timeout)
    }

    public func post(_ body: Data, to url: URL) async throws -> Int {
        try await transport.post(url, body: body, contentType: "application/json", userAgent: "gmail-relay").status
    }
}

/// How often and how long to try one alert: 1 s, 2 s, 4 s, ... up to `maximumDelay`, at most `attempts` tries.
public struct AlertRetryPolicy: Sendable, Equatable {
    public var attempts: Int
    public var firstDelay: Duration
    public var maximumDelay: Duration

    public init(attempts: Int = 6, firstDelay: Duration = .seconds(1), maximumDelay: Duration = .seconds(30)) {
        self.attempts = attempts
        self.firstDelay = firstDelay
        self.maximumDelay = maximumDelay
    }

    /// The wait after failed try number `attempt` (1-based).
    public func delay(after attempt: Int) -> Duration {
        var delay = firstDelay
        for _ in 1..<max(attempt, 1) {
            delay = delay * 2
            if delay >= maximumDelay { return maximumDelay }
        }
        return min(delay, maximumDelay)
    }

    /// 2xx is done; 4xx other than 408 and 429 will not get better by repeating.
    static func isRetryable(status: Int) -> Bool {
        !(200..<300).contains(status) && !((400..<500).contains(status) && status != 408 && status != 429)
    }
}
