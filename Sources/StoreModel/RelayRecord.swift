import Foundation

/// One relay sharing a PostgreSQL store, as its heartbeats left it (the status page's relay list).
public struct RelayRecord: Sendable, Equatable {
    public var name: String
    /// When the relay process (its store) started.
    public var startedAt: Date
    /// Its last heartbeat.
    public var lastSeen: Date
    /// Messages it holds in `sending` now.
    public var claimed: Int

    public init(name: String, startedAt: Date, lastSeen: Date, claimed: Int) {
        self.name = name
        self.startedAt = startedAt
        self.lastSeen = lastSeen
        self.claimed = claimed
    }
}
