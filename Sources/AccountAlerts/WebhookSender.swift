import Foundation
import GmailAPI

/// What the webhook answered.
public struct WebhookAnswer: Sendable, Equatable {
    public var status: Int
    public var body: Data

    /// The body as text for a person: at most `limit` characters, control characters shown as spaces
    /// (an endpoint's answer must not rewrite the operator's terminal).
    public func bodyText(limit: Int = 2000) -> String {
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 && $0 != "\n" || $0.value == 0x7F ? " " : $0 }))
        return cleaned.count > limit ? String(cleaned.prefix(limit)) + "…" : cleaned
    }
}

/// POSTs one request; returns the answer, throws when no answer came.
public protocol WebhookSending: Sendable {
    func send(_ request: WebhookRequest, to url: URL) async throws -> WebhookAnswer
}

/// Over GmailAPI's HTTPTransport: the same URLSession client as the calls to Google, cancellable
/// when `serve` stops.
public final class URLSessionWebhookSender: WebhookSending {
    private let transport: HTTPTransport

    public init(timeout: TimeInterval = 10) {
        transport = HTTPTransport(timeout: timeout)
    }

    public func send(_ request: WebhookRequest, to url: URL) async throws -> WebhookAnswer {
        let response = try await transport.post(
            url, body: request.body, contentType: request.contentType, userAgent: "gmail-relay", headers: request.headers)
        return WebhookAnswer(status: response.status, body: response.body)
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
    public static func isRetryable(status: Int) -> Bool {
        !(200..<300).contains(status) && !((400..<500).contains(status) && status != 408 && status != 429)
    }
}
