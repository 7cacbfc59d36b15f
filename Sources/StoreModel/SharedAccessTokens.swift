import Foundation

/// An account's access token as a store shares it between relays. The value is a secret: a store keeps
/// it sealed (as it seals the grant) and it is never logged; `description` leaves it out.
public struct SharedAccessToken: Sendable, Equatable, CustomStringConvertible {
    public var value: String
    public var expiresAt: Date
    /// Space-separated scopes Google granted, when it said.
    public var scope: String?
    /// When Google issued it (the relay's clock when it asked).
    public var obtainedAt: Date

    public init(value: String, expiresAt: Date, scope: String?, obtainedAt: Date) {
        self.value = value
        self.expiresAt = expiresAt
        self.scope = scope
        self.obtainedAt = obtainedAt
    }

    public var description: String {
        "access token (expires \(expiresAt), obtained \(obtainedAt))"
    }
}

/// Which stored token will do for a caller. All the given conditions must hold.
public struct SharedTokenRequirement: Sendable, Equatable {
    /// The token must still be valid after this instant (now + the caller's refresh margin).
    public var expiresAfter: Date
    /// Not this token: Gmail answered 401 to it.
    public var notValue: String?
    /// Issued by Google at or after this instant: a caller that needs proof the grant works now.
    public var obtainedSince: Date?

    public init(expiresAfter: Date, notValue: String? = nil, obtainedSince: Date? = nil) {
        self.expiresAfter = expiresAfter
        self.notValue = notValue
        self.obtainedSince = obtainedSince
    }

    public func isMet(by token: SharedAccessToken) -> Bool {
        token.expiresAt > expiresAfter && token.value != notValue && (obtainedSince.map { token.obtainedAt >= $0 } ?? true)
    }
}

/// One access token per account for every relay sharing a store, so the fleet asks Google about once
/// per token lifetime whatever the number of relays (issue 15). PostgresRelayStore implements it; the
/// SQLite store does not need to (one relay, whose in-memory TokenCache already shares one refresh).
///
/// A stored token belongs to the grant it was issued for (`grantDigest`, a digest of the account's
/// secret): after a reauth or a new key nothing returns the old grant's token.
public protocol SharedAccessTokens: Sendable {
    /// The account's stored token if it came from this grant and meets `requirement`; nil otherwise
    /// (none stored, another grant's, expiring, rejected, too old). No lock: the fast path.
    func sharedAccessToken(
        account: String, grantDigest: Data, meeting requirement: SharedTokenRequirement
    ) async throws -> SharedAccessToken?

    /// Refresh once for the fleet: under a per-account lock held until its transaction ends, reads the
    /// stored token again (another relay may have just refreshed) and returns it if it meets
    /// `requirement`; otherwise calls `refresh` (Google), stores its token sealed and returns it. An error
    /// `refresh` throws comes out unchanged and nothing is stored. A relay that dies mid-refresh loses
    /// the lock with its connection.
    func refreshSharedAccessToken(
        account: String, grantDigest: Data, unlessMet requirement: SharedTokenRequirement,
        refresh: @escaping @Sendable () async throws -> SharedAccessToken
    ) async throws -> SharedAccessToken
}
