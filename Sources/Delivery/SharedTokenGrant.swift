import Foundation
import GmailAPI
import Logging
import RelayStore

/// An account's grant when several relays share a store (PostgreSQL): the token cache's refresh goes to
/// the shared store first, so the whole fleet asks Google about once per token lifetime instead of once
/// per relay. `base` is the counted grant that really calls Google: a token read from the store is not a
/// token request and is not counted. The relay's TokenCache stays in front, so a send reads no row.
struct SharedTokenGrant: TokenGrant {
    let base: any TokenGrant
    let shared: any SharedAccessTokens
    let account: String
    /// Digest of the account's secret: a stored token from another grant (before a reauth) never comes back.
    let grantDigest: Data
    /// The token cache's margin: a stored token must outlive it, or the cache would ask again at once.
    let margin: TimeInterval
    /// How recent a stored token must be to prove the grant works (`.fresh`: the health probe), so relays
    /// probing together ask Google once.
    let freshness: TimeInterval
    let clock: @Sendable () -> Date
    let logger: Logger

    func fetchToken(now: Date) async throws -> AccessToken {
        try await fetchToken(now: now, reason: .expiring)
    }

    func fetchToken(now: Date, reason: TokenFetchReason) async throws -> AccessToken {
        let requirement = Self.requirement(for: reason, now: now, margin: margin, freshness: freshness)
        do {
            if let stored = try await shared.sharedAccessToken(account: account, grantDigest: grantDigest, meeting: requirement) {
                return AccessToken(stored)
            }
        } catch {
            return try await alone(because: error)
        }
        let base = self.base
        let clock = self.clock
        // Set when the error is Google's (or the transport's) rather than the store's.
        let googleFailed = LockedValue(false)
        do {
            let token = try await shared.refreshSharedAccessToken(account: account, grantDigest: grantDigest, unlessMet: requirement) {
                let asked = clock()
                do {
                    let token = try await base.fetchToken(now: asked, reason: reason)
                    return SharedAccessToken(value: token.value, expiresAt: token.expiresAt, scope: token.scope, obtainedAt: asked)
                } catch {
                    googleFailed.withLock { $0 = true }
                    throw error
                }
            }
            return AccessToken(token)
        } catch {
            // Google's answer reaches the classifier and the send log unchanged.
            if googleFailed.withLock({ $0 }) { throw error }
            return try await alone(because: error)
        }
    }

    /// The shared store failed: this relay asks Google itself rather than not sending (it is one more
    /// token request, and the store's own trouble shows elsewhere).
    private func alone(because error: any Error) async throws -> AccessToken {
        logger.warning("the shared token store failed; this relay asks Google for its own token",
                       metadata: ["account": "\(account)", "error": "\(error)"])
        return try await base.fetchToken(now: clock(), reason: .expiring)
    }

    static func requirement(for reason: TokenFetchReason, now: Date, margin: TimeInterval, freshness: TimeInterval) -> SharedTokenRequirement {
        let expiresAfter = now.addingTimeInterval(margin)
        switch reason {
        case .expiring: return SharedTokenRequirement(expiresAfter: expiresAfter)
        case .rejected(let token): return SharedTokenRequirement(expiresAfter: expiresAfter, notValue: token.value)
        case .fresh: return SharedTokenRequirement(expiresAfter: expiresAfter, obtainedSince: now.addingTimeInterval(-freshness))
        }
    }
}

extension AccessToken {
    init(_ shared: SharedAccessToken) {
        self.init(value: shared.value, expiresAt: shared.expiresAt, scope: shared.scope)
    }
}
