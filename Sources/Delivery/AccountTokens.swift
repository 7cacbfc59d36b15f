import Crypto
import Foundation
import GmailAPI
import RelayStore
import RelayVocabulary

/// One token cache per account, built from the account's stored grant, shared by the worker, the
/// synchronous DATA path and the health probe, so concurrent sends share one refresh. A new secret
/// (reauth, `account add` again) gives a new cache: the cache is keyed by a digest of the secret.
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
    private var entries: [String: (digest: SHA256Digest, entry: Entry)] = [:]

    public init(store: any AccountStore, endpoints: GoogleEndpoints, transport: HTTPTransport, metrics: RelayMetrics) {
        self.store = store
        self.endpoints = endpoints
        self.transport = transport
        self.metrics = metrics
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
        let entry = Entry(cache: TokenCache(grant: CountedGrant(base: tokenGrant, account: account.name, metrics: metrics)), grant: grant)
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
