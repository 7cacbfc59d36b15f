import Foundation
import Logging
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
            description: "SQLite \(store.databasePath)")
    }
}
