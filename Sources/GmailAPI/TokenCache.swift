import Foundation

/// Holds one account's access token: refreshes it ahead of expiry, and makes concurrent senders
/// share a single refresh instead of each asking Google.
public actor TokenCache {
    private let grant: any TokenGrant
    /// A token expiring sooner than this is refreshed before use.
    public nonisolated let refreshMargin: TimeInterval
    private let clock: @Sendable () -> Date
    private var current: AccessToken?
    private var inFlight: Task<AccessToken, any Error>?
    /// How many times the grant was asked (Google, or with a fleet-shared grant possibly the shared store):
    /// the bench checks it stays near one an hour.
    public private(set) var refreshCount = 0

    public init(grant: any TokenGrant, refreshMargin: TimeInterval = 300, clock: @escaping @Sendable () -> Date = Date.init) {
        self.grant = grant
        self.refreshMargin = refreshMargin
        self.clock = clock
    }

    /// A token valid for at least the margin, fetching one if needed.
    public func token() async throws -> AccessToken {
        if let current, current.expiresAt.timeIntervalSince(clock()) > refreshMargin { return current }
        return try await refresh(.expiring)
    }

    /// Throws the cached token away (Gmail said 401) and fetches a new one, unless another caller
    /// already replaced the rejected token meanwhile.
    public func tokenAfterRejection(of rejected: AccessToken) async throws -> AccessToken {
        if let current, current.value != rejected.value, current.expiresAt > clock() { return current }
        current = nil
        return try await refresh(.rejected(rejected))
    }

    /// A token fresh from Google, whatever is cached: the health probe and `doctor` use it to prove the
    /// grant still works, which a cached token cannot.
    public func freshToken() async throws -> AccessToken {
        if let inFlight { return try await inFlight.value }
        current = nil
        return try await refresh(.fresh)
    }

    public var cachedToken: AccessToken? { current }

    private func refresh(_ reason: TokenFetchReason) async throws -> AccessToken {
        if let inFlight { return try await inFlight.value }
        let grant = self.grant
        let now = clock()
        let task = Task { try await grant.fetchToken(now: now, reason: reason) }
        inFlight = task
        defer { inFlight = nil }
        refreshCount += 1
        let token = try await task.value
        current = token
        return token
    }
}
