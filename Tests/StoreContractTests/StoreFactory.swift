import Foundation
import GRDB
import Logging
import PostgresStore
import PostgresTestSupport
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

/// What a test on PostgreSQL reports while the PostgreSQL store (branch `pgstore`) is not merged.
struct PostgresStoreMissing: Error, CustomStringConvertible {
    var description: String {
        "the PostgreSQL store (PostgresRelayStore, branch pgstore) is not in this build yet: this suite cannot run on PostgreSQL"
    }
}

enum PostgresFactory {
    static func withStore(
        clock: TestClock, hashing: PasswordHasher.Parameters, _ body: (StoreUnderTest) async throws -> Void
    ) async throws {
        _ = try TestCluster.cluster()  // says clearly when PostgreSQL is missing
        throw PostgresStoreMissing()
    }
}
