import Crypto
import _CryptoExtras
import Delivery
import FakeGoogle
import Foundation
import GmailAPI
import Logging
import PostgresNIO
import PostgresTestSupport
import RelayVocabulary
import Testing

@testable import PostgresStore
@testable import RelayConfig

/// One token refresh per account for the whole fleet: two relays' stores on one PostgreSQL database,
/// each with its own AccountTokens (Delivery's, as `serve` builds it), against the fake Google over
/// HTTP. The fake counts the token requests that really reach it.
@Suite struct FleetTokenTests {
    let logger = TestCluster.logger

    /// Real time moved forward by hand: the relays' clocks (the fake Google keeps real time).
    final class ShiftedClock: @unchecked Sendable {
        private let lock = NSLock()
        private var offset: TimeInterval = 0
        func now() -> Date { lock.withLock { Date().addingTimeInterval(offset) } }
        func advance(_ seconds: TimeInterval) { lock.withLock { offset += seconds } }
    }

    struct Fleet: Sendable {
        let stores: [PostgresRelayStore]
        let tokens: [AccountTokens]
        let metrics: [RelayMetrics]
        let google: FakeGoogleServer
        let endpoints: GoogleEndpoints
        let clock: ShiftedClock
        let location: PostgresLocation
        let directory: String

        /// Token requests of a user's grant that reached the fake Google.
        var refreshCalls: Int { google.tokenRequestCount(grantType: "refresh_token") }

        /// Each relay's cache for the account, as the worker gets it.
        func caches(_ account: String = "main") async throws -> [TokenCache] {
            var caches: [TokenCache] = []
            for (store, tokens) in zip(stores, tokens) {
                let record = try #require(try await store.account(named: account))
                caches.append(try await tokens.entry(for: record).cache)
            }
            return caches
        }

        /// Token requests counted in the relays' /metrics (`relay_token_refreshes_total`), all relays.
        func countedRefreshes(_ account: String = "main", result: String = "ok") -> Int {
            metrics.reduce(0) { sum, metrics in
                let line = metrics.prometheusText().split(separator: "\n")
                    .first { $0.hasPrefix("relay_token_refreshes_total{account=\"\(account)\",result=\"\(result)\"} ") }
                return sum + (line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0)
            }
        }
    }

    /// Two relays (stores named relay-a and relay-b, one key file) on a fresh migrated database, the fake
    /// Google with an OAuth client and a user, and the account "main" holding a refresh token of that user.
    private func withFleet<T: Sendable>(relays: Int = 2, _ body: (Fleet) async throws -> T) async throws -> T {
        let directory = NSTemporaryDirectory() + "fleettoken-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let google = FakeGoogleServer()
        let base = try await google.start()
        let endpoints = GoogleEndpoints(authURL: google.authURL!, tokenURL: google.tokenURL!, gmailURL: base,
                                        tokeninfoURL: google.tokeninfoURL!, revokeURL: google.revokeURL!)
        google.addOAuthClient(id: "client-1", secret: "secret-1")
        google.addUser(email: "owner@example.com")
        let clock = ShiftedClock()
        do {
            let result = try await withFleet(google: google, endpoints: endpoints, clock: clock, directory: directory, relays: relays, body)
            await google.stop()
            return result
        } catch {
            await google.stop()
            throw error
        }
    }

    private func withFleet<T: Sendable>(
        google: FakeGoogleServer, endpoints: GoogleEndpoints, clock: ShiftedClock, directory: String, relays: Int,
        _ body: (Fleet) async throws -> T
    ) async throws -> T {
        try await TestCluster.withFreshDatabase { settings in
            _ = try await PostgresMigrator.migrate(settings, logger: logger)
            let stores = (0..<relays).map { index in
                PostgresRelayStore(
                    settings: PostgresSettings(location: settings.location, relayName: "relay-\(index)"),
                    options: .init(secretKeyFile: directory + "/secret.key", passwordHashing: .testing, maximumConnections: 4,
                                   logger: logger))
            }
            let metrics = stores.map { _ in RelayMetrics() }
            let transport = HTTPTransport(timeout: 10)
            let tokens = zip(stores, metrics).map { store, metrics in
                AccountTokens(store: store, endpoints: endpoints, transport: transport, metrics: metrics, shared: store,
                              clock: { clock.now() }, logger: logger)
            }
            let fleet = Fleet(stores: stores, tokens: tokens, metrics: metrics, google: google, endpoints: endpoints, clock: clock,
                              location: settings.location, directory: directory)
            return try await withThrowingTaskGroup(of: T?.self) { group in
                for store in stores { group.addTask { await store.run(); return nil } }
                let refresh = google.issueRefreshToken(clientID: "client-1", email: "owner@example.com", scopes: [GmailScope.send])
                try await stores[0].addAccount(name: "main", kind: .oauthUser, fromAddresses: ["owner@example.com"],
                                               secret: try grant(refresh), state: .ok)
                let result = try await body(fleet)
                group.cancelAll()
                return result
            }
        }
    }

    private func grant(_ refreshToken: String) throws -> Data {
        try StoredGrant.oauthClient(clientID: "client-1", clientSecret: "secret-1", refreshToken: refreshToken).encoded()
    }

    /// `count` concurrent `token()` calls on each cache; the values they got.
    private func concurrentTokens(_ caches: [TokenCache], each count: Int) async throws -> [String] {
        try await withThrowingTaskGroup(of: String.self) { group in
            for cache in caches {
                for _ in 0..<count { group.addTask { try await cache.token().value } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    private func rows(_ location: PostgresLocation, _ sql: String) async throws -> [String] {
        try await TestCluster.withConnection(location) { connection in
            var values: [String] = []
            for try await (v) in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(String.self) {
                values.append(v)
            }
            return values
        }
    }

    @Test func twentyConcurrentRequestsAcrossTwoRelaysMakeOneTokenCall() async throws {
        try await withFleet { fleet in
            let values = try await concurrentTokens(try await fleet.caches(), each: 10)
            #expect(values.count == 20)
            #expect(Set(values).count == 1, "every caller on both relays has the same token")
            #expect(fleet.refreshCalls == 1)
            #expect(fleet.countedRefreshes() == 1, "only the real request to Google is counted, on the relay that made it")
            #expect(fleet.countedRefreshes(result: "failed") == 0)
            #expect(try await fleet.stores[0].sharedTokenRefreshes(account: "main") == 1)
            let owner = try await rows(fleet.location, "SELECT obtained_by FROM account_tokens")
            #expect(owner.count == 1 && ["relay-0", "relay-1"].contains(owner[0]))
        }
    }

    @Test func manyRelaysAtOnceStillMakeOneTokenCall() async throws {
        // Six relays, each its own store and pool: six refreshes meet at the lock at once.
        try await withFleet(relays: 6) { fleet in
            let values = try await concurrentTokens(try await fleet.caches(), each: 4)
            #expect(values.count == 24 && Set(values).count == 1)
            #expect(fleet.refreshCalls == 1)
            #expect(fleet.countedRefreshes() == 1)
        }
    }

    @Test func aTokenNearExpiryIsRefreshedOnceForTheFleet() async throws {
        try await withFleet { fleet in
            let caches = try await fleet.caches()
            let first = try await concurrentTokens(caches, each: 3)
            #expect(Set(first).count == 1 && fleet.refreshCalls == 1)
            // Still valid, but within the 300 s margin for both relays (the fake issues 3599 s tokens).
            fleet.clock.advance(3400)
            let second = try await concurrentTokens(caches, each: 10)
            #expect(Set(second).count == 1)
            #expect(second[0] != first[0])
            #expect(fleet.refreshCalls == 2, "one refresh for the fleet, not one per relay")
            // And then nothing more while it is valid.
            _ = try await concurrentTokens(caches, each: 5)
            #expect(fleet.refreshCalls == 2)
            #expect(fleet.countedRefreshes() == 2)
        }
    }

    @Test func aNewGrantDoesNotGetTheOldGrantsToken() async throws {
        try await withFleet { fleet in
            let old = try await concurrentTokens(try await fleet.caches(), each: 2)
            #expect(fleet.refreshCalls == 1)
            let digestBefore = try await rows(fleet.location, "SELECT encode(grant_digest, 'hex') FROM account_tokens")

            // reauth on one machine: a new refresh token for the same account.
            let refresh = fleet.google.issueRefreshToken(clientID: "client-1", email: "owner@example.com", scopes: [GmailScope.send])
            _ = try await fleet.stores[1].recordReauthorization(name: "main", secret: try grant(refresh), consentedAt: Date(),
                                                                address: "owner@example.com")
            let new = try await concurrentTokens(try await fleet.caches(), each: 5)
            #expect(Set(new).count == 1)
            #expect(!old.contains(new[0]), "the old grant's token never comes back after a reauth")
            #expect(fleet.refreshCalls == 2, "the new grant's token is asked for once for the fleet")
            let digestAfter = try await rows(fleet.location, "SELECT encode(grant_digest, 'hex') FROM account_tokens")
            #expect(digestAfter.count == 1 && digestAfter != digestBefore)
        }
    }

    @Test func aRejectedTokenIsReplacedOnceForTheFleet() async throws {
        try await withFleet { fleet in
            let caches = try await fleet.caches()
            let first = try await concurrentTokens(caches, each: 2)
            #expect(fleet.refreshCalls == 1)
            // Google stops accepting every token issued so far: Gmail answers 401 and each send refreshes once.
            fleet.google.expireAccessTokens()
            let sender = GmailSender(endpoints: fleet.endpoints, transport: HTTPTransport(timeout: 10))
            let message = Data("From: owner@example.com\r\nTo: a@example.net\r\nSubject: hi\r\n\r\nbody\r\n".utf8)
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for cache in caches {
                    for _ in 0..<5 {
                        group.addTask {
                            let (outcome, exchanges) = await sender.send(message: .bytes(message), tokens: cache)
                            guard case .sent = outcome else { return false }
                            return exchanges.first?.response?.status == 401 && exchanges.count == 2
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes == Array(repeating: true, count: 10), "each send got the 401, then went out with the new token")
            #expect(fleet.refreshCalls == 2, "the rejected token is replaced once for the fleet, not once per relay")
            let after = try await concurrentTokens(caches, each: 1)
            #expect(Set(after).count == 1 && after[0] != first[0])
        }
    }

    @Test func aFailingRefreshGivesEachCallerGooglesErrorAndStoresNothing() async throws {
        try await withFleet { fleet in
            let stored = try #require(try await fleet.stores[0].accountSecret(named: "main"))
            guard case .oauthClient(_, _, let refresh?) = try StoredGrant.decode(stored) else {
                Issue.record("no refresh token stored")
                return
            }
            fleet.google.revokeRefreshToken(refresh)
            let caches = try await fleet.caches()
            let errors = await withTaskGroup(of: (any Error)?.self) { group in
                for cache in caches {
                    for _ in 0..<5 {
                        group.addTask {
                            do {
                                _ = try await cache.token()
                                return nil
                            } catch {
                                return error
                            }
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(errors.count == 10)
            for error in errors {
                // Google's own answer, as the classifier and the send log need it.
                let endpointError = try #require(error as? TokenEndpointError, "\(String(describing: error))")
                #expect(endpointError.response?.status == 400)
                #expect(endpointError.response?.bodyText.contains("invalid_grant") == true)
                let verdict = try StoredGrant.decode(stored).classify(FailedCall(tokenError: endpointError), consentedAt: Date(), now: Date())
                #expect(verdict.problem == .grantRevoked)
            }
            #expect(try await rows(fleet.location, "SELECT account_id::text FROM account_tokens").isEmpty, "nothing stored")
            #expect(fleet.refreshCalls >= 1)
            #expect(fleet.countedRefreshes(result: "failed") == fleet.refreshCalls, "every real request counted, as failed")
            #expect(fleet.countedRefreshes() == 0)
        }
    }

    @Test func theStoredTokenIsSealed() async throws {
        try await withFleet { fleet in
            let value = try await concurrentTokens(try await fleet.caches(), each: 1)[0]
            #expect(value.count > 10)
            // The whole row, as text and as the token column's bytes in hex: the token is in neither.
            let whole = try await rows(fleet.location, "SELECT t::text FROM account_tokens t")
            let hex = try await rows(fleet.location, "SELECT encode(token, 'hex') FROM account_tokens")
            #expect(whole.count == 1 && hex.count == 1)
            #expect(!whole[0].contains(value))
            let valueHex = Data(value.utf8).map { String(format: "%02x", $0) }.joined()
            #expect(!hex[0].contains(valueHex))
            #expect(!whole[0].contains(valueHex))
            // A relay with another key file cannot open it (it would ask Google for its own).
            let stranger = PostgresRelayStore(
                settings: PostgresSettings(location: fleet.location, relayName: "stranger"),
                options: .init(secretKeyFile: fleet.directory + "/other.key", passwordHashing: .testing, maximumConnections: 1, logger: logger))
            let pool = Task { await stranger.run() }
            defer { pool.cancel() }
            let secret = try #require(try await fleet.stores[0].accountSecret(named: "main"))
            let digest = Data(SHA256.hash(data: secret))
            let requirement = SharedTokenRequirement(expiresAfter: Date())
            #expect(try await fleet.stores[1].sharedAccessToken(account: "main", grantDigest: digest, meeting: requirement)?.value == value)
            #expect(try await stranger.sharedAccessToken(account: "main", grantDigest: digest, meeting: requirement) == nil)
            // Nor does another grant's digest get it.
            #expect(try await fleet.stores[1].sharedAccessToken(account: "main", grantDigest: Data(repeating: 7, count: 32),
                                                                meeting: requirement) == nil)
        }
    }

    @Test func aRelayDyingMidRefreshTakesTheLockWithIt() async throws {
        try await withFleet { fleet in
            let id = try #require(try await fleet.stores[0].account(named: "main")?.id)
            let caches = try await fleet.caches()
            // Another "relay" holds the account's refresh lock in an open transaction, then dies.
            let configuration = PostgresConnection.Configuration(
                host: fleet.location.host, port: fleet.location.port, username: fleet.location.user,
                password: fleet.location.password?.value, database: fleet.location.database, tls: .disable)
            let dying = try await PostgresConnection.connect(configuration: configuration, id: 7, logger: logger)
            try await dying.query("BEGIN", logger: logger)
            try await dying.query("SELECT pg_advisory_xact_lock(\(PostgresRelayStore.tokenLockSpace), \(Int32(id)))", logger: logger)
            let waiting = Task { try await caches[0].token().value }
            try await Task.sleep(for: .milliseconds(500))
            #expect(fleet.refreshCalls == 0, "the refresh waits for the lock")
            try await dying.close()  // no COMMIT: the backend ends, the lock goes with it
            let value = try await waiting.value
            #expect(!value.isEmpty)
            #expect(fleet.refreshCalls == 1)
        }
    }

    @Test func serviceAccountsShareOneTokenToo() async throws {
        try await withFleet { fleet in
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            try fleet.google.addServiceAccount(clientEmail: "relay@proj.iam.gserviceaccount.com",
                                               publicKeyPEM: key.publicKey.pemRepresentation, delegatedScopes: [GmailScope.send],
                                               clientID: "1234567890")
            fleet.google.addUser(email: "ceo@corp.example")
            let keyJSON = """
                {"type": "service_account", "project_id": "proj", "private_key_id": "abc123",
                 "private_key": \(String(data: try JSONEncoder().encode(key.pemRepresentation), encoding: .utf8)!),
                 "client_email": "relay@proj.iam.gserviceaccount.com", "client_id": "1234567890",
                 "token_uri": "\(fleet.google.tokenURL!.absoluteString)"}
                """
            try await fleet.stores[0].addAccount(
                name: "corp", kind: .serviceAccount, fromAddresses: ["ceo@corp.example"],
                secret: try StoredGrant.serviceAccount(keyJSON: keyJSON, subject: "ceo@corp.example").encoded(), state: .ok)
            let values = try await concurrentTokens(try await fleet.caches("corp"), each: 10)
            #expect(values.count == 20 && Set(values).count == 1)
            #expect(fleet.google.tokenRequestCount(grantType: "urn:ietf:params:oauth:grant-type:jwt-bearer") == 1)
            #expect(fleet.countedRefreshes("corp") == 1)
        }
    }

    @Test func aRelayWhoseSharedStoreFailsAsksGoogleItself() async throws {
        try await withFleet(relays: 1) { fleet in
            // The token share of an unmigrated database: every statement fails (no account_tokens, no accounts).
            try await TestCluster.withFreshDatabase(relayName: "broken") { settings in
                let broken = PostgresRelayStore(
                    settings: settings,
                    options: .init(secretKeyFile: fleet.directory + "/secret.key", passwordHashing: .testing, maximumConnections: 1,
                                   logger: logger))
                let pool = Task { await broken.run() }
                defer { pool.cancel() }
                let tokens = AccountTokens(store: fleet.stores[0], endpoints: fleet.endpoints, transport: HTTPTransport(timeout: 10),
                                           metrics: fleet.metrics[0], shared: broken, logger: logger)
                let account = try #require(try await fleet.stores[0].account(named: "main"))
                let token = try await tokens.entry(for: account).cache.token()
                #expect(!token.value.isEmpty, "the relay still gets a token, and can send")
                #expect(fleet.refreshCalls == 1)
                #expect(fleet.countedRefreshes() == 1)
            }
        }
    }

    @Test func theProbesFreshTokenIsSharedByRelaysProbingTogether() async throws {
        try await withFleet { fleet in
            let caches = try await fleet.caches()
            // Every relay's health probe at start asks for a fresh token: one goes to Google.
            let fresh = try await withThrowingTaskGroup(of: String.self) { group in
                for cache in caches { group.addTask { try await cache.freshToken().value } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(fresh).count == 1)
            #expect(fleet.refreshCalls == 1)
            // Later than the 60 s freshness, a probe proves the grant again with Google.
            fleet.clock.advance(120)
            _ = try await caches[1].freshToken()
            #expect(fleet.refreshCalls == 2)
        }
    }
}
