import Foundation
import Logging
import PostgresNIO
import PostgresTestSupport
import Testing

@testable import PostgresStore
@testable import RelayConfig

/// Migrations against a real PostgreSQL (TestCluster), each test in a database of its own.
@Suite struct MigrationTests {
    let logger = TestCluster.logger

    private func tables(_ location: PostgresLocation) async throws -> Set<String> {
        try await TestCluster.withConnection(location) { connection in
            let rows = try await connection.query(
                "SELECT table_name::TEXT FROM information_schema.tables WHERE table_schema = 'public'", logger: logger)
            var names: Set<String> = []
            for try await (name) in rows.decode(String.self) { names.insert(name) }
            return names
        }
    }

    private func recorded(_ location: PostgresLocation) async throws -> [(Int, String)] {
        try await TestCluster.withConnection(location) { connection in
            let rows = try await connection.query(
                "SELECT version, applied_by FROM schema_migrations ORDER BY version", logger: logger)
            var result: [(Int, String)] = []
            for try await (version, by) in rows.decode((Int32, String).self) { result.append((Int(version), by)) }
            return result
        }
    }

    @Test func emptyDatabaseGetsTheWholeSchema() async throws {
        try await TestCluster.withFreshDatabase { settings in
            #expect(try await PostgresMigrator.currentVersion(settings, logger: logger) == 0)
            let outcome = try await PostgresMigrator.migrate(settings, logger: logger)
            #expect(outcome == PostgresMigrator.Outcome(from: 0, to: PostgresMigrator.knownVersion))
            #expect(outcome.applied == Array(1...PostgresMigrator.knownVersion))
            #expect(try await PostgresMigrator.currentVersion(settings, logger: logger) == PostgresMigrator.knownVersion)
            #expect(try await tables(settings.location) == [
                "schema_migrations", "accounts", "credentials", "messages", "message_chunks", "attempts", "events", "relays",
                "account_tokens",
            ])
            let rows = try await recorded(settings.location)
            #expect(rows.map(\.0) == Array(1...PostgresMigrator.knownVersion))
            #expect(rows.allSatisfy { $0.1 == "relay-a" })

            // Again: nothing to do, nothing recorded twice.
            let again = try await PostgresMigrator.migrate(settings, logger: logger)
            #expect(again == PostgresMigrator.Outcome(from: PostgresMigrator.knownVersion, to: PostgresMigrator.knownVersion))
            #expect(again.applied.isEmpty)
            #expect(try await recorded(settings.location).count == PostgresMigrator.knownVersion)
        }
    }

    /// Several relays starting at once: the advisory lock lets one migrate and the rest find it done.
    @Test func relaysStartingTogetherMigrateOnce() async throws {
        try await TestCluster.withFreshDatabase { settings in
            let outcomes = try await withThrowingTaskGroup(of: PostgresMigrator.Outcome.self) { group in
                for index in 0..<6 {
                    let relay = PostgresSettings(location: settings.location, relayName: "relay-\(index)")
                    group.addTask { try await PostgresMigrator.migrate(relay, logger: logger) }
                }
                var all: [PostgresMigrator.Outcome] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            #expect(outcomes.filter { $0.from == 0 }.count == 1)
            #expect(outcomes.filter { $0.from == PostgresMigrator.knownVersion }.count == 5)
            #expect(outcomes.allSatisfy { $0.to == PostgresMigrator.knownVersion })
            #expect(try await recorded(settings.location).map(\.0) == Array(1...PostgresMigrator.knownVersion))
        }
    }

    /// A relay whose binary is older than the database's schema refuses, saying what to do.
    @Test func olderBinaryRefusesANewerSchema() async throws {
        try await TestCluster.withFreshDatabase { settings in
            _ = try await PostgresMigrator.migrate(settings, logger: logger)
            let newer = PostgresMigrator.knownVersion + 1
            try await TestCluster.withConnection(settings.location) { connection in
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name, applied_by) VALUES (\(newer), 'from the future', 'relay-z')",
                    logger: logger)
            }
            let error = await #expect(throws: PostgresStoreError.self) {
                try await PostgresMigrator.migrate(settings, logger: logger)
            }
            #expect(error == .schemaTooNew(databaseVersion: newer, knownVersion: PostgresMigrator.knownVersion))
            #expect(error?.description == "the PostgreSQL store's schema is version \(newer), but this gmail-relay knows only up to version \(PostgresMigrator.knownVersion): a newer gmail-relay migrated it; upgrade this relay before starting it")
            // Nothing was changed by the refused attempt.
            #expect(try await recorded(settings.location).map(\.0) == Array(1...PostgresMigrator.knownVersion) + [newer])
        }
    }

    // MARK: Connecting

    @Test func wrongPasswordIsSaidWithoutThePassword() async throws {
        var location = try TestCluster.location()
        location.password = RedactedSecret("Wrong-Hunter2-Password")
        let error = await #expect(throws: PostgresStoreError.self) {
            try await PostgresMigrator.currentVersion(PostgresSettings(location: location, relayName: "r"), logger: logger)
        }
        let text = try #require(error).description
        #expect(text.hasPrefix("cannot connect to the PostgreSQL store postgres://\(location.user):***@127.0.0.1:\(location.port)/"))
        #expect(text.contains("password authentication failed for user \"\(location.user)\" (SQLSTATE 28P01)"))
        #expect(!text.contains("Hunter2"))
    }

    @Test func missingDatabaseAndClosedPort() async throws {
        var location = try TestCluster.location()
        location.database = "no_such_database"
        let missing = await #expect(throws: PostgresStoreError.self) {
            try await PostgresMigrator.migrate(PostgresSettings(location: location, relayName: "r"), logger: logger)
        }
        #expect(missing?.description.contains("database \"no_such_database\" does not exist (SQLSTATE 3D000)") == true)

        // A port nothing listens on: bind one, note it, close it.
        let socket = try ServerSocketPort()
        var closed = try TestCluster.location()
        closed.port = socket.port
        socket.close()
        let refused = await #expect(throws: PostgresStoreError.self) {
            try await PostgresMigrator.migrate(PostgresSettings(location: closed, relayName: "r"), logger: logger)
        }
        let text = try #require(refused).description
        #expect(text.hasPrefix("cannot connect to the PostgreSQL store postgres://"))
        #expect(text.lowercased().contains("connection refused"), "\(text)")
    }

    // MARK: TLS (the test cluster serves TLS with a CA of its own)

    private func usesTLS(_ settings: PostgresSettings) async throws -> Bool {
        let client = PostgresClient(configuration: settings.clientConfiguration(maximumConnections: 1))
        return try await withThrowingTaskGroup(of: Bool?.self) { group in
            group.addTask { await client.run(); return nil }
            let rows = try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            var ssl = false
            for try await (flag) in rows.decode(Bool.self) { ssl = flag }
            group.cancelAll()
            return ssl
        }
    }

    @Test func sslModes() async throws {
        let cluster = try TestCluster.cluster()
        let plain = try TestCluster.location()
        #expect(plain.sslMode == .disable)
        #expect(try await usesTLS(PostgresSettings(location: plain, relayName: "r")) == false)

        var require = plain
        require.sslMode = .require  // the server's CA is not trusted, and require does not check it
        #expect(try await usesTLS(PostgresSettings(location: require, relayName: "r")) == true)

        var verified = plain
        verified.sslMode = .verifyFull
        verified.sslRootCertificate = cluster.caFile
        #expect(try await usesTLS(PostgresSettings(location: verified, relayName: "r")) == true)
        #expect(try await PostgresMigrator.currentVersion(PostgresSettings(location: verified, relayName: "r"), logger: logger) >= 0)

        // verify-full against the system's roots: the test CA is not among them, so no connection.
        var untrusted = plain
        untrusted.sslMode = .verifyFull
        let error = await #expect(throws: PostgresStoreError.self) {
            try await PostgresMigrator.currentVersion(PostgresSettings(location: untrusted, relayName: "r"), logger: logger)
        }
        #expect(error?.description.contains("the TLS handshake failed") == true, "\(String(describing: error))")
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
struct ServerSocketPort {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw PostgresStoreError.query("cannot bind a test socket") }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
