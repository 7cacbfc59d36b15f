import Foundation
import Logging
import NIOCore
import PostgresNIO
import PostgresTestSupport
import RelayVocabulary
import Testing

@testable import PostgresStore
@testable import RelayConfig

/// A clock a test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    func now() -> Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
}

/// The queue core against a real PostgreSQL: each test migrates a database of its own and runs one
/// or two relays' queues on it.
@Suite struct QueueTests {
    let logger = TestCluster.logger

    /// Queues for the named relays on one fresh, migrated database, each with its own clock.
    private func withQueues<T: Sendable>(
        _ names: [String], _ body: ([PostgresQueue], [TestClock], PostgresLocation) async throws -> T
    ) async throws -> T {
        try await TestCluster.withFreshDatabase { settings in
            _ = try await PostgresMigrator.migrate(settings, logger: logger)
            let clocks = names.map { _ in TestClock() }
            let queues = zip(names, clocks).map { name, clock in
                PostgresQueue(settings: PostgresSettings(location: settings.location, relayName: name), maximumConnections: 4,
                              logger: logger, clock: { clock.now() })
            }
            return try await withThrowingTaskGroup(of: T?.self) { group in
                for queue in queues { group.addTask { await queue.run(); return nil } }
                let result = try await body(queues, clocks, settings.location)
                group.cancelAll()
                return result
            }
        }
    }

    private func message(_ n: Int = 0) -> PostgresQueue.NewMessage {
        .init(account: "main", peer: "127.0.0.1:5000", tls: true, mailFrom: "site@example.com",
              recipients: ["a\(n)@example.com", "b@example.com"], subject: "Test \(n)")
    }

    /// A body given in pieces of odd sizes, as SMTP hands it over.
    private func pieces(_ bytes: [UInt8], size: Int = 10_007) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + size, bytes.count)
                continuation.yield(ByteBuffer(bytes: bytes[offset..<end]))
                offset = end
            }
            continuation.finish()
        }
    }

    private func readAll(_ body: PostgresQueue.MessageBody) async throws -> (bytes: [UInt8], chunks: [Int]) {
        var bytes: [UInt8] = []
        var chunks: [Int] = []
        for try await chunk in body {
            chunks.append(chunk.readableBytes)
            bytes += chunk.readableBytesView
        }
        return (bytes, chunks)
    }

    private func scalar(_ location: PostgresLocation, _ sql: String) async throws -> Int64 {
        try await TestCluster.withConnection(location) { connection in
            var value: Int64 = -1
            for try await (v) in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64.self) { value = v }
            return value
        }
    }

    @Test func bodiesGoInAndComeBackInChunks() async throws {
        try await withQueues(["relay-a"]) { queues, _, location in
            let queue = queues[0]
            var generator = SystemRandomNumberGenerator()
            let chunk = PostgresQueue.chunkSize
            for length in [0, 1, chunk - 1, chunk, chunk + 1, 4 * chunk + 12_345] {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let id = try await queue.acceptMessage(message(length), body: pieces(bytes))
                let back = try await readAll(queue.messageBody(id))
                #expect(back.bytes == bytes, "length \(length)")
                #expect(back.chunks.allSatisfy { $0 <= chunk && $0 > 0 })
                #expect(back.chunks.count == (length + chunk - 1) / chunk)
                #expect(try await scalar(location, "SELECT size FROM messages WHERE id = \(id)") == Int64(length))
                #expect(try await scalar(location, "SELECT count(*) FROM messages WHERE id = \(id) AND status = 'queued' AND accepted_by = 'relay-a'") == 1)
            }
        }
    }

    @Test func aFailedBodyLeavesNothing() async throws {
        struct ClientWentAway: Error {}
        try await withQueues(["relay-a"]) { queues, _, location in
            let failing = AsyncThrowingStream<ByteBuffer, any Error> { continuation in
                continuation.yield(ByteBuffer(repeating: 0x41, count: PostgresQueue.chunkSize * 2 + 5))
                continuation.finish(throwing: ClientWentAway())
            }
            await #expect(throws: (any Error).self) {
                try await queues[0].acceptMessage(message(), body: failing)
            }
            let messages = try await scalar(location, "SELECT count(*) FROM messages")
            let chunks = try await scalar(location, "SELECT count(*) FROM message_chunks")
            #expect(messages == 0)
            #expect(chunks == 0)
        }
    }

    @Test func damagedBodiesAreRefused() async throws {
        try await withQueues(["relay-a"]) { queues, _, location in
            let bytes = [UInt8](repeating: 7, count: PostgresQueue.chunkSize * 3)
            let id = try await queues[0].acceptMessage(message(), body: pieces(bytes))
            try await TestCluster.admin(location, "DELETE FROM message_chunks WHERE message_id = \(id) AND seq = 1")
            let error = await #expect(throws: PostgresStoreError.self) { _ = try await readAll(queues[0].messageBody(id)) }
            #expect(error == .corruptBody(messageID: id, reason: "chunk 1 is missing"))
            try await TestCluster.admin(location, "UPDATE messages SET size = 5 WHERE id = \(id)")
            try await TestCluster.admin(location, "DELETE FROM message_chunks WHERE message_id = \(id) AND seq = 2")
            let sizeError = await #expect(throws: PostgresStoreError.self) { _ = try await readAll(queues[0].messageBody(id)) }
            #expect(sizeError == .corruptBody(messageID: id, reason: "the chunks hold \(PostgresQueue.chunkSize) bytes, the message row says 5"))
            let missing = await #expect(throws: PostgresStoreError.self) { _ = try await readAll(queues[0].messageBody(9999)) }
            #expect(missing == .corruptBody(messageID: 9999, reason: "no such message"))
        }
    }

    /// Two relays claiming at the same time never get the same message, and between them get all.
    @Test func relaysClaimDisjointSets() async throws {
        try await withQueues(["relay-a", "relay-b"]) { queues, _, location in
            for n in 0..<40 { _ = try await queues[0].acceptMessage(message(n), body: pieces([1, 2, 3])) }
            let claimed = try await withThrowingTaskGroup(of: [(String, Int64)].self) { group in
                for queue in queues {
                    group.addTask {
                        var mine: [(String, Int64)] = []
                        while true {
                            let batch = try await queue.claimDue(limit: 3, lease: .seconds(60))
                            if batch.isEmpty { return mine }
                            mine += batch.map { (queue.relayName, $0.id) }
                        }
                    }
                }
                var all: [(String, Int64)] = []
                for try await part in group { all += part }
                return all
            }
            let ids = claimed.map(\.1)
            #expect(ids.count == 40)
            #expect(Set(ids).count == 40)
            for (relay, id) in claimed {
                #expect(try await scalar(location, "SELECT count(*) FROM messages WHERE id = \(id) AND status = 'sending' AND lease_owner = '\(relay)'") == 1)
            }
            #expect(try await queues[0].claimDue(limit: 10, lease: .seconds(60)).isEmpty)
        }
    }

    @Test func onlyDueMessagesAreClaimed() async throws {
        try await withQueues(["relay-a"]) { queues, clocks, _ in
            var later = message()
            later.notBefore = clocks[0].now() + 300
            let laterID = try await queues[0].acceptMessage(later, body: pieces([1]))
            let nowID = try await queues[0].acceptMessage(message(), body: pieces([1]))
            #expect(try await queues[0].claimDue(limit: 10, lease: .seconds(30)).map(\.id) == [nowID])
            #expect(try await queues[0].finishClaim(messageID: nowID, status: .sent))  // else its lease would run out too
            clocks[0].advance(301)
            let claimed = try await queues[0].claimDue(limit: 10, lease: .seconds(30))
            #expect(claimed.map(\.id) == [laterID])
            #expect(claimed.first?.takenOverFrom == nil)
        }
    }

    /// A relay that stops renewing (it died) loses its messages to another relay once the lease ends;
    /// its late outcome is then refused, and the new owner's stands.
    @Test func anExpiredLeaseLetsAnotherRelayTakeOver() async throws {
        try await withQueues(["relay-a", "relay-b"]) { queues, clocks, location in
            let (a, b) = (queues[0], queues[1])
            let id = try await a.acceptMessage(message(), body: pieces([1, 2]))
            let first = try await a.claimDue(limit: 10, lease: .seconds(30))
            #expect(first.map(\.id) == [id])
            #expect(first.first?.leaseUntil == clocks[0].now() + 30)

            // Within the lease: b finds nothing, a may renew.
            clocks[1].advance(20)
            #expect(try await b.claimDue(limit: 10, lease: .seconds(30)).isEmpty)
            clocks[0].advance(20)
            #expect(try await a.renewLease(messageID: id, lease: .seconds(30)))  // now until +50

            // b's clock past a's renewed lease: b takes it over and says from whom.
            clocks[1].advance(31)
            let taken = try await b.claimDue(limit: 10, lease: .seconds(30))
            #expect(taken.map(\.id) == [id])
            #expect(taken.first?.takenOverFrom == "relay-a")

            #expect(try await a.renewLease(messageID: id, lease: .seconds(30)) == false)
            #expect(try await a.finishClaim(messageID: id, status: .sent, gmailID: "late") == false)
            #expect(try await b.finishClaim(messageID: id, status: .sent, gmailID: "gm-1"))
            #expect(try await scalar(location, "SELECT count(*) FROM messages WHERE id = \(id) AND status = 'sent' AND gmail_id = 'gm-1' AND lease_owner IS NULL AND attempts = 1") == 1)
            #expect(try await b.claimDue(limit: 10, lease: .seconds(30)).isEmpty)
        }
    }

    @Test func aRetryIsDueAgainLater() async throws {
        try await withQueues(["relay-a"]) { queues, clocks, _ in
            let queue = queues[0]
            let id = try await queue.acceptMessage(message(), body: pieces([1]))
            _ = try await queue.claimDue(limit: 1, lease: .seconds(30))
            #expect(try await queue.finishClaim(messageID: id, status: .queued, nextAttempt: clocks[0].now() + 60))
            #expect(try await queue.claimDue(limit: 1, lease: .seconds(30)).isEmpty)
            clocks[0].advance(61)
            #expect(try await queue.claimDue(limit: 1, lease: .seconds(30)).map(\.attempts) == [1])
            await #expect(throws: PostgresStoreError.self) { try await queue.finishClaim(messageID: id, status: .sending) }
        }
    }

    @Test func heartbeats() async throws {
        try await withQueues(["relay-a"]) { queues, clocks, location in
            let started = Int64(clocks[0].now().timeIntervalSince1970 * 1000)
            try await queues[0].heartbeat()
            clocks[0].advance(15)
            try await queues[0].heartbeat()
            #expect(try await scalar(location, "SELECT started_at FROM relays WHERE name = 'relay-a'") == started)
            #expect(try await scalar(location, "SELECT last_seen FROM relays WHERE name = 'relay-a'") == started + 15_000)
        }
    }
}
