import AccountAlerts
import Delivery
import Foundation
import GmailAPI
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RelayConfig
import RelayStatus
import RelayStore
import RelayVocabulary
import SMTPServer
import ServiceLifecycle
import StatusWeb
import Submission
import UnixSignals

/// Builds the running relay from a configuration: shared by `serve` and the tests.
public struct RelayApplication: Sendable {
    public let configuration: RelayConfiguration
    public let store: any RelayStoreAPI
    public let storage: RelayStorage
    public let smtp: SMTPService
    /// The SMTP certificate in use (nil without smtp.tls); SIGHUP reloads it.
    public let certificate: SMTPCertificate?
    public let metrics: RelayMetrics
    public let worker: DeliveryWorker
    public let tokens: AccountTokens
    public let retention: RetentionService
    public let probe: TokenHealthProbe
    /// The status page, JSON API, /metrics and /healthz on web.listen.
    public let web: StatusWebServer
    /// Explains accounts and messages for the page, `status` and the alerts.
    public let reporter: StatusReporter
    let webService: any Service
    /// Where the page's admin token came from, and whether this start made it.
    let webAdminToken: WebAdminToken.Resolved
    let alerts: AccountStateWatcher?
    /// On a shared store: keeps this relay's share of the per-account limits in step with the fleet.
    let fleetShare: FleetShareService?
    let notifier: SystemdNotifier
    let webListening = NIOLockedValueBox(false)
    let logger: Logger

    /// On the SQLite store in the data directory.
    public init(configuration: RelayConfiguration, store: RelayStore, logger: Logger) throws {
        try self.init(configuration: configuration, storage: .sqlite(store), logger: logger)
    }

    public init(configuration: RelayConfiguration, storage: RelayStorage, logger: Logger) throws {
        self.configuration = configuration
        self.storage = storage
        let store = storage.store
        self.store = store
        self.logger = logger
        let smtpConfig = configuration.smtp
        let certificate = try smtpConfig.tls.map {
            try SMTPCertificate(certificatePath: $0.certPath, keyPath: $0.keyPath)
        }
        self.certificate = certificate
        self.notifier = SystemdNotifier()
        let plaintextNetworks = smtpConfig.plaintextAuthNetworks
        let trustedNetworks = smtpConfig.trustedNetworks
        let serverConfiguration = SMTPServerConfiguration(
            hostname: smtpConfig.hostname, maxMessageBytes: smtpConfig.maxMessageBytes,
            maxRecipients: smtpConfig.maxRecipients, maxLineLength: smtpConfig.maxLineLength,
            maxErrors: smtpConfig.maxErrors, maxConnections: smtpConfig.maxConnections,
            maxConnectionsPerAddress: smtpConfig.maxConnectionsPerAddress,
            commandTimeout: .seconds(smtpConfig.commandTimeoutSeconds), sessionTimeout: .seconds(smtpConfig.sessionTimeoutSeconds),
            certificate: certificate,
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
        let metrics = RelayMetrics()
        let endpoints = configuration.google.endpoints
        let transport = HTTPTransport()
        let tokens = AccountTokens(store: store, endpoints: endpoints, transport: transport, metrics: metrics,
                                   shared: storage.sharedTokens, logger: logger)
        let delivery = configuration.delivery
        let deliverer = MessageDeliverer(
            store: store, tokens: tokens, sender: GmailSender(endpoints: endpoints, transport: transport),
            policy: RetryPolicy(maxAge: TimeInterval(delivery.maxAgeHours) * 3600), hostname: smtpConfig.hostname,
            metrics: metrics, logger: logger, outgoingDirectory: storage.spool.directory)
        let lanes = DeliveryLanes(concurrency: delivery.accountConcurrency, sendsPerMinute: delivery.sendsPerMinute)
        let worker = DeliveryWorker(store: store, deliverer: deliverer, lanes: lanes, logger: logger)
        self.metrics = metrics
        self.tokens = tokens
        self.worker = worker
        self.retention = RetentionService(store: store, retentionDays: configuration.log.retentionDays, logger: logger)
        self.probe = TokenHealthProbe(store: store, tokens: tokens, interval: configuration.health.probeInterval, logger: logger)
        let intake = storage.makeIntake(metrics)
        let backend = SubmissionIntake(
            store: store, intake: intake, spool: storage.spool, policy: IntakePolicy(configuration), delivery: WorkerSyncDelivery(worker: worker), metrics: metrics, logger: logger)
        self.smtp = SMTPService(configuration: serverConfiguration, listeners: listeners, backend: backend, logger: logger)

        let certificatePath = smtpConfig.tls?.certPath ?? ""
        let reporter = StatusReporter(store: store, subject: Self.serviceAccountSubject(store), certificate: {
            certificate?.notValidAfter.map { ServedCertificate(path: certificatePath, notValidAfter: $0) }
        }, fleet: storage.fleet)
        self.reporter = reporter
        // The page needs a token unless web.open: the configured one, or the one kept in the data directory.
        let adminToken = try WebAdminToken.resolve(configuration)
        self.webAdminToken = adminToken
        let security = try WebSecurity(listen: configuration.web.listen, adminToken: adminToken.token, readToken: configuration.web.readToken)
        let dispatcher = Self.alertDispatcher(configuration, store: (store, intake), wake: { worker.wake() }, logger: logger)
        self.web = try StatusWebServer(
            reporter: reporter, security: security,
            metrics: {
                metrics.prometheusText() + (await StoreGauges.prometheusText(store)) + (await Self.fleetGauges(reporter))
                    + Self.certificateGauge(certificate)
            },
            logger: logger, alerts: Self.alertControls(configuration, dispatcher))
        let webListening = self.webListening
        self.webService = web.application(listen: configuration.web.listen, onRunning: { _ in
            webListening.withLockedValue { $0 = true }
        })
        self.alerts = dispatcher.map { AccountStateWatcher(reporter: reporter, dispatcher: $0, logger: logger) }
        self.fleetShare = storage.fleet.map { FleetShareService(fleet: $0, lanes: lanes, logger: logger) }
    }

    /// The relays sharing the store (nothing on SQLite); a store that cannot be read is said as a comment.
    static func fleetGauges(_ reporter: StatusReporter) async -> String {
        guard let fleet = reporter.fleet else { return "" }
        do {
            let now = Date()
            return StoreGauges.fleetText(try await fleet.relays().map { RelayStatus($0, now: now, goneAfter: fleet.goneAfter) })
        } catch {
            return "# the relays of the shared store could not be read\n"
        }
    }

    /// The served SMTP certificate's end, for the certificate-expiry alert (contrib/prometheus/alerts.yml);
    /// nothing without smtp.tls.
    static func certificateGauge(_ certificate: SMTPCertificate?) -> String {
        guard let end = certificate?.notValidAfter else { return "" }
        return """
            # HELP relay_smtp_certificate_expiry_timestamp_seconds When the SMTP certificate in use ends (notAfter), Unix seconds.
            # TYPE relay_smtp_certificate_expiry_timestamp_seconds gauge
            relay_smtp_certificate_expiry_timestamp_seconds \(Int64(end.timeIntervalSince1970))

            """
    }

    /// The user a service account impersonates is kept in its sealed grant; the page names it in steps.
    static func serviceAccountSubject(_ store: any AccountStore) -> StatusReporter.SubjectLookup {
        { account in
            guard account.kind == .serviceAccount,
                  let data = try? await store.accountSecret(named: account.name),
                  case .serviceAccount(_, let subject)? = try? StoredGrant.decode(data)
            else { return nil }
            return subject
        }
    }

    /// The configured certificate file's end, read from disk (for commands that are not the server).
    static func certificateOnDisk(_ configuration: RelayConfiguration) -> ServedCertificate? {
        guard let tls = configuration.smtp.tls, let notAfter = try? SMTPCertificate.notValidAfter(ofFile: tls.certPath)
        else { return nil }
        return ServedCertificate(path: tls.certPath, notValidAfter: notAfter)
    }

    /// Every long-running part, in start order; the group stops them in reverse on SIGTERM/SIGINT.
    /// SIGHUP is not a shutdown signal: it reloads the SMTP certificate.
    public func serviceGroup(signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        let reload = CertificateReloadService(certificate: certificate, notifier: notifier, logger: logger)
        let webListening = self.webListening
        let readiness = ReadinessService(
            smtp: smtp, webListening: { webListening.withLockedValue { $0 } }, notifier: notifier, logger: logger)
        return ServiceGroup(
            configuration: .init(
                // Stopped in reverse: readiness first (systemd hears STOPPING=1), then SMTP (sessions finish,
                // sync sends included), the web page and alerts next, the worker, and the store's own
                // parts (PostgreSQL's pool and heartbeat) last.
                services: storage.services.map { .init(service: $0) } + [.init(service: worker), .init(service: retention), .init(service: probe), .init(service: reload)]
                    + (alerts.map { [.init(service: $0)] } ?? []) + (fleetShare.map { [.init(service: $0)] } ?? [])
                    + [.init(service: webService), .init(service: smtp), .init(service: readiness)],
                gracefulShutdownSignals: signals,
                logger: logger
            )
        )
    }
}

extension RelayConfiguration.Google {
    /// Where Google is, as the GmailAPI module takes it.
    var endpoints: GoogleEndpoints {
        GoogleEndpoints(authURL: authURL, tokenURL: tokenURL, gmailURL: gmailURL, tokeninfoURL: tokeninfoURL, revokeURL: revokeURL)
    }
}
