import Foundation
import Logging
import ProblemCatalogue
import RelayStatus
import RelayStore
import RelayVocabulary
import ServiceLifecycle

/// Watches the accounts table (the delivery engine, `reauth` and other CLI commands write it, possibly from
/// other processes) and sends an alert for every state change, a reminder while a problem lasts
/// (`alerts.remind_hours`) and a "resolved" alert when the account is ok again, so operators hear about a
/// revoked grant before the site owner notices missing mail.
///
/// The first reading is the baseline: a state the account already had when `serve` started is on the
/// status page, not alerted (its reminders count from then). Alerts go out one at a time, in order.
public struct AccountStateWatcher: Service {
    let reporter: StatusReporter
    public let dispatcher: AlertDispatcher
    let interval: Duration
    let clock: @Sendable () -> Date
    let logger: Logger
    /// Called once the baseline reading is taken (tests wait for it instead of sleeping).
    let baselineTaken: @Sendable () -> Void

    public init(
        reporter: StatusReporter, dispatcher: AlertDispatcher, interval: Duration = .seconds(2),
        clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger, baselineTaken: @escaping @Sendable () -> Void = {}
    ) {
        self.reporter = reporter
        self.dispatcher = dispatcher
        self.interval = interval
        self.clock = clock
        self.logger = logger
        self.baselineTaken = baselineTaken
    }

    /// The JSON webhook alone, as before alerts.webhook_format existed.
    public init(
        reporter: StatusReporter, webhook: URL, interval: Duration = .seconds(2), retry: AlertRetryPolicy = AlertRetryPolicy(),
        sender: any WebhookSending = URLSessionWebhookSender(), clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger,
        baselineTaken: @escaping @Sendable () -> Void = {}
    ) {
        self.init(
            reporter: reporter,
            dispatcher: AlertDispatcher(settings: AlertSettings(webhook: webhook), retry: retry, sender: sender, logger: logger),
            interval: interval, clock: clock, logger: logger, baselineTaken: baselineTaken)
    }

    public func run() async throws {
        let (alerts, continuation) = AsyncStream.makeStream(of: AccountStateAlert.self)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await alert in alerts { await self.dispatcher.deliver(alert) }
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
        var reminders = ReminderSchedule(remindHours: dispatcher.settings.remindHours)
        while !Task.isCancelled {
            do {
                let accounts = try await reporter.store.accounts()
                let now = clock()
                var changed: Set<String> = []
                if let before = known {
                    for change in StateChanges.between(before, accounts) {
                        changed.insert(change.account.name)
                        continuation.yield(await alert(for: change.account, from: change.from, event: nil))
                    }
                }
                for account in reminders.due(accounts, changed: changed, now: now) {
                    logger.notice("account problem lasts, reminding", metadata: ["account": "\(account.name)", "state": "\(account.state.rawValue)"])
                    continuation.yield(await alert(for: account, from: account.state, event: .reminder))
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

    func alert(for account: Account, from: AccountState, event: AlertEvent?) async -> AccountStateAlert {
        let context = await reporter.context(for: account, now: clock())
        return AccountStateAlert(
            event: event, account: account.name, email: account.primaryAddress, kind: account.kind,
            fromState: from, toState: account.state,
            problem: StatusReporter.problem(of: account, context: context), at: clock())
    }
}
