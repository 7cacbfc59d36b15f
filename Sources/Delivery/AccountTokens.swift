import Crypto
import Foundation
import GmailAPI
import Logging
import RelayStore
import RelayVocabulary

/// One token cache per account, built from the account's stored grant, shared by the worker, the
/// synchronous DATA path and the health probe, so concurrent sends share one refresh. A new secret
/// (reauth, `account add` again) gives a new cache: the cache is keyed by a digest of the secret.
/// Given a shared store (PostgreSQL, several relays), each cache's refresh goes through it first
/// (`SharedTokenGrant`): one refresh per account for the whole fleet.
public actor AccountTokens {
    /// Why an account cannot ask Google for a token at all; each maps to a relay problem code.
    public enum Unavailable: Error, Equatable {
        case noGrant
        case unreadableSecret
        case badServiceAccountKey(String)

        public var problem: ProblemCode {
            switch self {
            case .noGrant: return .grantMissing
            case .unreadableSecret, .badServiceAccountKey: return .secretUnreadable
            }
        }

        public var accountState: AccountState {
            self == .noGrant ? .needsReauth : .blocked
        }
    }

    public struct Entry: Sendable {
        public let cache: TokenCache
        public let grant: StoredGrant
    }

    private let store: any AccountStore
    private let endpoints: GoogleEndpoints
    private let transport: HTTPTransport
    private let metrics: RelayMetrics
    private let shared: (any SharedAccessTokens)?
    private let refreshMargin: TimeInterval
    private let sharedFreshness: TimeInterval
    private let clock: @Sendable () -> Date
    private let logger: Logger
    private var entries: [String: (digest: SHA256Digest, entry: Entry)] = [:]

    /// `shared`: the store relays share tokens through (nil: this relay's caches only, as on SQLite).
    /// `refreshMargin`: a token expiring sooner is refreshed before use. `sharedFreshness`: how recent a
    /// shared token must be to count as the health probe's fresh one.
    public init(
        store: any AccountStore, endpoints: GoogleEndpoints, transport: HTTPTransport, metrics: RelayMetrics,
        shared: (any SharedAccessTokens)? = nil, refreshMargin: TimeInterval = 300, sharedFreshness: TimeInterval = 60,
        clock: @escaping @Sendable () -> Date = Date.init, logger: Logger = Logger(label: "gmail-relay.tokens")
    ) {
        self.store = store
        self.endpoints = endpoints
        self.transport = transport
        self.metrics = metrics
        self.shared = shared
        self.refreshMargin = refreshMargin
        self.sharedFreshness = sharedFreshness
        self.clock = clock
        self.logger = logger
    }

    public func entry(for account: Account) async throws -> Entry {
        let secret: Data?
        do {
            secret = try await store.accountSecret(named: account.name)
        } catch StoreError.secretUndecryptable {
            throw Unavailable.unreadableSecret
        }
        guard let secret else { throw Unavailable.noGrant }
        let digest = SHA256.hash(data: secret)
        if let known = entries[account.name], known.digest == digest { return known.entry }
        guard let grant = try? StoredGrant.decode(secret) else { throw Unavailable.unreadableSecret }
        let tokenGrant: any TokenGrant
        switch grant {
        case .oauthClient(let clientID, let clientSecret, let refreshToken):
            guard let refreshToken else { throw Unavailable.noGrant }
            tokenGrant = RefreshTokenGrant(clientID: clientID, clientSecret: clientSecret, refreshToken: refreshToken,
                                           tokenURL: endpoints.tokenURL, transport: transport)
        case .serviceAccount(let keyJSON, let subject):
            let key: ServiceAccountKey
            do { key = try ServiceAccountKey(json: Data(keyJSON.utf8)) } catch { throw Unavailable.badServiceAccountKey("\(error)") }
            tokenGrant = ServiceAccountGrant(key: key, subject: subject, configuredTokenURL: endpoints.tokenURL, transport: transport)
        }
        // Only real requests to Google are counted: the shared grant sits in front of the counted one.
        let counted = CountedGrant(base: tokenGrant, account: account.name, metrics: metrics)
        let cacheGrant: any TokenGrant = shared.map {
            SharedTokenGrant(base: counted, shared: $0, account: account.name, grantDigest: Data(digest), margin: refreshMargin,
                             freshness: sharedFreshness, clock: clock, logger: logger)
        } ?? counted
        let entry = Entry(cache: TokenCache(grant: cacheGrant, refreshMargin: refreshMargin, clock: clock), grant: grant)
        entries[account.name] = (digest, entry)
        return entry
    }

    /// Drops an account's cache (account removed).
    public func forget(_ name: String) {
        entries[name] = nil
    }
}

/// Counts every token request in the metrics, without the cache or the grants knowing about metrics.
struct CountedGrant: TokenGrant {
    let base: any TokenGrant
    let account: String
    let metrics: RelayMetrics

    func fetchToken(now: Date) async throws -> AccessToken {
        do {
            let token = try await base.fetchToken(now: now)
            metrics.tokenRefresh(account: account, succeeded: true)
            return token
        } catch {
            metrics.tokenRefresh(account: account, succeeded: false)
            throw error
        }
    }
}
