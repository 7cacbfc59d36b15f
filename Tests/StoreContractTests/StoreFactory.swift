import Foundation
import GRDB
import Logging
import PostgresNIO
@testable import PostgresStore
import PostgresTestSupport
import RelayConfig
import RelayVocabulary
import StoreModel
import Testing
@testable import RelayStore

/// The stores the contract suite runs on. Every test takes one as its argument
/// (`@Test(arguments: StoreKind.allCases)`), so each behaviour is checked on both.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

/// A clock the tests move by hand: both stores take their "now" from it, so no test depends on
/// wall-clock time.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
        current = start
    }

    var now: Date { lock.withLock { current } }

    func advance(_ seconds: TimeInterval) {
        lock.withLock { current += seconds }
    }
}

/// What a few tests need to see or change below the API, done the way each store stores it: the sealed
/// secret's bytes, a login's hash string, the count of slow password checks. Only the secret and login
/// tests use it, to prove what the API cannot show (no plaintext at rest, no slow hash for generated
/// passwords, old hashes upgraded).
protocol StoreProbe: Sendable {
    /// The account's secret as stored (sealed).
    func storedSecret(account: String) async throws -> Data?
    /// Overwrites the account's stored (sealed) secret with `sealed`.
    func replaceStoredSecret(account: String, with sealed: Data) async throws
    /// The login's stored password hash string.
    func passwordHash(username: String) async throws -> String?
    /// Overwrites every login's stored hash (tests have one login).
    func replacePasswordHashes(with hash: String) async throws
    /// Password checks that ran the slow KDF in this store instance.
    func slowChecks() -> Int
}

/// One fresh, empty store of one kind, as the product sees it: the API (`any RelayStoreAPI`) and the
/// intake (`any MessageIntake`), plus the test's clock. The methods below forward to the API with the
/// SQLite store's default arguments, so the moved tests read as they did.
struct StoreUnderTest: Sendable {
    let kind: StoreKind
    let api: any RelayStoreAPI
    let intake: any MessageIntake
    let clock: TestClock
    let probe: any StoreProbe
    /// Another instance on the same data (a second process: the CLI, or a second relay), optionally with
    /// another secret key file. Closed with the test.
    let openAnother: @Sendable (_ secretKeyFile: String?) async throws -> StoreUnderTest
    /// A fresh path for a key file that does not exist yet.
    let newKeyFilePath: @Sendable () -> String

    var now: Date { clock.now }
}

/// Runs `body` on a fresh, empty store of `kind` and cleans up after it (directory or database).
/// PostgreSQL: a database of its own on the test cluster (TestCluster: started once per test process
/// through scripts/postgres.sh unless RELAY_TEST_PG_URL names one; it fails, never skips, when
/// PostgreSQL is not installed).
func withStore(
    _ kind: StoreKind, clock: TestClock = TestClock(), hashing: PasswordHasher.Parameters = .testing,
    _ body: (StoreUnderTest) async throws -> Void
) async throws {
    switch kind {
    case .sqlite:
        try await SQLiteFactory.withStore(clock: clock, hashing: hashing, body)
    case .postgres:
        try await PostgresFactory.withStore(clock: clock, hashing: hashing, body)
    }
}

// MARK: SQLite

enum SQLiteFactory {
    static func withStore(
        clock: TestClock, hashing: PasswordHasher.Parameters, _ body: (StoreUnderTest) async throws -> Void
    ) async throws {
        let directory = NSTemporaryDirectory() + "storecontract-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let opened = Opened()
        defer { opened.closeAll() }
        try await body(open(directory: directory, clock: clock, hashing: hashing, keyFile: nil, opened: opened))
    }

    final class Opened: @unchecked Sendable {
        private let lock = NSLock()
        private var stores: [RelayStore] = []
        func add(_ store: RelayStore) { lock.withLock { stores.append(store) } }
        func closeAll() { lock.withLock { stores.forEach { try? $0.close() } } }
    }

    static func open(
        directory: String, clock: TestClock, hashing: PasswordHasher.Parameters, keyFile: String?, opened: Opened
    ) throws -> StoreUnderTest {
        var options = RelayStore.Options(secretKeyFile: keyFile, passwordHashing: hashing)
        options.clock = { clock.now }
        let store = try RelayStore.open(dataDirectory: directory + "/data", options: options)
        opened.add(store)
        return StoreUnderTest(
            kind: .sqlite, api: store, intake: GroupCommitter(store: store), clock: clock, probe: SQLiteProbe(store: store),
            openAnother: { keyFile in try open(directory: directory, clock: clock, hashing: hashing, keyFile: keyFile, opened: opened) },
            newKeyFilePath: { directory + "/key-" + UUID().uuidString })
    }
}

struct SQLiteProbe: StoreProbe {
    let store: RelayStore

    func storedSecret(account: String) async throws -> Data? {
        try await store.pool.read { try Data.fetchOne($0, sql: "SELECT secret FROM accounts WHERE name = ?", arguments: [account]) }
    }

    func replaceStoredSecret(account: String, with sealed: Data) async throws {
        try await store.pool.write { try $0.execute(sql: "UPDATE accounts SET secret = ? WHERE name = ?", arguments: [sealed, account]) }
    }

    func passwordHash(username: String) async throws -> String? {
        try await store.passwordHash(username: username)
    }

    func replacePasswordHashes(with hash: String) async throws {
        try await store.pool.write { try $0.execute(sql: "UPDATE credentials SET password_hash = ?", arguments: [hash]) }
    }

    func slowChecks() -> Int { store.slowChecks.withLock { $0 } }
}

// MARK: PostgreSQL

enum PostgresFactory {
    static let logger: Logger = {
        var logger = Logger(label: "gmail-relay.test.contract")
        logger.logLevel = .warning
        return logger
    }()

    /// A database of its own, migrated, and a store of relay `relay-a` on it; another instance is
    /// relay `relay-b`, `relay-c`, ... on the same database. Every store's pool runs in a task that ends
    /// with the test.
    static func withStore(
        clock: TestClock, hashing: PasswordHasher.Parameters, _ body: (StoreUnderTest) async throws -> Void
    ) async throws {
        let directory = NSTemporaryDirectory() + "storecontract-pg-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await TestCluster.withFreshDatabase(relayName: "relay-a") { settings in
            _ = try await PostgresMigrator.migrate(settings, logger: logger)
            let running = Running()
            do {
                let store = open(settings: settings, directory: directory, clock: clock, hashing: hashing,
                                 keyFile: directory + "/secret.key", running: running)
                try await body(store)
                await running.stopAll()
            } catch {
                await running.stopAll()
                throw error
            }
        }
    }

    /// The pools' tasks, cancelled when the test ends (before its database is dropped).
    final class Running: @unchecked Sendable {
        private let lock = NSLock()
        private var tasks: [Task<Void, Never>] = []
        private var instances = 0

        func start(_ store: PostgresRelayStore) -> Int {
            lock.withLock {
                tasks.append(Task { await store.run() })
                instances += 1
                return instances
            }
        }

        func stopAll() async {
            let tasks = lock.withLock { self.tasks }
            for task in tasks { task.cancel() }
            for task in tasks { await task.value }
        }
    }

    static func open(
        settings: PostgresSettings, directory: String, clock: TestClock, hashing: PasswordHasher.Parameters, keyFile: String,
        running: Running
    ) -> StoreUnderTest {
        let store = PostgresRelayStore(settings: settings, options: PostgresRelayStore.Options(
            secretKeyFile: keyFile, passwordHashing: hashing, maximumConnections: 4, clock: { clock.now }, logger: logger))
        let number = running.start(store)
        return StoreUnderTest(
            kind: .postgres, api: store, intake: store, clock: clock, probe: PostgresProbe(store: store, location: settings.location),
            openAnother: { otherKeyFile in
                let name = "relay-" + String(UnicodeScalar(UInt8(ascii: "a") + UInt8(min(number, 25))))
                return open(settings: PostgresSettings(location: settings.location, relayName: name), directory: directory,
                            clock: clock, hashing: hashing, keyFile: otherKeyFile ?? keyFile, running: running)
            },
            newKeyFilePath: { directory + "/key-" + UUID().uuidString })
    }
}

struct PostgresProbe: StoreProbe {
    let store: PostgresRelayStore
    let location: PostgresLocation

    func storedSecret(account: String) async throws -> Data? {
        try await TestCluster.withConnection(location) { connection in
            let rows = try await connection.query("SELECT secret FROM accounts WHERE name = \(account)", logger: PostgresFactory.logger)
            for try await (secret) in rows.decode((Data?).self) { return secret }
            return nil
        }
    }

    func replaceStoredSecret(account: String, with sealed: Data) async throws {
        try await TestCluster.withConnection(location) { connection in
            _ = try await connection.query("UPDATE accounts SET secret = \(sealed) WHERE name = \(account)", logger: PostgresFactory.logger)
        }
    }

    func passwordHash(username: String) async throws -> String? {
        try await TestCluster.withConnection(location) { connection in
            let rows = try await connection.query(
                "SELECT password_hash FROM credentials WHERE username = \(username)", logger: PostgresFactory.logger)
            for try await (hash) in rows.decode(String.self) { return hash }
            return nil
        }
    }

    func replacePasswordHashes(with hash: String) async throws {
        try await TestCluster.withConnection(location) { connection in
            _ = try await connection.query("UPDATE credentials SET password_hash = \(hash)", logger: PostgresFactory.logger)
        }
    }

    func slowChecks() -> Int { store.slowChecks.withLock { $0 } }
}
