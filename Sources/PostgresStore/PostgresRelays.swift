import Foundation
import PostgresNIO

// The relays sharing the database: heartbeats, and the leases they keep alive.

extension PostgresRelayStore {
    /// Records that this relay is alive and renews, in the same transaction, the lease of every message
    /// it holds in `sending` (one statement, so no per-message renewal). Call it every lease / 3 or so.
    /// Returns how many leases were renewed.
    @discardableResult
    public func heartbeat() async throws -> Int {
        let now = nowMillis
        let until = now + leaseMillis
        return try await write { [self] db in
            try await db.run("""
                INSERT INTO relays (name, started_at, last_seen) VALUES (\(relayName), \(startedAt), \(now))
                ON CONFLICT (name) DO UPDATE SET started_at = EXCLUDED.started_at, last_seen = EXCLUDED.last_seen
                """)
            return try await db.run("""
                UPDATE messages SET lease_until = \(until) WHERE status = 'sending' AND lease_owner = \(relayName) RETURNING id
                """)
        }
    }

    /// Every relay that ever beat, by name, with the messages each holds in `sending` now.
    public func relays() async throws -> [RelayRecord] {
        try await read { [self] db in
            try await db.rows("""
                SELECT r.name, r.started_at, r.last_seen,
                    (SELECT count(*) FROM messages m WHERE m.status = 'sending' AND m.lease_owner = r.name) AS claimed
                FROM relays r ORDER BY r.name
                """).map { row in
                RelayRecord(name: try row.get("name"), startedAt: try row.date("started_at"), lastSeen: try row.date("last_seen"),
                            claimed: try row.get("claimed"))
            }
        }
    }

    /// Messages taken over from a relay whose lease ran out, in all (each a send that may have gone out twice).
    public func takeoverCount() async throws -> Int {
        try await read { [self] db in try await db.value("SELECT coalesce(sum(takeovers), 0)::BIGINT FROM messages") ?? 0 }
    }
}
