#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import GRDB
import Logging
// The model and the store API are StoreModel's; everyone who uses the SQLite store uses them too.
@_exported import StoreModel

/// The relay's durable state: `relay.sqlite` (accounts, SMTP credentials, messages, attempts, events),
/// the spool of message bodies, and the secret key for secrets at rest, all under one data directory.
///
/// Several processes may open the same directory at once (the server and a CLI command): SQLite's WAL
/// mode lets readers and one writer work concurrently, and a busy timeout makes writers wait for each other.
public final class RelayStore: Sendable {
    public struct Options: Sendable {
        /// Defaults to `<data>/secret.key` (`GMAIL_RELAY_SECRET_KEY_FILE` overrides it upstream).
        public var secretKeyFile: String?
        /// How long a write waits for another process's write transaction before failing with SQLITE_BUSY.
        public var busyTimeout: TimeInterval
        /// Cost of new SMTP password hashes. Existing hashes keep the parameters they were made with.
        public var passwordHashing: PasswordHasher.Parameters
        public var spoolFaults: SpoolFaults
        /// The store's source of "now" (tests pass a fixed clock).
        public var clock: @Sendable () -> Date
        public var logger: Logger

        public init(
            secretKeyFile: String? = nil,
            busyTimeout: TimeInterval = 10,
            passwordHashing: PasswordHasher.Parameters = .standard,
            spoolFaults: SpoolFaults = SpoolFaults(),
            clock: @escaping @Sendable () -> Date = { Date() },
            logger: Logger = Logger(label: "gmail-relay.store")
        ) {
            self.secretKeyFile = secretKeyFile
            self.busyTimeout = busyTimeout
            self.passwordHashing = passwordHashing
            self.spoolFaults = spoolFaults
            self.clock = clock
            self.logger = logger
        }
    }

    public let dataDirectory: String
    public let databasePath: String
    public let secretKeyFile: String
    public let spool: Spool
    let pool: DatabasePool
    /// Password checks that ran the slow KDF (the cache and fast hashes skip it).
    let slowChecks = LockedValue(0)
    let logins: LoginChecker
    let clock: @Sendable () -> Date
    let logger: Logger
    let secrets: AccountSecrets
    let attemptWriter: BatchedWriter<AttemptReport, AttemptEffects>

    private init(
        dataDirectory: String, databasePath: String, secretKeyFile: String, spool: Spool,
        pool: DatabasePool, options: Options
    ) {
        self.dataDirectory = dataDirectory
        self.databasePath = databasePath
        self.secretKeyFile = secretKeyFile
        self.spool = spool
        self.pool = pool
        let slowChecks = self.slowChecks
        self.logins = LoginChecker(hasher: PasswordHasher(parameters: options.passwordHashing),
                                   onSlowCheck: { slowChecks.withLock { $0 += 1 } })
        self.clock = options.clock
        self.logger = options.logger
        self.secrets = AccountSecrets(keyFile: secretKeyFile)
        let clock = options.clock
        // Attempt results commit without their own fdatasync: one a power cut undoes leaves its message
        // `sending`, which the next start queues again (sent twice at worst: at-least-once, as a crash
        // mid-send already is), and the next synced commit (the next 250) syncs it anyway.
        self.attemptWriter = BatchedWriter(pool: pool, synced: false) { db, report in
            try RelayStore.applyAttempt(db, report, now: Millis.from(clock()))
        }
    }

    /// The spool of `dataDirectory` alone, made as `open` makes it (a private directory, checked): for a
    /// relay on the shared PostgreSQL store, which receives bodies here until their message is committed.
    public static func privateSpool(in dataDirectory: String, faults: SpoolFaults = SpoolFaults()) throws -> Spool {
        let directory = dataDirectory.hasSuffix("/") && dataDirectory.count > 1
            ? String(dataDirectory.dropLast()) : dataDirectory
        try POSIX.makeDirectory(directory)
        try checkPrivate(directory: directory, secretKeyFile: nil)
        return try Spool(directory: directory + "/spool", faults: faults)
    }

    /// Opens (creating when needed) the store in `dataDirectory` and brings its schema up to date.
    public static func open(dataDirectory: String, options: Options = Options()) throws -> RelayStore {
        let directory = dataDirectory.hasSuffix("/") && dataDirectory.count > 1
            ? String(dataDirectory.dropLast()) : dataDirectory
        try POSIX.makeDirectory(directory)
        try checkPrivate(directory: directory, secretKeyFile: options.secretKeyFile ?? directory + "/secret.key")
        let spool = try Spool(directory: directory + "/spool", faults: options.spoolFaults)
        let databasePath = directory + "/relay.sqlite"
        // SQLite gives the -wal and -shm files the database file's mode: made 0600 here, all three are.
        try POSIX.createPrivateFile(databasePath)

        var configuration = Configuration()
        configuration.label = "gmail-relay"
        configuration.busyMode = .timeout(options.busyTimeout)
        configuration.prepareDatabase { db in
            // WAL alone (GRDB's DatabasePool default) keeps committed data consistent after a crash, but
            // with synchronous=NORMAL the last commits can vanish on power loss. FULL syncs the WAL on
            // every commit, so "250 queued" is only said for mail that survives a power cut.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Savepoint journals (one per batched accept or result) and the worker's GROUP BY stay in
            // memory: on disk each batch created, wrote and unlinked a file in /var/tmp (about 10% of the
            // 1-connection ingest rate, measured side by side). They hold at most a batch's changed pages.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }

        // Opening sets the journal mode and migrating runs several transactions; two processes starting at
        // once (server and CLI) must not interleave those, so the whole step holds an exclusive file lock.
        let pool = try withFileLock(directory + "/relay.lock") {
            let pool = try DatabasePool(path: databasePath, configuration: configuration)
            // GRDB's DatabasePool sets synchronous=NORMAL on the writer when it enables WAL, after
            // prepareDatabase ran; the writer is the connection that commits, so set FULL again there.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            let migrator = Schema.migrator
            try migrator.migrate(pool)
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                throw StoreError.databaseTooNew(path: databasePath)
            }
            return pool
        }
        options.logger.debug("store opened", metadata: ["store.path": "\(databasePath)"])
        return RelayStore(
            dataDirectory: directory, databasePath: databasePath,
            secretKeyFile: options.secretKeyFile ?? directory + "/secret.key",
            spool: spool, pool: pool, options: options)
    }

    /// Closes the database connections. Later calls fail.
    public func close() throws {
        try pool.close()
    }

    public static func generatePassword() -> String {
        PasswordHasher.generatePassword()
    }

    var now: Date { clock() }
    var nowMillis: Int64 { Millis.from(clock()) }

    /// A write transaction whose commit is not synced (synchronous=NORMAL for it alone; the writer is
    /// back at FULL before this returns, and before any other write can run, since the writer is
    /// serial). Its changes are committed and visible at once, consistent after a crash, and durable
    /// with the next synced commit, which syncs the WAL up to itself; only a power cut before that can
    /// undo them. Only for changes that a crash may undo without harm (`claimDue`, attempt results).
    func writeUnsynced<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.writeWithoutTransaction { db in
            try Self.withoutSync(db) {
                var result: T?
                try db.inTransaction {
                    result = try updates(db)
                    return .commit
                }
                return result!
            }
        }
    }

    /// `body` (which commits) with synchronous=NORMAL, FULL again afterwards. If FULL could not be set
    /// again (only a broken connection fails that), the process stops rather than go on answering 250
    /// for unsynced commits.
    static func withoutSync<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try db.execute(cached: "PRAGMA synchronous = NORMAL")
        defer {
            do {
                try db.execute(cached: "PRAGMA synchronous = FULL")
            } catch {
                // Never reached with a working connection; fail loudly rather than weaken every 250.
                fatalError("could not set synchronous=FULL again on the writer: \(error)")
            }
        }
        return try body()
    }
}

/// The data directory (made 0700) and the secret key file (made 0600) must not be open to other users:
/// refuse to start, with the `chmod` to run, rather than serve mail from a directory anyone can read.
private func checkPrivate(directory: String, secretKeyFile: String?) throws {
    var info = stat()
    guard stat(directory, &info) == 0 else { throw StoreError.fileError(path: directory, errno: errno) }
    if info.st_mode & 0o077 != 0 { throw StoreError.dataDirectoryTooOpen(path: directory, mode: UInt32(info.st_mode)) }
    guard let secretKeyFile, stat(secretKeyFile, &info) == 0 else { return }  // made 0600 when the first secret is sealed
    if info.st_mode & 0o077 != 0 { throw StoreError.secretKeyTooOpen(path: secretKeyFile, mode: UInt32(info.st_mode)) }
}

private func withFileLock<T>(_ path: String, _ body: () throws -> T) throws -> T {
    let (fd, err) = POSIX.openFile(path, O_RDWR | O_CREAT, 0o600)
    guard fd >= 0 else { throw StoreError.fileError(path: path, errno: err) }
    defer { close(fd) }
    while flock(fd, LOCK_EX) != 0 {
        if errno == EINTR { continue }
        throw StoreError.fileError(path: path, errno: errno)
    }
    defer { flock(fd, LOCK_UN) }
    return try body()
}
