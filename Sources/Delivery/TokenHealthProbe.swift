import Foundation
import GmailAPI
import Logging
import RelayStore
import ServiceLifecycle

/// Checks each account's grant with a token refresh at start and every `interval`, even when no mail
/// flows, so a revoked or expired grant shows on the status page before the next message is held.
public struct TokenHealthProbe: Service {
    let store: RelayStore
    let tokens: AccountTokens
    let interval: Duration
    let logger: Logger

    public init(store: RelayStore, tokens: AccountTokens, interval: Duration, logger: Logger) {
        self.store = store
        self.tokens = tokens
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await probeAll()
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    public func probeAll() async {
        guard let accounts = try? await store.accounts() else { return }
        for account in accounts where account.kind != .sandbox && !Task.isShuttingDownGracefully {
            await probe(account)
        }
    }

    /// One check. Only a verdict about the grant itself changes the account: a network error says nothing.
    public func probe(_ account: Account) async {
        let now = Date()
        let entry: AccountTokens.Entry
        do {
            entry = try await tokens.entry(for: account)
        } catch let unavailable as AccountTokens.Unavailable {
            try? await store.recordAccountCheck(name: account.name, at: now)
            if account.state == .ok {
                try? await store.setAccountState(name: account.name, state: unavailable.accountState, problemCode: unavailable.problem.rawValue)
            }
            return
        } catch {
            return
        }
        do {
            let token = try await entry.cache.freshToken()
            try? await store.recordAccountCheck(name: account.name, at: now)
            try? await store.setTokenExpiry(name: account.name, expiresAt: token.expiresAt,
                                            scopes: token.scope.map { _ in token.scopes.sorted() })
        } catch {
            try? await store.recordAccountCheck(name: account.name, at: now)
            let classification = entry.grant.classify(FailedCall(tokenError: error), consentedAt: account.consentedAt, now: now)
            guard classification.holdsAccount else { return }
            let state = RetryPolicy.accountState(for: classification)
            logger.warning("account grant check failed", metadata: ["account": "\(account.name)", "problem": "\(classification.problem.rawValue)"])
            try? await store.setAccountState(name: account.name, state: state, problemCode: classification.problem.rawValue,
                                             detail: MessageDeliverer.encode(classification.detail))
            _ = try? await store.holdQueued(account: account.name, problemCode: classification.problem.rawValue)
        }
    }
}
