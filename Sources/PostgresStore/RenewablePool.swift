import Foundation
import Logging
import PostgresNIO

/// postgres-nio's connection pool, renewed when the database answers again but the pool still refuses.
///
/// Why: after failed connection attempts the pool waits 100 ms x 1.25^n before the next one, up to 60 s,
/// and meanwhile fails every request at once. After a database outage of a minute or more it can take
/// another minute to notice the database is back, and every second of it is a 451 to every CMS (and
/// PHPMailer does not try again: that mail is lost to the site). So while the store sees connection
/// trouble, a plain connection (no pool) probes the database every `probeInterval`; once it answers and
/// the pool still cannot run a `SELECT 1` within a second, a fresh pool replaces it. The old pool is shut
/// down after `retireAfter` (operations already running on it end first: they are bounded).
final class RenewablePool: Sendable {
    private struct State {
        var client: PostgresClient
        var runs: [Task<Void, Never>] = []
        /// Since when operations fail with connection trouble; nil while they work.
        var troubleSince: ContinuousClock.Instant?
        var renewals = 0
    }

    private let settings: PostgresSettings
    private let maximumConnections: Int
    private let logger: Logger
    let probeInterval: Duration
    let retireAfter: Duration
    private let state: LockedValue<State>

    init(settings: PostgresSettings, maximumConnections: Int, logger: Logger,
         probeInterval: Duration = .seconds(2), retireAfter: Duration = .seconds(30)) {
        self.settings = settings
        self.maximumConnections = maximumConnections
        self.logger = logger
        self.probeInterval = probeInterval
        self.retireAfter = retireAfter
        let client = PostgresClient(configuration: settings.clientConfiguration(maximumConnections: maximumConnections),
                                    backgroundLogger: logger)
        self.state = LockedValue(State(client: client))
    }

    /// The pool operations use now.
    var client: PostgresClient { state.withLock { $0.client } }

    /// How many times the pool was renewed (tests, and the log).
    var renewals: Int { state.withLock { $0.renewals } }

    /// Drives the pool (and its successors) and the probe until the task is cancelled.
    func run() async {
        let first = client
        state.withLock { $0.runs.append(Task { await first.run() }) }
        while (try? await Task.sleep(for: probeInterval)) != nil {
            await renewIfStuck()
        }
        let runs = state.withLock { $0.runs }
        for run in runs { run.cancel() }
        for run in runs { await run.value }
    }

    /// An operation failed: connection trouble starts the probe; anything else (a statement the server
    /// refused) says the connection works.
    func noteFailure(_ error: any Error) {
        if Self.isConnectionTrouble(error) {
            state.withLock { $0.troubleSince = $0.troubleSince ?? .now }
        } else {
            noteSuccess()
        }
    }

    func noteSuccess() {
        state.withLock { $0.troubleSince = nil }
    }

    static func isConnectionTrouble(_ error: any Error) -> Bool {
        if let transaction = error as? PostgresTransactionError {
            guard let inner = transaction.beginError ?? transaction.commitError ?? transaction.closureError else { return false }
            return isConnectionTrouble(inner)
        }
        if let store = error as? PostgresStoreError {
            if case .noAnswer = store { return true }
            return false
        }
        if let psql = error as? PSQLError { return psql.code != .server }
        return PostgresStoreError.isPoolError(error)
    }

    private func renewIfStuck() async {
        guard let since = state.withLock({ $0.troubleSince }), ContinuousClock.now - since >= probeInterval else { return }
        guard await databaseAnswers(), await !poolAnswers() else { return }
        let fresh = PostgresClient(configuration: settings.clientConfiguration(maximumConnections: maximumConnections),
                                   backgroundLogger: logger)
        let retiring = state.withLock { state -> Task<Void, Never>? in
            state.client = fresh
            state.troubleSince = nil
            state.renewals += 1
            state.runs.append(Task { await fresh.run() })
            return state.runs.count > 1 ? state.runs[state.runs.count - 2] : nil
        }
        logger.notice("the PostgreSQL store answers again: connection pool renewed (the old one kept waiting between attempts)")
        if let retiring {
            let delay = retireAfter
            Task {
                try? await Task.sleep(for: delay)
                retiring.cancel()
            }
        }
    }

    /// A connection of its own, not the pool's, so the pool's back-off does not apply.
    private func databaseAnswers() async -> Bool {
        do {
            return try await PostgresMigrator.withConnection(settings, logger: logger) { connection in
                try await connection.query("SELECT 1", logger: logger).collect().count == 1
            }
        } catch {
            return false
        }
    }

    /// Whether the pool in use runs a `SELECT 1` within a second. The check is left running past that
    /// (it is not awaited: a lease the pool holds back, or a statement on a dead connection, must not hold
    /// up the probe).
    private func poolAnswers() async -> Bool {
        let client = self.client
        let logger = self.logger
        let answered = LockedValue(false)
        let check = Task {
            let ok = (try? await client.withConnection { try await $0.query("SELECT 1", logger: logger).collect().count == 1 }) ?? false
            answered.withLock { $0 = ok }
        }
        try? await Task.sleep(for: .seconds(1))
        check.cancel()
        return answered.withLock { $0 }
    }
}
