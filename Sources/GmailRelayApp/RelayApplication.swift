import Foundation
import Logging
import NIOCore
import NIOPosix
import RelayConfig
import RelayStore
import SMTPServer
import ServiceLifecycle
import UnixSignals

/// Builds the running relay from a configuration: shared by `serve` and the tests.
public struct RelayApplication: Sendable {
    public let configuration: RelayConfiguration
    public let store: RelayStore
    public let smtp: SMTPService
    let logger: Logger

    public init(configuration: RelayConfiguration, store: RelayStore, logger: Logger) throws {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        let smtpConfig = configuration.smtp
        let tlsContext = try smtpConfig.tls.map {
            try SMTPServerConfiguration.makeTLSContext(certificatePath: $0.certPath, keyPath: $0.keyPath)
        }
        let plaintextNetworks = smtpConfig.plaintextAuthNetworks
        let trustedNetworks = smtpConfig.trustedNetworks
        let serverConfiguration = SMTPServerConfiguration(
            hostname: smtpConfig.hostname, maxMessageBytes: smtpConfig.maxMessageBytes,
            maxRecipients: smtpConfig.maxRecipients, maxLineLength: smtpConfig.maxLineLength,
            maxErrors: smtpConfig.maxErrors, maxConnections: smtpConfig.maxConnections,
            commandTimeout: .seconds(smtpConfig.commandTimeoutSeconds), sessionTimeout: .seconds(smtpConfig.sessionTimeoutSeconds),
            tlsContext: tlsContext,
            plaintextAuthAllowed: { address in plaintextNetworks.contains { $0.contains(address) } },
            trusted: { address in trustedNetworks.contains { $0.contains(address) } }
        )
        var listeners: [SMTPService.Listener] = []
        if let listen = smtpConfig.listen {
            listeners.append(.init(host: listen.host, port: listen.port, implicitTLS: false))
        }
        if let listen = smtpConfig.tlsListen {
            listeners.append(.init(host: listen.host, port: listen.port, implicitTLS: true))
        }
        let delivery = SandboxDelivery(store: store, hostname: smtpConfig.hostname, logger: logger)
        let backend = StoreSubmissionBackend(store: store, configuration: configuration, delivery: delivery, logger: logger)
        self.smtp = SMTPService(configuration: serverConfiguration, listeners: listeners, backend: backend, logger: logger)
    }

    /// Every long-running part, in start order; the group stops them in reverse on SIGTERM/SIGINT.
    public func serviceGroup(signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        ServiceGroup(
            configuration: .init(
                services: [.init(service: smtp)],
                gracefulShutdownSignals: signals,
                logger: logger
            )
        )
    }
}
