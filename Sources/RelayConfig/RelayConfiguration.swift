import Foundation

/// The relay's whole configuration: typed, with defaults filled in and cross-key rules checked.
///
/// Build one with `load(file:environment:)` (or `parse(text:fileName:environment:)` in tests). A value
/// that exists has passed validation; the fields are `var` so tests can adjust a loaded configuration.
public struct RelayConfiguration: Sendable, Equatable {
    /// `data.dir`: the SQLite database, the spool and the secret key live here.
    public var dataDirectory: String
    /// `GMAIL_RELAY_SECRET_KEY_FILE`: the key that encrypts secrets at rest, when not the one in `dataDirectory`.
    public var secretKeyFile: String?
    public var store: Store
    public var smtp: SMTP
    public var web: Web
    public var google: Google
    public var delivery: Delivery
    public var log: Log
    public var health: Health
    public var alerts: Alerts

    public struct Store: Sendable, Equatable {
        /// `store.url`: the shared PostgreSQL database, with its password resolved (from the URL,
        /// `store.password_file` or `GMAIL_RELAY_STORE_PASSWORD`). nil: SQLite in `data.dir`.
        public var postgres: PostgresLocation?
        /// `store.relay_name`: this relay among those sharing `postgres` (default: the machine's host name).
        public var relayName: String
        /// `store.lease_seconds`: a claim's life without a heartbeat.
        public var leaseSeconds: Int
    }

    public struct SMTP: Sendable, Equatable {
        /// `smtp.listen`; nil when set to "off".
        public var listen: SocketAddressSpec?
        /// `smtp.tls_listen`: implicit TLS; nil when off (the default).
        public var tlsListen: SocketAddressSpec?
        /// `smtp.tls.cert` and `smtp.tls.key`; nil when neither is set.
        public var tls: TLSFiles?
        public var hostname: String
        public var maxMessageBytes: Int
        public var maxRecipients: Int
        public var maxConnections: Int
        public var maxConnectionsPerAddress: Int
        public var maxLineLength: Int
        public var commandTimeoutSeconds: Int
        public var sessionTimeoutSeconds: Int
        public var maxErrors: Int
        public var plaintextAuthNetworks: [CIDR]
        public var trustedNetworks: [CIDR]
        public var trustedAccount: String?

        public var commandTimeout: Duration { .seconds(commandTimeoutSeconds) }
        public var sessionTimeout: Duration { .seconds(sessionTimeoutSeconds) }
    }

    public struct Web: Sendable, Equatable {
        public var listen: SocketAddressSpec
        /// Required (validation fails without it) when `listen` is not a loopback address. When nil and
        /// not `open`, `serve` uses the token it keeps in the data directory.
        public var adminToken: String?
        /// `web.read_token`: GET only.
        public var readToken: String?
        /// `web.open`: no token on a loopback listener.
        public var open: Bool
        /// `web.public_url`: where people reach the page (alerts link to it); nil when unset.
        public var publicURL: URL? = nil
    }

    public struct Google: Sendable, Equatable {
        public var authURL: URL
        public var tokenURL: URL
        public var gmailURL: URL
        public var tokeninfoURL: URL
        public var revokeURL: URL
    }

    public struct Delivery: Sendable, Equatable {
        public var mode: DeliveryMode
        public var syncTimeoutSeconds: Int
        public var maxAgeHours: Int
        public var accountConcurrency: Int
        public var sendsPerMinute: Int

        public var syncTimeout: Duration { .seconds(syncTimeoutSeconds) }
        public var maxAge: Duration { .seconds(maxAgeHours * 3600) }
    }

    public struct Log: Sendable, Equatable {
        public var retentionDays: Int
        public var level: LogLevel
    }

    public struct Health: Sendable, Equatable {
        public var probeIntervalHours: Int
        public var probeInterval: Duration { .seconds(probeIntervalHours * 3600) }
    }

    public struct Alerts: Sendable, Equatable {
        public var webhookURL: URL?
        /// `alerts.webhook_format`.
        public var webhookFormat: WebhookFormat = .json
        /// `alerts.remind_hours`; 0: no reminders.
        public var remindHours: Int = 24
        /// `alerts.email_to`; empty when unset.
        public var emailTo: [String] = []
    }

    /// `alerts.webhook_format`: what the webhook understands.
    public enum WebhookFormat: String, Sendable, Equatable, CaseIterable {
        case json, slack, discord, teams, ntfy
    }
}

/// The PEM files for STARTTLS and implicit TLS. Both exist and were readable when the configuration loaded.
public struct TLSFiles: Sendable, Equatable {
    public var certPath: String
    public var keyPath: String
}

/// `delivery.mode`.
public enum DeliveryMode: String, Sendable, Equatable, CaseIterable {
    /// Try Gmail before answering DATA, up to the sync timeout, then queue.
    case sync
    /// Answer DATA right after the durable commit; the worker sends later.
    case queue
}

/// `log.level`. The names and order are swift-log's `Logger.Level`, so the application can convert with
/// `Logger.Level(rawValue: level.rawValue)` without this module depending on swift-log.
public enum LogLevel: String, Sendable, Equatable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}
