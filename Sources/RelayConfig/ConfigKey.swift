import Foundation

/// One configuration key: its name in the file, its environment variable, its default and what it means.
///
/// `RelayConfiguration.knownKeys` is the single list the loader, `--help` and docs/configuration.md
/// draw on, so a key cannot exist in one place and be missing from another.
public struct ConfigKey: Sendable, Equatable {
    /// The dotted name used in the file, e.g. `smtp.tls.cert`.
    public let name: String
    /// The default as it would be written in the environment, or nil when there is none.
    /// Defaults are decoded by the same code as operator values, so the table cannot drift from behaviour.
    public let defaultValue: String?
    /// The default as shown to people: the value itself, "(off)", "(none)" or a phrase.
    public let defaultDescription: String
    /// One line saying what the key does.
    public let meaning: String
    /// Values of secret keys never appear in error messages.
    public let isSecret: Bool

    init(_ name: String, _ defaultValue: String?, shown: String? = nil, secret: Bool = false, _ meaning: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.defaultDescription = shown ?? defaultValue ?? "(none)"
        self.meaning = meaning
        self.isSecret = secret
    }

    /// `GMAIL_RELAY_` + the name upper-cased with dots as underscores.
    public var environmentVariable: String {
        ConfigKey.environmentPrefix + name.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    public static let environmentPrefix = "GMAIL_RELAY_"
}

/// An environment variable the relay reads that is not a configuration key.
public struct EnvironmentVariableInfo: Sendable, Equatable {
    public let name: String
    public let meaning: String
}

extension RelayConfiguration {
    /// Every configuration key, in the order of the docs.
    public static let knownKeys: [ConfigKey] = [
        ConfigKey("data.dir", "./gmail-relay-data", "Directory for the SQLite database, the spool and the secret key."),
        // Secret: the URL may hold the password, so errors never echo the value.
        ConfigKey("store.url", nil, shown: "(SQLite in data.dir)", secret: true,
                  "A shared PostgreSQL store for several relays: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?sslmode=disable|require|verify-full (default verify-full, disable on loopback)."),
        ConfigKey("store.password_file", nil,
                  "A file holding the database password (one line), instead of putting it in store.url; GMAIL_RELAY_STORE_PASSWORD is the third way."),
        ConfigKey("store.lease_seconds", "90",
                  "With store.url: how long a relay holds a message it is sending without a heartbeat (it beats every third of this); after it, another relay takes the message over. 6 to 3600."),
        ConfigKey("store.relay_name", nil, shown: "(this machine's host name)",
                  "This relay's name among the relays that share store.url: its claims, heartbeats and the status page's relay list carry it. Unique per relay; 1-64 of A-Z a-z 0-9 . _ -."),

        ConfigKey("smtp.listen", "127.0.0.1:2525",
                  "Submission listener, host:port ([::1]:2525 for IPv6; \"off\" disables it). STARTTLS is offered only when a certificate is set."),
        ConfigKey("smtp.tls_listen", "off", shown: "(off)",
                  "Implicit-TLS listener (the \"SSL/465\" setting of CMS plugins); needs smtp.tls.cert and smtp.tls.key."),
        ConfigKey("smtp.tls.cert", nil, "PEM certificate chain for STARTTLS and smtp.tls_listen (set both or neither of cert and key)."),
        ConfigKey("smtp.tls.key", nil, "PEM private key for smtp.tls.cert."),
        ConfigKey("smtp.hostname", nil, shown: "(this machine's host name)", "The name in the SMTP greeting and EHLO reply."),
        ConfigKey("smtp.max_message_bytes", "36700160", "Largest message accepted: 35 MiB, Gmail's upload limit."),
        ConfigKey("smtp.max_recipients", "100", "Most recipients in one message: RCPT TO, and the addresses in its To, Cc and Bcc headers."),
        ConfigKey("smtp.max_connections", "200", "Most SMTP connections at once; more are answered 421 and closed."),
        ConfigKey("smtp.max_connections_per_address", "20",
                  "Most SMTP connections at once from one client address; more are answered 421 (before any TLS) and closed."),
        ConfigKey("smtp.max_line_length", "4096",
                  "Longest command or text line in bytes (RFC 5321 needs at least 512 and 1000; 1000 is the lowest allowed)."),
        ConfigKey("smtp.command_timeout_seconds", "300", "How long a connection may wait between commands."),
        ConfigKey("smtp.session_timeout_seconds", "1800", "How long one connection may last in total."),
        ConfigKey("smtp.max_errors", "3", "Errors allowed in one session before the relay answers 421 and closes it."),
        ConfigKey("smtp.plaintext_auth_networks", "127.0.0.0/8,::1/128",
                  "Client networks where AUTH is allowed without TLS (CIDR list; empty means TLS only)."),
        ConfigKey("smtp.trusted_networks", "", shown: "(none)",
                  "Client networks that may submit without AUTH (CIDR list); needs smtp.trusted_account."),
        ConfigKey("smtp.trusted_account", nil, "The account that mail from smtp.trusted_networks is sent as."),

        ConfigKey("web.listen", "127.0.0.1:8025", "Status page, JSON API, /metrics and /healthz, host:port."),
        ConfigKey("web.admin_token", nil, shown: "(made by serve in data.dir)", secret: true,
                  "Token for everything on the page and API (at least 24 characters); when unset, serve makes one in data.dir/web-admin-token (gmail-relay web-token prints a sign-in link). Required when web.listen is not a loopback address."),
        ConfigKey("web.read_token", nil, secret: true,
                  "GET-only token (pages, /api/* reads, /metrics, /healthz), e.g. for the WordPress plugin; a POST with it is 403."),
        ConfigKey("web.public_url", nil,
                  "The status page's address as people reach it (e.g. https://relay.example.com behind a proxy); alerts link to it."),
        ConfigKey("web.open", "false",
                  "true: no token at all on a loopback web.listen (anyone on this machine may look and act); false: tokens required."),

        ConfigKey("google.auth_url", "https://accounts.google.com/o/oauth2/v2/auth", "OAuth consent page (reauth)."),
        ConfigKey("google.token_url", "https://oauth2.googleapis.com/token",
                  "OAuth token endpoint; a service-account key's own token_uri wins."),
        ConfigKey("google.gmail_url", "https://gmail.googleapis.com", "Base for /gmail/v1 and /upload/gmail/v1."),
        ConfigKey("google.tokeninfo_url", "https://oauth2.googleapis.com/tokeninfo",
                  "Scopes and address of a token (doctor, status)."),
        ConfigKey("google.revoke_url", "https://oauth2.googleapis.com/revoke", "Token revocation (account remove --revoke)."),

        ConfigKey("delivery.mode", "sync",
                  "sync: try Gmail before answering DATA, up to sync_timeout_seconds, then queue; queue: answer after the durable commit."),
        ConfigKey("delivery.sync_timeout_seconds", "10", "How long DATA waits for Gmail in sync mode before the message is queued."),
        ConfigKey("delivery.max_age_hours", "72", "After this long a queued message fails for good."),
        ConfigKey("delivery.account_concurrency", "4", "Sends in flight at once for one account."),
        ConfigKey("delivery.sends_per_minute", "60", "Most sends per minute for one account."),

        ConfigKey("log.retention_days", "30", "How many days send-log entries are kept."),
        ConfigKey("log.level", "info", "Least severe log level written: trace, debug, info, notice, warning, error or critical."),

        ConfigKey("health.probe_interval_hours", "6", "How often each account's token is checked in the background."),
        ConfigKey("alerts.webhook_url", nil, secret: true, "Where an alert is POSTed when an account needs attention, is still broken, or is ok again."),
        ConfigKey("alerts.webhook_format", "json",
                  "The webhook's kind: json (the alert document), slack (also Mattermost, Rocket.Chat), discord, teams or ntfy."),
        ConfigKey("alerts.remind_hours", "24", "While an account's problem lasts, another alert after this many hours (0: never)."),
        ConfigKey("alerts.email_to", nil,
                  "Addresses (comma-separated) that also get each alert by email, sent through a healthy account, never the broken one."),
    ]

    /// Environment variables that are read but are not keys.
    public static let otherEnvironmentVariables: [EnvironmentVariableInfo] = [
        EnvironmentVariableInfo(name: "GMAIL_RELAY_CONFIG", meaning: "Configuration file, when --config is not given."),
        EnvironmentVariableInfo(
            name: "GMAIL_RELAY_SECRET_KEY_FILE",
            meaning: "File holding the key that encrypts secrets at rest, instead of the one in data.dir."),
        EnvironmentVariableInfo(
            name: "GMAIL_RELAY_STORE_PASSWORD",
            meaning: "The password for store.url, instead of putting it in the URL or store.password_file."),
    ]

    /// The key with this dotted name, if any.
    public static func knownKey(named name: String) -> ConfigKey? {
        keysByName[name]
    }

    static let keysByName: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: knownKeys.map { ($0.name, $0) })

    /// Every `[section]` that can hold keys: each dotted prefix of a known key (`smtp`, `smtp.tls`, ...).
    static let knownSections: [String] = {
        var seen: Set<String> = []
        var sections: [String] = []
        for key in knownKeys {
            let parts = key.name.split(separator: ".")
            for count in 1..<parts.count {
                let prefix = parts[0..<count].joined(separator: ".")
                if seen.insert(prefix).inserted { sections.append(prefix) }
            }
        }
        return sections
    }()

    /// Messages for `GMAIL_RELAY_*` variables that are neither keys nor known variables.
    ///
    /// The loader ignores them (a deployment may share one environment across versions), but a typo
    /// silently does nothing, so the application should log these at startup.
    public static func unrecognizedEnvironmentVariables(in environment: [String: String]) -> [String] {
        let keyVariables = knownKeys.map(\.environmentVariable)
        let known = Set(keyVariables + otherEnvironmentVariables.map(\.name))
        return environment.keys
            .filter { $0.hasPrefix(ConfigKey.environmentPrefix) && !known.contains($0) }
            .sorted()
            .map { variable in
                if let near = KeySuggestion.nearest(to: variable, among: keyVariables) {
                    return "\(variable) is not a configuration variable (did you mean \(near)?)"
                }
                return "\(variable) is not a configuration variable"
            }
    }
}
