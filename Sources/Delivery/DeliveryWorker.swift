import Foundation
import Logging
import RelayStore
import RelayVocabulary
import ServiceLifecycle

/// The delivery worker: takes due messages from SQLite and sends each through its account's lane
/// (concurrency and pacing), and answers the synchronous DATA path. Other processes (`queue retry`,
/// `reauth`) change the database directly, so the worker also looks every `pollInterval`.
public final class DeliveryWorker: Service, Sendable {
    public struct Options: Sendable {
        /// Sends in flight at once over all accounts.
        public var globalConcurrency = 32
        public var pollInterval: Duration = .seconds(1)
        /// How long a graceful shutdown waits for sends in flight before leaving them to the next start.
        public var shutdownGrace: Duration = .seconds(20)
        /// At most one claim per interval while mail keeps coming: what arrives meanwhile is claimed
        /// together, and its sends finish together, so their results share a commit. Claiming each
        /// message the moment it was queued cost a claim transaction, the due-count and next-due reads
        /// and a result commit per message, on the writer the next message's accept waits for (at one
        /// SMTP connection that halved the accept rate). An idle worker claims at once.
        public var claimInterval: Duration = .milliseconds(25)
        public init() {}
    }

    let store: any MessageStore & AccountStore
    let deliverer: MessageDeliverer
    public let lanes: DeliveryLanes
    let options: Options
    let logger: Logger
    let clock: @Sendable () -> Date
    private let doorbell = Doorbell()
    /// The last claim stopped at the free slots or the lanes' limits, so due mail may still wait: each
    /// send that ends frees a slot and wakes the worker. Otherwise an ending send changes nothing due.
    private let waitingForSlots = LockedBool()

    public init(store: any MessageStore & AccountStore, deliverer: MessageDeliverer, lanes: DeliveryLanes, options: Options = Options(),
                logger: Logger, clock: @escaping @Sendable () -> Date = Date.init) {
        self.store = store
        self.deliverer = deliverer
        self.lanes = lanes
        self.options = options
        self.logger = logger
        self.clock = clock
    }

    /// Something may be due now (a message was queued, a send finished): look without waiting for the poll.
    public func wake() {
        doorbell.ring()
    }

    public func run() async throws {
        let stopping = StopFlag()
        await restorePauses()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                var lastClaim: ContinuousClock.Instant?
                while !stopping.isSet && !Task.isCancelled {
                    if let lastClaim, lastClaim + options.claimInterval > .now {
                        try? await Task.sleep(until: lastClaim + options.claimInterval)
                    }
                    lastClaim = .now
                    let (claimed, limited) = await claim()
                    waitingForSlots.set(limited)
                    let inputs = await readAhead(claimed)
                    for message in claimed {
                        group.addTask { [self] in
                            let result = await deliverer.deliver(message, inputs: inputs)
                            await settle(message.account, result)
                            // A retry or a hold changes what is due when; a freed slot matters only to mail waiting for one.
                            if case .sent = result, !waitingForSlots.get() { return }
                            doorbell.ring()
                        }
                    }
                    // More may be due than this claim could take: try again (at the next interval).
                    if !claimed.isEmpty && limited { continue }
                    await doorbell.wait(upTo: await sleepDuration())
                }
                await drain()
                // Sends still running after the grace period are cut off; their messages stay `sending` or
                // go back to the queue, and are sent again after the next start.
                group.cancelAll()
            }
        } onGracefulShutdown: { [doorbell] in
            stopping.set()
            doorbell.ring()
        }
        logger.debug("delivery worker stopped")
    }

    /// The synchronous DATA path: the message was accepted as `sending`. Sends it now when its account has a
    /// free slot, else queues it. The send goes on even if the caller stops waiting (sync time-out).
    public func sendNow(_ message: MessageRecord) async -> Task<AttemptResult, Never>? {
        guard await lanes.reserve(message.account, now: clock()) else {
            await requeue(message, detail: "queued: account busy or paused")
            wake()
            return nil
        }
        return Task { [self] in
            let result = await deliverer.deliver(message)
            await settle(message.account, result)
            doorbell.ring()
            return result
        }
    }

    /// The lanes reserve a slot for each message before the store claims it: the store is asked for
    /// exactly the slots the lanes gave, so a claimed message always starts (none goes back to the queue),
    /// and the slots nothing could fill are given back. `limited`: the free slots or the lanes' limits
    /// stopped the claim, so due mail may be left.
    private func claim() async -> (claimed: [MessageRecord], limited: Bool) {
        let now = clock()
        let free = options.globalConcurrency - (await lanes.inFlight)
        guard free > 0 else { return ([], true) }
        let due: [String: Int]
        do {
            due = try await store.dueCounts(limit: free)
        } catch {
            logger.error("could not read the due messages", metadata: ["error": "\(error)"])
            return ([], false)
        }
        guard !due.isEmpty else { return ([], false) }
        let granted = await lanes.reserve(upTo: due, total: free, now: now)
        // Counts are capped at `free` per account: a total that reaches it may hide more.
        let limited = granted != due || due.values.reduce(0, +) >= free
        guard !granted.isEmpty else { return ([], limited) }
        var claimed: [MessageRecord] = []
        do {
            claimed = try await store.claimDue(limit: granted.values.reduce(0, +), capacities: granted)
        } catch {
            logger.error("could not claim due messages", metadata: ["error": "\(error)"])
        }
        var unused = granted
        for message in claimed { unused[message.account, default: 0] -= 1 }
        for (account, count) in unused where count > 0 {
            await lanes.cancel(account, count: count)
        }
        if !claimed.isEmpty { deliverer.metrics.claimed(messages: claimed.count) }
        return (claimed, limited)
    }

    /// The batch's accounts and small bodies in one read; on an error each send reads its own.
    private func readAhead(_ claimed: [MessageRecord]) async -> DeliveryInputs? {
        guard !claimed.isEmpty else { return nil }
        do {
            return try await store.deliveryInputs(for: claimed)
        } catch {
            logger.warning("could not read the claimed messages ahead; each send reads its own", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Back to the queue; a store error is logged (the message stays `sending`, and the next start
    /// requeues it: nothing is lost, but the operator should know the database refused a write).
    private func requeue(_ message: MessageRecord, detail: String) async {
        do {
            try await store.markStatus(id: message.id, status: .queued, problemCode: nil, nextAttemptAt: nil, detail: detail)
        } catch {
            logger.error("could not put a message back in the queue", metadata: ["message.id": "\(message.id)", "error": "\(error)"])
        }
    }

    private func settle(_ account: String, _ result: AttemptResult) async {
        await lanes.finish(account)
        switch result {
        case .queued(_, let next, true):
            await lanes.pause(account, until: next)
        case .sent:
            await lanes.resume(account)
        default:
            break
        }
    }

    /// Until the next message is due or an account's pacing opens, at most the poll interval.
    private func sleepDuration() async -> Duration {
        let now = clock()
        var seconds = Double(options.pollInterval.components.seconds) + Double(options.pollInterval.components.attoseconds) / 1e18
        do {
            if let due = try await store.nextDueDate() {
                let wait = due.timeIntervalSince(now)
                if wait > 0 { seconds = min(seconds, wait) }
            }
        } catch {
            logger.error("could not read when the next message is due; waiting the poll interval", metadata: ["error": "\(error)"])
        }
        if let opening = await lanes.nextOpening(now: now) {
            seconds = min(seconds, max(0.01, opening.timeIntervalSince(now)))
        }
        return .milliseconds(Int64(max(0.01, seconds) * 1000))
    }

    /// Graceful shutdown: let sends in flight finish, within the grace period. Whatever is still running
    /// then stays `sending` in the database and is sent again after the next start (at-least-once).
    private func drain() async {
        let deadline = ContinuousClock.now + options.shutdownGrace
        while await lanes.inFlight > 0 && ContinuousClock.now < deadline {
            await doorbell.wait(upTo: .milliseconds(100))
        }
        let left = await lanes.inFlight
        if left > 0 {
            logger.warning("shutdown with sends in flight; they are sent again after the next start", metadata: ["count": "\(left)"])
        }
    }

    /// A daily-limit pause survives a restart: it is stored on the account with Gmail's retry time.
    private func restorePauses() async {
        let accounts: [Account]
        do {
            accounts = try await store.accounts()
        } catch {
            logger.error("could not read the accounts to restore daily-limit pauses", metadata: ["error": "\(error)"])
            return
        }
        for account in accounts where account.problemCode == .dailyLimit {
            if let until = account.problemDetail?.retryAfter, until > clock() {
                await lanes.pause(account.name, until: until)
            }
        }
    }
}

/// A wake-up call with a time-out: `ring` wakes the waiter (or the next one, if none waits).
///
/// Not an actor: the intake rings once per accepted message, on the path to its 250, and with a lock
/// a ring is a few instructions where it was a new task plus an actor hop (a thread wake-up each).
final class Doorbell: @unchecked Sendable {
    private let lock = NSLock()
    private var rung = false
    private var waiter: CheckedContinuation<Void, Never>?
    /// The current wait's time-out, cancelled when a ring ends the wait first.
    private var timer: Task<Void, Never>?
    private var generation = 0

    func ring() {
        let (waiter, timer): (CheckedContinuation<Void, Never>?, Task<Void, Never>?) = lock.withLock {
            guard let waiter = self.waiter else {
                rung = true
                return (nil, nil)
            }
            defer { (self.waiter, self.timer) = (nil, nil) }
            return (waiter, self.timer)
        }
        timer?.cancel()
        waiter?.resume()
    }

    /// Returns at the next ring (at once if one came since the last wait), or after `duration`.
    func wait(upTo duration: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let mine: Int? = lock.withLock {
                if rung {
                    rung = false
                    return nil
                }
                generation += 1
                waiter = continuation
                return generation
            }
            guard let mine else { return continuation.resume() }
            let timer = Task { [weak self] in
                try? await Task.sleep(for: duration)
                self?.timeOut(mine)
            }
            // A ring may have ended this wait already: then nobody else would cancel the timer.
            let ended = lock.withLock {
                guard generation == mine, waiter != nil else { return true }
                self.timer = timer
                return false
            }
            if ended { timer.cancel() }
        }
    }

    private func timeOut(_ generation: Int) {
        let waiter: CheckedContinuation<Void, Never>? = lock.withLock {
            guard generation == self.generation, let waiter = self.waiter else { return nil }
            (self.waiter, self.timer) = (nil, nil)
            return waiter
        }
        waiter?.resume()
    }
}

/// Set once from the shutdown handler, read by the loop.
final class StopFlag: Sendable {
    private let value = LockedBool()
    var isSet: Bool { value.get() }
    func set() { value.set(true) }
}

final class LockedBool: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func get() -> Bool { lock.withLock { value } }
    func set(_ new: Bool) { lock.withLock { value = new } }
}
