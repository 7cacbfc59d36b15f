import Foundation
import Logging
import PostgresNIO
import PostgresTestSupport
import RelayVocabulary
import Testing

@testable import PostgresStore
@testable import RelayConfig

/// What only the PostgreSQL store does (the behaviour it shares with SQLite is the contract suite's):
/// bodies in chunks, claims by several relays, leases, their renewal and takeover, requeueing one's own
/// messages only, a key file that cannot open another's secrets. Each test runs one or two relays'
/// stores on a fresh, migrated database of its own.
/// A clock a test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    func now() -> Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
}

@Suite struct RelayStoreOnPostgresTests {
    let logger = TestCluster.logger

    struct Relays: Sendable {
        let stores: [PostgresRelayStore]
        let clocks: [TestClock]
        let location: PostgresLocation
        let directory: String
        var a: PostgresRelayStore { stores[0] }
        var b: PostgresRelayStore { stores[1] }
    }

    /// Stores for the named relays on one fresh database, each with its own clock (all starting at the
    /// same instant) and by default the same key file.
    private func withRelays<T: Sendable>(
        _ names: [String] = ["relay-a", "relay-b"], keyFiles: [String]? = nil, lease: Duration = .seconds(90),
        operationTimeout: Duration = .seconds(15), _ body: (Relays) async throws -> T
    ) async throws -> T {
        let directory = NSTemporaryDirectory() + "pgstore-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await TestCluster.withFreshDatabase { settings in
            _ = try await PostgresMigrator.migrate(settings, logger: logger)
            let clocks = names.map { _ in TestClock() }
            let stores = names.indices.map { index in
                var options = PostgresRelayStore.Options(
                    secretKeyFile: directory + "/" + (keyFiles?[index] ?? "secret.key"), passwordHashing: .testing,
                    lease: lease, maximumConnections: 4, clock: { clocks[index].now() }, logger: logger)
                options.operationTimeout = operationTimeout
                return PostgresRelayStore(settings: PostgresSettings(location: settings.location, relayName: names[index]), options: options)
            }
            let relays = Relays(stores: stores, clocks: clocks, location: settings.location, directory: directory)
            return try await withThrowingTaskGroup(of: T?.self) { group in
                for store in stores { group.addTask { await store.run(); return nil } }
                let result = try await body(relays)
                group.cancelAll()
                return result
            }
        }
    }

    private func newMessage(_ n: Int = 0, body: [UInt8]? = nil, spoolPath: String? = nil, size: Int? = nil) -> NewMessage {
        let body = spoolPath == nil ? (body ?? Array("Subject: test \(n)\r\n\r\nhello \(n)\r\n".utf8)) : nil
        return NewMessage(
            account: "main", credentialUsername: nil, peer: "127.0.0.1:5000", tls: true, mailFrom: "site@example.com",
            recipients: ["to\(n)@example.com"], subject: "test \(n)", messageID: nil,
            size: Int64(size ?? body?.count ?? 0), spoolPath: spoolPath, inlineBody: body, sandbox: true)
    }

    private func scalar(_ location: PostgresLocation, _ sql: String) async throws -> Int64 {
        try await TestCluster.withConnection(location) { connection in
            var value: Int64 = -1
            for try await (v) in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Int64.self) { value = v }
            return value
        }
    }

    private func text(_ location: PostgresLocation, _ sql: String) async throws -> String? {
        try await TestCluster.withConnection(location) { connection in
            var value: String?
            for try await (v) in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String?.self) { value = v }
            return value
        }
    }

    /// The body through `bodyPieces`, and the size of each piece.
    private func readPieces(_ store: PostgresRelayStore, _ id: Int64) async throws -> (bytes: [UInt8], pieces: [Int]) {
        var bytes: [UInt8] = []
        var pieces: [Int] = []
        for try await piece in store.bodyPieces(messageID: id) {
            pieces.append(piece.count)
            bytes += piece
        }
        return (bytes, pieces)
    }

    /// A statement that outlives the bound does not hold its caller: postgres-nio does not cancel a
    /// running query, and a query on a connection the server dropped may never answer at all (the relay's
    /// stop hung on one after a database outage). The caller gets `noAnswer` at the bound and the store
    /// goes on serving.
    @Test func aStatementPastTheBoundDoesNotHoldItsCaller() async throws {
        try await withRelays(["relay-a"], operationTimeout: .seconds(1)) { relays in
            let store = relays.a
            let started = ContinuousClock.now
            let error = await #expect(throws: PostgresStoreError.self) {
                try await store.read { db in try await db.run("SELECT pg_sleep(6)") }
            }
            let waited = ContinuousClock.now - started
            #expect(error == .noAnswer(seconds: 1))
            #expect(waited < .seconds(4), "the caller waited \(waited) for a statement that takes 6 s")
            let accounts = try await store.accounts()
            #expect(accounts.isEmpty, "the store still answers")
        }
    }

    @Test func bodiesComeBackPieceByPieceAtEverySize() async throws {
        try await withRelays(["relay-a"]) { relays in
            let store = relays.a
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            let chunk = PostgresRelayStore.chunkSize
            for (n, length) in [0, 1, chunk - 1, chunk, chunk + 1, 4 * chunk + 12_345].enumerated() {
                var bytes = [UInt8](repeating: 0, count: length)
                for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 131 &+ n) }
                let path = relays.directory + "/body-\(n).eml"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let record = try await store.accept(newMessage(n, spoolPath: path, size: length))
                let back = try await readPieces(store, record.id)
                #expect(back.bytes == bytes, "length \(length)")
                #expect(back.pieces.allSatisfy { $0 <= chunk }, "length \(length): \(back.pieces)")
                #expect(back.pieces.count == max(1, (length + chunk - 1) / chunk), "length \(length): \(back.pieces)")
            }
        }
    }

    @Test func aDamagedBodyEndsWithAnErrorNeverShort() async throws {
        try await withRelays(["relay-a"]) { relays in
            let store = relays.a
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            let size = PostgresRelayStore.chunkSize * 3
            let path = relays.directory + "/damaged.eml"
            try Data(repeating: 7, count: size).write(to: URL(fileURLWithPath: path))
            let id = try await store.accept(newMessage(1, spoolPath: path, size: size)).id
            try await TestCluster.admin(relays.location, "DELETE FROM message_chunks WHERE message_id = \(id) AND seq = 1")
            let missing = await #expect(throws: PostgresStoreError.self) { _ = try await readPieces(store, id) }
            #expect(missing == .corruptBody(messageID: id, reason: "chunk 1 is missing"))
            try await TestCluster.admin(relays.location, "UPDATE messages SET size = 5 WHERE id = \(id)")
            try await TestCluster.admin(relays.location, "DELETE FROM message_chunks WHERE message_id = \(id) AND seq = 2")
            let short = await #expect(throws: PostgresStoreError.self) { _ = try await readPieces(store, id) }
            #expect(short == .corruptBody(messageID: id, reason: "the chunks hold \(PostgresRelayStore.chunkSize) bytes, the message row says 5"))
            let gone = await #expect(throws: PostgresStoreError.self) { _ = try await readPieces(store, 9999) }
            #expect(gone == .corruptBody(messageID: 9999, reason: "no such message"))
        }
    }

    private func sent(_ id: Int64) -> AttemptReport {
        AttemptReport(
            messageID: id, account: "main",
            attempts: [NewAttempt(messageID: id, startedAt: Date(timeIntervalSince1970: 1_800_000_000),
                                  finishedAt: Date(timeIntervalSince1970: 1_800_000_001), endpoint: "https://gmail.example/send",
                                  httpStatus: 200, responseBody: "{\"id\":\"g\(id)\"}", problemCode: nil, nextDelaySeconds: nil)],
            outcome: .sent(gmailID: "g\(id)"))
    }

    @Test func bodiesAreStoredInChunksAndTheSpoolFileGoesAfterTheCommit() async throws {
        try await withRelays(["relay-a"]) { relays in
            let store = relays.a
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)

            let small = Array("Subject: small\r\n\r\nhi\r\n".utf8)
            let inline = try await store.accept(newMessage(1, body: small))
            #expect(inline.spoolPath == nil)
            #expect(try await store.inlineBody(messageID: inline.id) == small)

            let empty = try await store.accept(newMessage(2, body: []))
            #expect(try await store.inlineBody(messageID: empty.id) == [], "an empty body is still a body")
            try await store.discard(id: empty.id)
            await #expect(throws: StoreError.invalidTransition(id: empty.id, from: .discarded, to: .queued)) {
                try await store.retry(id: empty.id)
            }
        }
    }

    @Test func aLargeSpoolFileIsStreamedIntoChunksAndDeletedAfterTheCommit() async throws {
        try await withRelays(["relay-a"]) { relays in
            let store = relays.a
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            // 1.3 MiB of varied bytes: six chunks, the last one partial.
            let size = 1_300_000
            var bytes = [UInt8](repeating: 0, count: size)
            for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
            let path = relays.directory + "/large.eml"
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let record = try await store.accept(newMessage(3, spoolPath: path, size: size))
            #expect(record.spoolPath == nil)
            #expect(!FileManager.default.fileExists(atPath: path), "the local copy goes once the body is in the database")
            #expect(try await store.message(id: record.id)?.spoolPath == nil)
            let chunks = try await scalar(relays.location, "SELECT count(*) FROM message_chunks WHERE message_id = \(record.id)")
            #expect(chunks == Int64((size + PostgresRelayStore.chunkSize - 1) / PostgresRelayStore.chunkSize))
            let body = try #require(try await store.inlineBody(messageID: record.id))
            #expect(body.count == size)
            #expect(body == bytes)
            #expect(try await readPieces(store, record.id).bytes == bytes, "the streaming reader agrees with the row's size")

            // purge deletes the chunks with their message.
            _ = try await store.claimDue(limit: 1, capacities: ["main": 1])
            try await store.finishAttempt(sent(record.id))
            relays.clocks[0].advance(10)
            #expect(try await store.purge(before: relays.clocks[0].now()).messagesRemoved == 1)
            #expect(try await scalar(relays.location, "SELECT count(*) FROM message_chunks") == 0)
        }
    }

    @Test func aSpoolFileThatCannotBeReadStoresNothing() async throws {
        try await withRelays(["relay-a"]) { relays in
            let store = relays.a
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            let missing = relays.directory + "/gone.eml"
            await #expect(throws: StoreError.fileError(path: missing, errno: ENOENT)) {
                try await store.accept(newMessage(4, spoolPath: missing, size: 10))
            }
            #expect(try await scalar(relays.location, "SELECT count(*) FROM messages") == 0, "the row went with the failed body")
        }
    }

    @Test func twoRelaysClaimingAtOnceNeverGetTheSameMessage() async throws {
        try await withRelays { relays in
            try await relays.a.addAccount(name: "main", kind: .sandbox, state: .ok)
            let total = 120
            for n in 0..<total { _ = try await relays.a.accept(newMessage(n)) }

            let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for store in relays.stores {
                    group.addTask {
                        var mine: [Int64] = []
                        while true {
                            let batch = try await store.claimDue(limit: 7, capacities: ["main": 7])
                            if batch.isEmpty { return mine }
                            #expect(batch.allSatisfy { $0.status == .sending })
                            mine += batch.map(\.id)
                            try await Task.sleep(for: .milliseconds(2))  // let the other relay in
                        }
                    }
                }
                var all: [[Int64]] = []
                for try await ids in group { all.append(ids) }
                return all
            }
            let ids = claimed.flatMap { $0 }
            #expect(ids.count == total)
            #expect(Set(ids).count == total, "no message claimed twice")
            let owned = try await scalar(relays.location, "SELECT count(*) FROM messages WHERE status = 'sending' AND lease_owner IS NOT NULL")
            #expect(owned == Int64(total))
            #expect(try await relays.a.relays().isEmpty, "no heartbeat yet")
        }
    }

    @Test func aClaimSkipsRowsAnotherTransactionHoldsInsteadOfWaiting() async throws {
        try await withRelays(["relay-a"]) { relays in
            let store = relays.a
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            var ids: [Int64] = []
            for n in 0..<5 { ids.append(try await store.accept(newMessage(n)).id) }
            // Another relay's claim in progress: its transaction holds the first three rows.
            try await TestCluster.withConnection(relays.location) { connection in
                try await connection.query("BEGIN", logger: logger)
                try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT id FROM messages WHERE id IN (\(ids[0]), \(ids[1]), \(ids[2])) FOR UPDATE"), logger: logger)
                // SKIP LOCKED: the claim takes the two free rows at once. A claim that waited for the
                // lock would lose the race against the timer (then the lock is released so it can end).
                let claimed = try await withThrowingTaskGroup(of: [Int64]?.self) { group in
                    group.addTask { try await store.claimDue(limit: 5, capacities: ["main": 5]).map(\.id) }
                    group.addTask { try await Task.sleep(for: .seconds(10)); return nil }
                    let first = try await group.next() ?? nil
                    if first == nil { try await connection.query("ROLLBACK", logger: logger) }
                    group.cancelAll()
                    return first
                }
                #expect(claimed == [ids[3], ids[4]])
                if claimed != nil { try await connection.query("ROLLBACK", logger: logger) }
            }
            #expect(try await store.claimDue(limit: 5, capacities: ["main": 5]).map(\.id) == Array(ids[0..<3]))
        }
    }

    @Test func capacitiesBoundEachAccountsClaims() async throws {
        try await withRelays(["relay-a"]) { relays in
            let store = relays.a
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            try await store.addAccount(name: "other", kind: .sandbox, state: .ok)
            for n in 0..<5 { _ = try await store.accept(newMessage(n)) }
            for n in 0..<5 {
                var m = newMessage(n)
                m.account = "other"
                _ = try await store.accept(m)
            }
            #expect(try await store.dueCounts(limit: 3) == ["main": 3, "other": 3])
            let claimed = try await store.claimDue(limit: 10, capacities: ["main": 2, "nobody": 4])
            #expect(claimed.count == 2)
            #expect(claimed.allSatisfy { $0.account == "main" })
        }
    }

    @Test func aMessageWhoseLeaseRanOutIsTakenOverAndCounted() async throws {
        try await withRelays(lease: .seconds(90)) { relays in
            try await relays.a.addAccount(name: "main", kind: .sandbox, state: .ok)
            let message = try await relays.a.accept(newMessage())
            #expect(try await relays.a.claimDue(limit: 1, capacities: ["main": 1]).map(\.id) == [message.id])

            // Within the lease, relay-b finds nothing to take.
            relays.clocks[1].advance(60)
            #expect(try await relays.b.dueCounts(limit: 10).isEmpty)
            #expect(try await relays.b.claimDue(limit: 1, capacities: ["main": 1]).isEmpty)
            // relay-a died: no heartbeat. Past its lease relay-b takes the message over.
            relays.clocks[1].advance(31)
            #expect(try await relays.b.nextDueDate() != nil)
            #expect(try await relays.b.dueCounts(limit: 10) == ["main": 1])
            let taken = try await relays.b.claimDue(limit: 1, capacities: ["main": 1])
            #expect(taken.map(\.id) == [message.id])
            #expect(try await text(relays.location, "SELECT lease_owner FROM messages WHERE id = \(message.id)") == "relay-b")
            #expect(try await relays.b.takeoverCount() == 1)
            #expect(try await text(relays.location, "SELECT taken_over_from FROM messages WHERE id = \(message.id)") == "relay-a")
            let history = try await relays.b.events(messageID: message.id).map(\.kind)
            #expect(history == [.accepted, .queued], "the takeover shows as an interruption")

            try await relays.b.finishAttempt(sent(message.id))
            #expect(try await relays.a.message(id: message.id)?.status == .sent)
        }
    }

    @Test func aRelayThatLostItsLeaseWritesNothing() async throws {
        try await withRelays { relays in
            try await relays.a.addAccount(name: "main", kind: .sandbox, state: .ok)
            let first = try await relays.a.accept(newMessage(1))
            let second = try await relays.a.accept(newMessage(2))
            _ = try await relays.a.claimDue(limit: 2, capacities: ["main": 2])
            relays.clocks[1].advance(91)
            #expect(Set(try await relays.b.claimDue(limit: 2, capacities: ["main": 2]).map(\.id)) == [first.id, second.id])

            // relay-a comes back from its stall with outcomes: they are dropped, nothing is written.
            let eventsBefore = try await scalar(relays.location, "SELECT count(*) FROM events")
            let effects = try await relays.a.finishAttempt(sent(first.id))
            #expect(effects == AttemptEffects())
            try await relays.a.markStatus(id: second.id, status: .queued, problemCode: nil, nextAttemptAt: nil, detail: "lanes busy")
            #expect(try await relays.a.attempts(messageID: first.id).isEmpty)
            #expect(try await scalar(relays.location, "SELECT count(*) FROM events") == eventsBefore)
            for id in [first.id, second.id] {
                #expect(try await relays.a.message(id: id)?.status == .sending)
                #expect(try await text(relays.location, "SELECT lease_owner FROM messages WHERE id = \(id)") == "relay-b")
            }

            // After relay-b finished one, relay-a's late outcome for it is still dropped (not an error).
            try await relays.b.finishAttempt(sent(first.id))
            #expect(try await relays.a.finishAttempt(sent(first.id)) == AttemptEffects())
            #expect(try await relays.a.attempts(messageID: first.id).count == 1)
        }
    }

    @Test func heartbeatRenewsEveryLeaseOfItsRelay() async throws {
        try await withRelays(lease: .seconds(90)) { relays in
            try await relays.a.addAccount(name: "main", kind: .sandbox, state: .ok)
            for n in 0..<3 { _ = try await relays.a.accept(newMessage(n)) }
            #expect(try await relays.a.claimDue(limit: 3, capacities: ["main": 3]).count == 3)
            try await relays.b.heartbeat()

            // relay-a beats at +60 s: its leases now run to +150 s.
            relays.clocks[0].advance(60)
            #expect(try await relays.a.heartbeat() == 3)
            relays.clocks[1].advance(120)
            #expect(try await relays.b.claimDue(limit: 3, capacities: ["main": 3]).isEmpty, "renewed leases are not taken over")
            let listed = try await relays.b.relays()
            #expect(listed.map(\.name) == ["relay-a", "relay-b"])
            #expect(listed.map(\.claimed) == [3, 0])
            #expect(listed[0].lastSeen == relays.clocks[0].now())
            // Without another beat the leases run out at +150 s.
            relays.clocks[1].advance(31)
            #expect(try await relays.b.claimDue(limit: 3, capacities: ["main": 3]).count == 3)
            #expect(try await relays.b.relays().map(\.claimed) == [0, 3])
        }
    }

    @Test func requeueInterruptedTouchesOnlyItsOwnMessages() async throws {
        try await withRelays { relays in
            try await relays.a.addAccount(name: "main", kind: .sandbox, state: .ok)
            let mine = try await relays.a.accept(newMessage(1))
            let theirs = try await relays.a.accept(newMessage(2))
            #expect(try await relays.a.claimDue(limit: 1, capacities: ["main": 1]).map(\.id) == [mine.id])
            #expect(try await relays.b.claimDue(limit: 1, capacities: ["main": 1]).map(\.id) == [theirs.id])

            #expect(try await relays.a.requeueInterrupted() == 1)
            #expect(try await relays.a.message(id: mine.id)?.status == .queued)
            #expect(try await relays.a.events(messageID: mine.id).last?.detail == "interrupted by a restart")
            #expect(try await relays.a.message(id: theirs.id)?.status == .sending)
            #expect(try await text(relays.location, "SELECT lease_owner FROM messages WHERE id = \(theirs.id)") == "relay-b")
            #expect(try await text(relays.location, "SELECT lease_owner FROM messages WHERE id = \(mine.id)") == nil)
        }
    }

    @Test func aSyncSendIsTheAcceptingRelays() async throws {
        try await withRelays { relays in
            try await relays.a.addAccount(name: "main", kind: .sandbox, state: .ok)
            var m = newMessage()
            m.status = .sending
            let record = try await relays.a.accept(m)
            #expect(try await text(relays.location, "SELECT lease_owner FROM messages WHERE id = \(record.id)") == "relay-a")
            #expect(try await relays.b.claimDue(limit: 1, capacities: ["main": 1]).isEmpty)
            try await relays.a.finishAttempt(sent(record.id))
            #expect(try await relays.b.message(id: record.id)?.status == .sent)
            #expect(try await text(relays.location, "SELECT lease_owner FROM messages WHERE id = \(record.id)") == nil)
        }
    }

    @Test func aRelayWithAnotherKeyFileCannotOpenTheSecrets() async throws {
        try await withRelays(keyFiles: ["a.key", "b.key"]) { relays in
            let grant = Data("refresh-token-1".utf8)
            try await relays.a.addAccount(name: "main", kind: .oauthUser, fromAddresses: ["me@example.com"], secret: grant, state: .ok)
            #expect(try await relays.a.accountSecret(named: "main") == grant)
            await #expect(throws: StoreError.secretUndecryptable("account main")) {
                try await relays.b.accountSecret(named: "main")
            }
            #expect(try await relays.b.account(named: "main")?.hasSecret == true)
        }
    }
}
