import Foundation
import Logging
import ProblemCatalogue
import RelayStatus
import RelayStore
import RelayVocabulary
import ServiceLifecycle

/// Watches the accounts table (the delivery engine, `reauth` and other CLI commands write it, possibly from
/// other processes) and POSTs an `AccountStateAlert` to alerts.webhook_url for every state change, so
/// operators hear about a revoked grant before the site owner notices missing mail.
///
/// The first reading is the baseline: a state the account already had when `serve` started is on the
/// status page, not alerted. Alerts go out one at a time, in order, each retried with bounded backoff.
public struct AccountStateWatcher: Service {
    let reporter: StatusReporter
    let webhook: URL
    let interval: Duration
    let retry: AlertRetryPolicy
    let sender: any WebhookSending
    let clock: @Sendable () -> Date
    let logger: Logger
    /// Called once the baseline reading is taken (tests wait for it instead of sleeping).
    let baselineTaken: @Sendable () -> Void

    public init(
        reporter: StatusReporter, webhook: URL, interval: Duration = .seconds(2), retry: AlertRetryPolicy = AlertRetryPolicy(),
        sender: any WebhookSending = URLSessionWebhookSender(), clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger,
        baselineTaken: @escaping @Sendable () -> Void = {}
    ) {
        self.baselineTaken = baselineTaken
        self.reporter = reporter
        self.webhook = webhook
        self.interval = interval
        self.retry = retry
        self.sender = sender
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        let (alerts, continuation) = AsyncStream.makeStream(of: AccountStateAlert.self)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await alert in alerts { await self.deliver(alert) }
            }
            group.addTask {
                await cancelWhenGracefulShutdown { await self.watch(into: continuation) }
                continuation.finish()
            }
            // On shutdown the watch stops; an alert being retried is abandoned rather than delaying the exit.
            await group.next()
            group.cancelAll()
        }
    }

    func watch(into continuation: AsyncStream<AccountStateAlert>.Continuation) async {
        var known: [String: AccountState]?
        while !Task.isCancelled {
            do {
                let accounts = try await reporter.store.accounts()
                if let before = known {
                    for change in StateChanges.between(before, accounts) {
                        continuation.yield(await alert(for: change))
                    }
                }
                let isBaseline = known == nil
                known = Dictionary(accounts.map { ($0.name, $0.state) }, uniquingKeysWith: { first, _ in first })
                if isBaseline { baselineTaken() }
            } catch {
                logger.warning("alert watcher could not read the accounts", metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: interval) } catch { break }
        }
    }

    func alert(for change: StateChanges.Change) async -> AccountStateAlert {
        let account = change.account
        let context = await reporter.context(for: account, now: clock())
        return AccountStateAlert(
            account: account.name, email: account.primaryAddress, kind: account.kind,
            fromState: change.from, toState: account.state,
            problem: StatusReporter.problem(of: account, context: context), at: clock())
    }

    /// Tries until a 2xx, a 4xx that repeating cannot fix, or `retry.attempts` tries.
    func deliver(_ alert: AccountStateAlert) async {
        guard let body = try? Data(StatusJSON.encode(alert).utf8) else { return }
        let metadata: Logger.Metadata = ["account": "\(alert.account)", "alert.to_state": "\(alert.toState.rawValue)"]
        for attempt in 1...max(retry.attempts, 1) {
            var outcome: String
            do {
                let status = try await sender.post(body, to: webhook)
                if (200..<300).contains(status) {
                    logger.info("account alert delivered", metadata: metadata.merging(["http.status": "\(status)"]) { $1 })
                    return
                }
                outcome = "HTTP \(status)"
                if !AlertRetryPolicy.isRetryable(status: status) {
                    logger.error("account alert refused by the webhook", metadata: metadata.merging(["http.status": "\(status)"]) { $1 })
                    return
                }
            } catch {
                outcome = "\(error)"
            }
            if attempt == retry.attempts { 
                logger.error("account alert not delivered, giving up", metadata: metadata.merging(["error": "\(outcome)", "attempts": "\(attempt)"]) { $1 })
                return
            }
            logger.warning("account alert not delivered, retrying", metadata: metadata.merging(["error": "\(outcome)", "attempt": "\(attempt)"]) { $1 })
            do { try await Task.sleep(for: retry.delay(after: attempt)) } catch { return }
        }
    }
}
