import Foundation
import NIOSSL
import PostgresNIO
import RelayConfig

/// How to reach the database: `store.url` turned into postgres-nio's configurations.
///
/// Both a pooled client (the store) and a single connection (migrations, which hold one session) are
/// built here, so TLS is set up once and the two cannot disagree.
public struct PostgresSettings: Sendable, CustomStringConvertible {
    public let location: PostgresLocation
    /// This relay's name in `relays`, `lease_owner` and `schema_migrations.applied_by`.
    public let relayName: String
    public var connectTimeout: Duration

    public init(location: PostgresLocation, relayName: String, connectTimeout: Duration = .seconds(10)) {
        self.location = location
        self.relayName = relayName
        self.connectTimeout = connectTimeout
    }

    /// The URL with the password as `***`.
    public var description: String { location.description }

    /// libpq's modes in NIOSSL terms. `require` encrypts without checking the certificate (as libpq
    /// does); `verify-full` checks the chain (the system's roots or `sslrootcert`) and the host name,
    /// or for an IP address host the certificate's IP addresses.
    func tlsConfiguration() -> TLSConfiguration? {
        switch location.sslMode {
        case .disable:
            return nil
        case .require:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .none
            return tls
        case .verifyFull:
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .fullVerification
            if let root = location.sslRootCertificate {
                tls.trustRoots = .file(root)
            }
            return tls
        }
    }

    func clientConfiguration(maximumConnections: Int) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = tlsConfiguration().map { .require($0) } ?? .disable
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user,
            password: location.password?.value, database: location.database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        configuration.options.maximumConnections = maximumConnections
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        if let configuration = tlsConfiguration() {
            do {
                tls = .require(try NIOSSLContext(configuration: configuration))
            } catch {
                throw PostgresStoreError.cannotConnect(
                    location: description, reason: "the TLS set-up failed (sslrootcert \(location.sslRootCertificate ?? "-")): \(error)")
            }
        } else {
            tls = .disable
        }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user,
            password: location.password?.value, database: location.database, tls: tls)
        configuration.options.connectTimeout = .init(connectTimeout)
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    /// Shown in pg_stat_activity, so a DBA can tell the relays' sessions apart.
    private var applicationName: String {
        String("gmail-relay \(relayName)".utf8.prefix(63)) ?? "gmail-relay"
    }
}
