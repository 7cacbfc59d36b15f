import Foundation
import Logging
import NIOCore
import PostgresNIO
import RelayVocabulary

/// The message queue on PostgreSQL, for relays that share one database: accepting a message with its
/// body in the database, claiming due messages with a lease, reading a body back as a stream.
///
/// Method names follow RelayStore's; they become its store protocol's implementation once that exists.
/// Run `run()` in a long-lived task (or as a Service): it drives the connection pool.
public final class PostgresQueue: Sendable {
    /// Bodies are stored in rows of this many bytes: a 35 MB message is ~140 rows, and neither a write
    /// nor a read holds more than about two chunks in memory.
    public static let chunkSize = 256 * 1024

    public let relayName: String
    let client: PostgresClient
    let logger: Logger
    let clock: @Sendable () -> Date

    public init(
        settings: PostgresSettings, maximumConnections: Int = 10, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.relayName = settings.relayName
        self.client = PostgresClient(
            configuration: settings.clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: logger)
        self.logger = logger
        self.clock = clock
    }

    /// Drives the connection pool until the task is cancelled.
    public func run() async {
        await client.run()
    }

    var nowMillis: Int64 { Int64((clock().timeIntervalSince1970 * 1000).rounded()) }

    // MARK: Relays

    /// Records that this relay is alive: `started_at` on the first beat, `last_seen` on every one.
    public func heartbeat() async throws {
        let now = nowMillis
        try await run {
            try await client.query(
                """
                INSERT INTO relays (name, started_at, last_seen) VALUES (\(relayName), \(now), \(now))
                ON CONFLICT (name) DO UPDATE SET last_seen = EXCLUDED.last_seen
                """, logger: logger)
        }
    }

    // MARK: Accepting

    /// What SMTP knows about a message when its DATA ends.
    public struct NewMessage: Sendable {
        public var account: String
        public var accountID: Int64?
        public var credentialUsername: String?
        public var peer: String
        public var tls: Bool
        public var mailFrom: String
        public var recipients: [String]
        public var subject: String?
        public var messageID: String?
        public var sandbox: Bool
        /// nil: due at once.
        public var notBefore: Date?

        public init(
            account: String, accountID: Int64? = nil, credentialUsername: String? = nil, peer: String, tls: Bool,
            mailFrom: String, recipients: [String], subject: String? = nil, messageID: String? = nil,
            sandbox: Bool = false, notBefore: Date? = nil
        ) {
            self.account = account
            self.accountID = accountID
            self.credentialUsername = credentialUsername
            self.peer = peer
            self.tls = tls
            self.mailFrom = mailFrom
            self.recipients = recipients
            self.subject = subject
            self.messageID = messageID
            self.sandbox = sandbox
            self.notBefore = notBefore
        }
    }

    /// Stores a message and its body in one transaction and returns its id. The id exists only once the
    /// commit succeeded, so a 250 given after this returns is for mail on the database; a body sequence
    /// that fails (the client went away mid-DATA) leaves no row and no chunk behind.
    public func acceptMessage<Body: AsyncSequence>(_ message: NewMessage, body: Body) async throws -> Int64
    where Body.Element == ByteBuffer {
        let now = nowMillis
        let recipients = String(decoding: try JSONEncoder().encode(message.recipients), as: UTF8.self)
        let due = message.notBefore.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) } ?? now
        let relayName = relayName
        let logger = logger
        return try await run {
            try await client.withTransaction(logger: logger) { connection in
                let inserted = try await connection.query(
                    """
                    INSERT INTO messages (status, account, account_id, credential_username, peer, tls, mail_from, recipients,
                        subject, message_id, size, sandbox, next_attempt_at, accepted_by, created_at, updated_at)
                    VALUES ('queued', \(message.account), \(message.accountID), \(message.credentialUsername), \(message.peer),
                        \(Int32(message.tls ? 1 : 0)), \(message.mailFrom), \(recipients), \(message.subject), \(message.messageID),
                        0, \(Int32(message.sandbox ? 1 : 0)), \(due), \(relayName), \(now), \(now))
                    RETURNING id
                    """, logger: logger)
                var id: Int64?
                for try await (value) in inserted.decode(Int64.self) { id = value }
                guard let id else { throw PostgresStoreError.query("INSERT INTO messages returned no id") }

                var pending = ByteBuffer()
                var seq: Int32 = 0
                var size: Int64 = 0
                func write(_ chunk: ByteBuffer) async throws {
                    try await connection.query(
                        "INSERT INTO message_chunks (message_id, seq, data) VALUES (\(id), \(seq), \(chunk))", logger: logger)
                    seq += 1
                    size += Int64(chunk.readableBytes)
                }
                for try await var piece in body {
                    pending.writeBuffer(&piece)
                    while pending.readableBytes >= Self.chunkSize {
                        try await write(pending.readSlice(length: Self.chunkSize)!)
                    }
                    pending.discardReadBytes()
                }
                if pending.readableBytes > 0 { try await write(pending) }
                try await connection.query("UPDATE messages SET size = \(size) WHERE id = \(id)", logger: logger)
                return id
            }
        }
    }

    // MARK: Claiming

    /// A message this relay now holds the lease on.
    public struct ClaimedMessage: Sendable, Equatable {
        public var id: Int64
        public var account: String
        public var size: Int64
        public var attempts: Int
        /// The relay whose lease had run out when this one took the message over (it died or hung while
        /// sending: the send may have gone out, so a duplicate is possible and worth counting); nil for
        /// a message that was simply due.
        public var takenOverFrom: String?
        public var leaseUntil: Date
    }

    /// Claims up to `limit` due messages for this relay until now + `lease`: queued ones whose time has
    /// come, and ones whose lease expired. `FOR UPDATE SKIP LOCKED` lets relays claim at the same time
    /// without waiting on each other or claiming the same row.
    public func claimDue(limit: Int, lease: Duration) async throws -> [ClaimedMessage] {
        let now = nowMillis
        let until = now + lease.milliseconds
        let limit = Int64(max(0, min(limit, 10_000)))
        return try await run {
            let rows = try await client.query(
                """
                WITH due AS (
                    SELECT id, lease_owner AS previous_owner FROM messages
                    WHERE (status = 'queued' AND lease_owner IS NULL AND coalesce(next_attempt_at, 0) <= \(now))
                       OR (status = 'sending' AND lease_until < \(now))
                    ORDER BY id
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE messages m
                SET status = 'sending', lease_owner = \(relayName), lease_until = \(until), updated_at = \(now)
                FROM due WHERE m.id = due.id
                RETURNING m.id, m.account, m.size, m.attempts, due.previous_owner
                """, logger: logger)
            var claimed: [ClaimedMessage] = []
            for try await (id, account, size, attempts, previous) in rows.decode((Int64, String, Int64, Int32, String?).self) {
                claimed.append(ClaimedMessage(
                    id: id, account: account, size: size, attempts: Int(attempts), takenOverFrom: previous,
                    leaseUntil: Date(timeIntervalSince1970: Double(until) / 1000)))
            }
            return claimed.sorted { $0.id < $1.id }
        }
    }

    /// Extends this relay's lease on a message it is still sending. false: the lease was lost (it ran
    /// out and another relay took the message), so this relay must not record an outcome for it.
    public func renewLease(messageID: Int64, lease: Duration) async throws -> Bool {
        let now = nowMillis
        return try await run {
            let rows = try await client.query(
                """
                UPDATE messages SET lease_until = \(now + lease.milliseconds), updated_at = \(now)
                WHERE id = \(messageID) AND status = 'sending' AND lease_owner = \(relayName)
                RETURNING id
                """, logger: logger)
            var found = false
            for try await _ in rows { found = true }
            return found
        }
    }

    /// Ends this relay's claim with the message's new state (`sent`, `queued` for a retry at `nextAttempt`,
    /// `held`, `failed`). false when the lease was lost meanwhile: the other relay's outcome stands.
    public func finishClaim(messageID: Int64, status: MessageStatus, nextAttempt: Date? = nil, gmailID: String? = nil) async throws -> Bool {
        guard [.sent, .queued, .held, .failed].contains(status) else {
            throw PostgresStoreError.query("finishClaim: \(status.rawValue) is not an outcome")
        }
        let statusText = status.rawValue
        let now = nowMillis
        let next = nextAttempt.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
        return try await run {
            let rows = try await client.query(
                """
                UPDATE messages SET status = \(statusText), next_attempt_at = \(next), gmail_id = coalesce(\(gmailID), gmail_id),
                    attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, updated_at = \(now)
                WHERE id = \(messageID) AND status = 'sending' AND lease_owner = \(relayName)
                RETURNING id
                """, logger: logger)
            var found = false
            for try await _ in rows { found = true }
            return found
        }
    }

    // MARK: Bodies

    /// The stored body, one chunk per element, each read from the database only when the consumer asks
    /// for it: a 35 MB message is never whole in memory, and a slow consumer slows the reads. A missing
    /// chunk or a size that disagrees with the message row ends the sequence with `corruptBody` rather
    /// than handing Gmail a truncated message.
    public func messageBody(_ messageID: Int64) -> MessageBody {
        MessageBody(client: client, messageID: messageID, logger: logger)
    }

    public struct MessageBody: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        let client: PostgresClient
        let messageID: Int64
        let logger: Logger

        public func makeAsyncIterator() -> Iterator {
            Iterator(body: self)
        }

        public struct Iterator: AsyncIteratorProtocol {
            let body: MessageBody
            var expected: (size: Int64, chunks: Int32)?
            var seq: Int32 = 0
            var total: Int64 = 0

            init(body: MessageBody) {
                self.body = body
            }

            public mutating func next() async throws -> ByteBuffer? {
                do {
                    return try await nextChunk()
                } catch {
                    throw PostgresStoreError.wrapping(error)
                }
            }

            private mutating func nextChunk() async throws -> ByteBuffer? {
                let id = body.messageID
                if expected == nil {
                    let rows = try await body.client.query(
                        """
                        SELECT m.size, count(c.seq) FROM messages m LEFT JOIN message_chunks c ON c.message_id = m.id
                        WHERE m.id = \(id) GROUP BY m.size
                        """, logger: body.logger)
                    for try await (size, chunks) in rows.decode((Int64, Int64).self) { expected = (size, Int32(clamping: chunks)) }
                    guard expected != nil else { throw PostgresStoreError.corruptBody(messageID: id, reason: "no such message") }
                }
                guard let expected else { return nil }
                guard seq < expected.chunks else {
                    guard total == expected.size else {
                        throw PostgresStoreError.corruptBody(
                            messageID: id, reason: "the chunks hold \(total) bytes, the message row says \(expected.size)")
                    }
                    return nil
                }
                let rows = try await body.client.query(
                    "SELECT data FROM message_chunks WHERE message_id = \(id) AND seq = \(seq)", logger: body.logger)
                var chunk: ByteBuffer?
                for try await (data) in rows.decode(ByteBuffer.self) { chunk = data }
                guard let chunk else { throw PostgresStoreError.corruptBody(messageID: id, reason: "chunk \(seq) is missing") }
                seq += 1
                total += Int64(chunk.readableBytes)
                return chunk
            }
        }
    }

    /// Runs a database step; postgres-nio's errors become PostgresStoreError, which says why.
    private func run<T>(_ body: () async throws -> sending T) async throws -> sending T {
        do {
            return try await body()
        } catch {
            throw PostgresStoreError.wrapping(error)
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
