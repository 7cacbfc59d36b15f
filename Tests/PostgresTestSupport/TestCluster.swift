import Foundation
import Logging
import PostgresNIO
import PostgresStore
import RelayConfig

#if canImport(Glibc)
import Glibc
#endif

/// The PostgreSQL the tests run against: the one scripts/test.sh started (RELAY_TEST_PG_URL and
/// RELAY_TEST_PG_CA; no GMAIL_RELAY_ prefix, since the relay warns about unknown variables with it), or
/// else one this process starts once through scripts/postgres.sh and stops when it exits.
/// When PostgreSQL is not installed the tests fail and say what to run; none is skipped.
/// Shared by the PostgreSQL store's own tests and the store contract suite (one cluster per test process).
package enum TestCluster {
    package struct Cluster: Sendable {
        package let url: String
        /// The CA that signed the server's certificate, for sslmode=verify-full.
        package let caFile: String
    }

    package static let logger = Logger(label: "gmail-relay.test.postgres")

    package static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Started (or found) once per test process; the error is kept so every test reports it.
    private static let shared: Result<Cluster, ClusterError> = {
        let environment = ProcessInfo.processInfo.environment
        if let url = environment["RELAY_TEST_PG_URL"], !url.isEmpty {
            return .success(Cluster(url: url, caFile: environment["RELAY_TEST_PG_CA"] ?? ""))
        }
        return startOwnCluster()
    }()

    package struct ClusterError: Error, CustomStringConvertible {
        package let description: String
    }

    package static func cluster() throws -> Cluster {
        try shared.get()
    }

    /// The cluster's database as the configuration would read it (the same parser as `store.url`).
    package static func location(url: String? = nil) throws -> PostgresLocation {
        let text = try url ?? cluster().url
        let configuration = try RelayConfiguration.parse(text: "", fileName: "(test)", environment: ["GMAIL_RELAY_STORE_URL": text])
        guard let location = configuration.store.postgres else {
            throw ClusterError(description: "RELAY_TEST_PG_URL is not a postgres:// URL")
        }
        return location
    }

    /// A new, empty database for one test, dropped afterwards: migration tests need a blank slate.
    package static func withFreshDatabase<T: Sendable>(
        relayName: String = "relay-a", _ body: (PostgresSettings) async throws -> T
    ) async throws -> T {
        let base = try location()
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await retrying("CREATE DATABASE \(name)") { try await admin(base, "CREATE DATABASE \(name)") }
        var fresh = base
        fresh.database = String(name)
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body(PostgresSettings(location: fresh, relayName: relayName)))
        } catch {
            outcome = .failure(error)
        }
        // Best effort: a database left in the throw-away cluster harms nothing, while a failed drop (a
        // pool still reconnecting as the test ends) must not fail a test that passed.
        try? await retrying("DROP DATABASE \(name)") { try await admin(base, "DROP DATABASE \(name) WITH (FORCE)") }
        return try outcome.get()
    }

    /// A statement of the tests' own set-up, tried three times (the cluster is shared by tests running in
    /// parallel); the last failure is thrown with postgres-nio's full description, which its errors'
    /// own description leaves out.
    private static func retrying(_ what: String, _ step: () async throws -> Void) async throws {
        var attempt = 0
        while true {
            do {
                return try await step()
            } catch {
                attempt += 1
                guard attempt < 3 else { throw ClusterError(description: "\(what) failed: \(String(reflecting: error))") }
                try await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
    }

    /// Runs one statement on its own connection (CREATE/DROP DATABASE cannot run in a transaction).
    package static func admin(_ location: PostgresLocation, _ sql: String) async throws {
        try await withConnection(location) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    package static func withConnection<T: Sendable>(_ location: PostgresLocation, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password?.value,
            database: location.database, tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 99, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    // MARK: A cluster of our own

    /// Set once, read by the exit handler (a C function pointer cannot capture).
    nonisolated(unsafe) private static var ownClusterDirectory: String?

    private static func startOwnCluster() -> Result<Cluster, ClusterError> {
        let script = repositoryRoot + "/scripts/postgres.sh"
        let installed = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .contains { FileManager.default.isExecutableFile(atPath: "/usr/lib/postgresql/\($0)/bin/initdb") }
        guard installed else {
            return .failure(ClusterError(description:
                "PostgreSQL is not installed, and these tests need a real server: run `scripts/postgres.sh install` "
                + "(or the whole suite with scripts/test.sh, which starts a cluster), then run the tests again"))
        }
        guard let directory = run(script, ["start"]) else {
            return .failure(ClusterError(description: "`scripts/postgres.sh start` failed (its messages are above)"))
        }
        ownClusterDirectory = directory
        atexit {
            if let directory = TestCluster.ownClusterDirectory {
                _ = TestCluster.run(TestCluster.repositoryRoot + "/scripts/postgres.sh", ["stop", directory])
            }
        }
        guard let url = run(script, ["url", directory]), let ca = run(script, ["ca", directory]) else {
            return .failure(ClusterError(description: "scripts/postgres.sh started \(directory) but cannot say its URL"))
        }
        return .success(Cluster(url: url, caFile: ca))
    }

    /// The command's last line of output, or nil when it failed (its stderr goes to ours).
    ///
    /// posix_spawn and waitpid rather than Foundation's Process: its waitUntilExit spins a run loop,
    /// which was seen to hang forever here (called from a static initializer on a concurrency thread).
    package static func run(_ executable: String, _ arguments: [String]) -> String? {
        let outputPath = NSTemporaryDirectory() + "pg-script-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, executable, &actions, nil, argv, environ) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED && WEXITSTATUS == 0
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else { return nil }
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").last.map(String.init)
    }
}
