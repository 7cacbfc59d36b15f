import Foundation
import GmailAPI
import Logging
import RelayStore
import RelayVocabulary
import ServiceLifecycle

/// Checks each account's grant with a token refresh at start and every `interval`, even when no mail
/// flows, so a revoked or expired grant shows on the status page before the next message is held.
public struct TokenHealthProbe: PeriodicService {
    let store: any AccountStore
    let tokens: AccountTokens
    public let interval: Duration
    let logger: Logger

    public init(store: any AccountStore, tokens: AccountTokens, interval: Duration, logger: Logger) {
        self.store = store
        self.tokens = tokens
        self.interval = interval
        self.logger = logger
    }

    /// Every account but the sandbox ones.
    public func runOnce() async {
        do {
            for account in try await store.accounts() where account.kind != .sandbox && !Task.isShuttingDownGracefully {
                await probe(account)
            }
        } catch {
            logger.error("grant check skipped: the accounts could not be read", metadata: ["error": "\(error)"])
        }
    }

    /// One check. Only a verdict about the grant itself changes the account: a network error says nothing.
    /// What it found is written in one transaction with the check time.
    public func probe(_ account: Account) async {
        let now = Date()
        let check: GrantCheck
        do {
            let entry = try await tokens.entry(for: account)
            do {
                let token = try await entry.cache.freshToken()
                check = .tokenIssued(expiresAt: token.expiresAt, scopes: token.scope.map { _ in token.scopes.sorted() })
            } catch {
                let classification = entry.grant.classify(FailedCall(tokenError: error), consentedAt: account.consentedAt, now: now)
                if classification.holdsAccount {
                    logger.warning("account grant check failed", metadata: ["account": "\(account.name)", "problem": "\(classification.problem.rawValue)"])
                    check = .cannotSend(state: RetryPolicy.accountState(for: classification), problemCode: classification.problem,
                                        detail: classification.detail, holdQueued: true)
                } else {
                    check = .inconclusive
                }
            }
        } catch let unavailable as AccountTokens.Unavailable {
            check = account.state == .ok
                ? .cannotSend(state: unavailable.accountState, problemCode: unavailable.problem, detail: nil, holdQueued: false)
                : .inconclusive
        } catch {
            return
        }
        do {
            try await store.recordGrantCheck(name: account.name, at: now, check)
        } catch {
            logger.error("could not record the grant check", metadata: ["account": "\(account.name)", "error": "\(error)"])
        }
    }
}
