#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Foundation

/// POSTs one JSON body; returns the HTTP status, throws when no answer came.
public protocol WebhookSending: Sendable {
    func post(_ body: Data, to url: URL) async throws -> Int
}

/// FoundationNetworking's URLSession (libcurl on Linux), as for the calls to Google.
public final class URLSessionWebhookSender: WebhookSending {
    private let session: URLSession

    public init(timeout: TimeInterval = 10) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
    }

    public func post(_ body: Data, to url: URL) async throws -> Int {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("gmail-relay", forHTTPHeaderField: "User-Agent")
        request.httpBody = body
        let (_, response) = try await session.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
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
