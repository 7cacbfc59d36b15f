import Delivery
import Foundation
import Logging
import PostgresStore
import RelayConfig
import RelayStatus
import RelayStore
import ServiceLifecycle
import Submission

/// The store a running relay works on, as the app needs it: the store API, the durable intake, the
/// spool that receives bodies before they are committed, and what the store needs running.
/// SQLite in `data.dir` (one relay), or PostgreSQL at `store.url` (relays that share it).
public struct RelayStorage: Sendable {
    public let store: any RelayStoreAPI
    /// Makes a received message durable; built with the relay's metrics (SQLite's group committer
    /// counts its batches).
    let makeIntake: @Sendable (any IntakeMetrics) -> any MessageIntake
    /// Receives DATA; bodies past the in-memory limit spill to a file here until committed.
    public let spool: Spool
    /// Long-running parts of the store (PostgreSQL: the connection pool, the heartbeat). They start
    /// before the rest of the relay and stop after it.
    let services: [any Service]
    /// At server start, before listening: what a crash of this relay left behind is put right.
    let recover: @Sendable (Logger) async throws -> Void
    /// Where the store is, for the start-up log line.
    let description: String
    /// The relays sharing the store, for the status page; nil when the store is this relay's own.
    let fleet: StatusReporter.Fleet?
    /// Where the relays sharing the store share access tokens (one refresh per account for the fleet);
    /// nil for SQLite, whose one relay shares a refresh in memory.
    var sharedTokens: (any SharedAccessTokens)? = nil

    /// The SQLite store in the data directory.
    public static func sqlite(_ store: RelayStore) -> RelayStorage {
        RelayStorage(
            store: store,
            makeIntake: { metrics in
                // The spool directory is synced once per commit batch, not once per message.
                GroupCommitter(store: store, syncsSpoolDirectory: true) { metrics.acceptBatchCommitted(messages: $0) }
            },
            spool: store.spool, services: [],
            recover: { logger in
                // Half-received files, "sending" rows whose attempt was cut off, bodies nobody references
                // (the last is housekeeping: a failure is said, and the relay starts anyway).
                _ = store.spool.cleanIncoming()
                _ = try await store.requeueInterrupted()
                do {
                    _ = try store.removeOrphanSpoolFiles()
                } catch {
                    logger.warning("could not remove unreferenced spool files", metadata: ["error": "\(error)"])
                }
            },
            description: "SQLite \(store.databasePath)", fleet: nil)
    }

    /// The PostgreSQL store at `store.url`, shared with other relays: migrated (under the migrator's lock)
    /// and connected before the relay listens. Bodies still arrive in a spool in `data.dir`, but only
    /// until their message is committed: after the 250 the mail is in the database alone.
    static func postgres(_ configuration: RelayConfiguration, location: PostgresLocation, logger: Logger) async throws -> RelayStorage {
        // postgres-nio says every failed connection attempt at info (one a second while the database is
        // away); the relay says the outage itself (heartbeat, SMTP, page), so the pool speaks from warning
        // on unless the operator asked for debug.
        var storeLogger = logger
        if storeLogger.logLevel > .debug { storeLogger.logLevel = max(storeLogger.logLevel, .warning) }
        let (store, pool) = try await connectPostgres(configuration, location: location, migrationLogger: logger,
                                                      storeLogger: storeLogger)
        let spool = try RelayStore.privateSpool(in: configuration.dataDirectory)
        return RelayStorage(
            store: store, makeIntake: { _ in store }, spool: spool,
            services: [SharedStoreService(store: store, pool: pool, interval: store.lease / 3, logger: logger)],
            recover: { _ in
                _ = spool.cleanIncoming()
                // Only this relay's own interrupted sends: the others' belong to relays that are alive,
                // or come back through their expired leases.
                _ = try await store.requeueInterrupted()
                try await store.heartbeat()
            },
            description: "PostgreSQL \(location) as relay \(store.relayName)",
            fleet: fleet(of: store), sharedTokens: store)
    }

    /// The shared store as `serve` and every command open it: the schema brought to this binary's version
    /// (a newer one refused), data.dir made private (it holds the key file unless
    /// GMAIL_RELAY_SECRET_KEY_FILE names another, and the receiving spool), and the connection pool
    /// running, so the first query need not wait for it.
    static func connectPostgres(
        _ configuration: RelayConfiguration, location: PostgresLocation, migrationLogger: Logger, storeLogger: Logger,
        maximumConnections: Int = 10
    ) async throws -> (store: PostgresRelayStore, pool: Task<Void, Never>) {
        let settings = PostgresSettings(location: location, relayName: configuration.store.relayName)
        _ = try await PostgresMigrator.migrate(settings, logger: migrationLogger)
        _ = try RelayStore.privateSpool(in: configuration.dataDirectory)
        let store = PostgresRelayStore(settings: settings, options: .init(
            secretKeyFile: configuration.secretKeyFile ?? configuration.dataDirectory + "/secret.key",
            lease: .seconds(configuration.store.leaseSeconds), maximumConnections: maximumConnections, logger: storeLogger))
        return (store, Task { await store.run() })
    }

    /// The intake of a store opened for a command: SQLite's group committer, or the store itself.
    static func intake(for store: any RelayStoreAPI) -> any MessageIntake {
        if let sqlite = store as? RelayStore { return GroupCommitter(store: sqlite) }
        if let intake = store as? any MessageIntake { return intake }
        preconditionFailure("a store API without an intake: \(type(of: store))")
    }

    /// The relays sharing a PostgreSQL store; nil for SQLite. A relay is gone once its leases could have
    /// run out: the others may then take its mail.
    static func fleet(of store: any RelayStoreAPI) -> StatusReporter.Fleet? {
        guard let shared = store as? PostgresRelayStore else { return nil }
        return StatusReporter.Fleet(relays: { try await shared.relays() }, goneAfter: TimeInterval(shared.lease.components.seconds))
    }
}

/// The shared store's life in the relay: a heartbeat every third of the lease (which also renews the
/// leases of the messages this relay is sending), and the connection pool, stopped after everything
/// else (it is the first service of the group, so the last stopped).
struct SharedStoreService: Service {
    let store: PostgresRelayStore
    let pool: Task<Void, Never>
    let interval: Duration
    let logger: Logger

    func run() async throws {
        defer { pool.cancel() }
        var failing = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await store.heartbeat()
                if failing { logger.notice("PostgreSQL store heartbeat works again") }
                failing = false
            } catch {
                // Said once per outage, not every beat: the page and the SMTP replies say the rest.
                if !failing { logger.error("PostgreSQL store heartbeat failed", metadata: ["error": "\(error)"]) }
                failing = true
            }
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Shares the per-account limits (`delivery.account_concurrency`, `delivery.sends_per_minute`) out over
/// the relays that are up, so the fleet as a whole keeps them: read every third of the lease (when the
/// relay list can change), and kept as it was while the store cannot be read.
struct FleetShareService: Service {
    let fleet: StatusReporter.Fleet
    let lanes: DeliveryLanes
    let logger: Logger

    func run() async throws {
        let interval = Duration.seconds(max(1, fleet.goneAfter / 3))
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let relays = try? await fleet.relays() {
                let now = Date()
                let up = relays.filter { RelayStatus($0, now: now, goneAfter: fleet.goneAfter).state == .up }.count
                let before = await lanes.fleetSize
                await lanes.setFleetSize(up)
                if up != before {
                    logger.info("fleet size changed: per-account limits shared out again", metadata: ["relays.up": "\(max(1, up))"])
                }
            }
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
