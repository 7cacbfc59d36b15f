import Foundation
import Logging
import RelayStore
import ServiceLifecycle

/// Deletes finished messages (rows, attempts, events, body files) older than `log.retention_days`, and
/// spool files no row refers to. Runs at start and then every `interval`.
public struct RetentionService: PeriodicService {
    let store: any MessageStore
    let retention: TimeInterval
    public let interval: Duration
    let logger: Logger

    public init(store: any MessageStore, retentionDays: Int, interval: Duration = .seconds(3600), logger: Logger) {
        self.store = store
        self.retention = TimeInterval(retentionDays) * 86_400
        self.interval = interval
        self.logger = logger
    }

    public func runOnce() async {
        do {
            let result = try await store.purge(before: Date().addingTimeInterval(-retention))
            let orphans = try await store.removeOrphanSpoolFiles(minimumAge: 60)
            if result.messagesRemoved > 0 || orphans > 0 {
                logger.info("send log pruned", metadata: [
                    "messages": "\(result.messagesRemoved)", "spool.files": "\(result.spoolFilesRemoved + orphans)",
                ])
            }
        } catch {
            logger.error("send log pruning failed", metadata: ["error": "\(error)"])
        }
    }
}
