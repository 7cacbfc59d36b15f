import Foundation
import Testing

@testable import RelayConfig

@Suite struct RelayConfigurationTests {
    // MARK: Defaults

    @Test func defaultsWithEmptyText() throws {
        let c = try load("")
        #expect(c.dataDirectory == "./gmail-relay-data")
        #expect(c.secretKeyFile == nil)
        #expect(c.smtp.listen == SocketAddressSpec(host: "127.0.0.1", port: 2525))
        #expect(c.smtp.tlsListen == nil)
        #expect(c.smtp.tls == nil)
        #expect(c.smtp.hostname == "relay.test")
        #expect(c.smtp.maxMessageBytes == 36_700_160)
        #expect(c.smtp.maxRecipients == 100)
        #expect(c.smtp.maxConnections == 200)
        #expect(c.smtp.maxLineLength == 4096)
        #expect(c.smtp.commandTimeoutSeconds == 300)
        #expect(c.smtp.commandTimeout == .seconds(300))
        #expect(c.smtp.sessionTimeoutSeconds == 1800)
        #expect(c.smtp.sessionTimeout == .seconds(1800))
        #expect(c.smtp.maxErrors == 3)
        #expect(c.smtp.plaintextAuthNetworks == [CIDR(string: "127.0.0.0/8")!, CIDR(string: "::1/128")!])
        #expect(c.smtp.trustedNetworks == [])
        #expect(c.smtp.trustedAccount == nil)
        #expect(c.web.listen == SocketAddressSpec(host: "127.0.0.1", port: 8025))
        #expect(c.web.adminToken == nil)
        #expect(c.google.authURL.absoluteString == "https://accounts.google.com/o/oauth2/v2/auth")
        #expect(c.google.tokenURL.absoluteString == "https://oauth2.googleapis.com/token")
        #expect(c.google.gmailURL.absoluteString == "https://gmail.googleapis.com")
        #expect(c.google.tokeninfoURL.absoluteString == "https://oauth2.googleapis.com/tokeninfo")
        #expect(c.google.revokeURL.absoluteString == "https://oauth2.googleapis.com/revoke")
        #expect(c.delivery.mode == .sync)
        #expect(c.delivery.syncTimeoutSeconds == 10)
        #expect(c.delivery.syncTimeout == .seconds(10))
        #expect(c.delivery.maxAgeHours == 72)
        #expect(c.delivery.maxAge == .seconds(72 * 3600))
        #expect(c.delivery.accountConcurrency == 4)
        #expect(c.delivery.sendsPerMinute == 60)
        #expect(c.log.retentionDays == 30)
        #expect(c.log.level == .info)
        #expect(c.health.probeIntervalHours == 6)
        #expect(c.health.probeInterval == .seconds(6 * 3600))
        #expect(c.alerts.webhookURL == nil)
        #expect(c.store.postgres == nil)
    }

    @Test func publicEntryPointsUseTheMachineHostName() throws {
        let c = try RelayConfiguration.parse(text: "", fileName: "config.toml", environment: [:])
        #expect(c.smtp.hostname == RelayConfiguration.machineHostName())
        #expect(!c.smtp.hostname.isEmpty)
        #expect(RelayConfiguration.defaults == c)
        #expect(try RelayConfiguration.load(file: nil, environment: [:]) == c)
    }

    // MARK: File values

    @Test func everyKeyFromTheFile() throws {
        let dir = try TemporaryDirectory()
        let cert = try dir.write("cert.pem")
        let key = try dir.write("key.pem")
        let text = """
            # every key set to something other than its default
            data.dir = "/var/lib/gmail-relay"

            [smtp]
            listen = "0.0.0.0:587"
            tls_listen = "[::]:465"
            hostname = "relay.example.com"
            max_message_bytes = 10_485_760
            max_recipients = 50
            max_connections = 20
            max_line_length = 2000
            command_timeout_seconds = 60
            session_timeout_seconds = 600
            max_errors = 5
            plaintext_auth_networks = ["10.0.0.0/8", "fd00::/8"]
            trusted_networks = "192.168.1.0/24, 192.168.2.7"
            trusted_account = "site"

            [smtp.tls]
            cert = "\(cert)"
            key = '\(key)'

            [web]
            listen = "[::1]:9000"
            admin_token = "s3cret-s3cret-s3cret-s3cret"

            [google]
            auth_url = "http://127.0.0.1:9999/auth"
            token_url = "http://127.0.0.1:9999/token"
            gmail_url = "http://127.0.0.1:9999"
            tokeninfo_url = "http://127.0.0.1:9999/tokeninfo"
            revoke_url = "http://127.0.0.1:9999/revoke"

            [delivery]
            mode = "queue"
            sync_timeout_seconds = 20
            max_age_hours = 24
            account_concurrency = 2
            sends_per_minute = 30

            [log]
            retention_days = 7
            level = "debug"

            [health]
            probe_interval_hours = 12

            [alerts]
            webhook_url = "https://hooks.example.com/relay"
            """
        let c = try load(text)
        #expect(c.dataDirectory == "/var/lib/gmail-relay")
        #expect(c.smtp.listen == SocketAddressSpec(host: "0.0.0.0", port: 587))
        #expect(c.smtp.tlsListen == SocketAddressSpec(host: "::", port: 465))
        #expect(c.smtp.tls == TLSFiles(certPath: cert, keyPath: key))
        #expect(c.smtp.hostname == "relay.example.com")
        #expect(c.smtp.maxMessageBytes == 10_485_760)
        #expect(c.smtp.maxRecipients == 50)
        #expect(c.smtp.maxConnections == 20)
        #expect(c.smtp.maxLineLength == 2000)
        #expect(c.smtp.commandTimeoutSeconds == 60)
        #expect(c.smtp.sessionTimeoutSeconds == 600)
        #expect(c.smtp.maxErrors == 5)
        #expect(c.smtp.plaintextAuthNetworks.map(\.description) == ["10.0.0.0/8", "fd00::/8"])
        #expect(c.smtp.trustedNetworks.map(\.description) == ["192.168.1.0/24", "192.168.2.7/32"])
        #expect(c.smtp.trustedAccount == "site")
        #expect(c.web.listen == SocketAddressSpec(host: "::1", port: 9000))
        #expect(c.web.adminToken == "s3cret-s3cret-s3cret-s3cret")
        #expect(c.google.authURL == URL(string: "http://127.0.0.1:9999/auth"))
        #expect(c.google.tokenURL == URL(string: "http://127.0.0.1:9999/token"))
        #expect(c.google.gmailURL == URL(string: "http://127.0.0.1:9999"))
        #expect(c.google.tokeninfoURL == URL(string: "http://127.0.0.1:9999/tokeninfo"))
        #expect(c.google.revokeURL == URL(string: "http://127.0.0.1:9999/revoke"))
        #expect(c.delivery.mode == .queue)
        #expect(c.delivery.syncTimeoutSeconds == 20)
        #expect(c.delivery.maxAgeHours == 24)
        #expect(c.delivery.accountConcurrency == 2)
        #expect(c.delivery.sendsPerMinute == 30)
        #expect(c.log.retentionDays == 7)
        #expect(c.log.level == .debug)
        #expect(c.health.probeIntervalHours == 12)
        #expect(c.alerts.webhookURL == URL(string: "https://hooks.example.com/relay"))
    }

    @Test func dottedKeysAtTopLevelAndLenientForms() throws {
        let c = try load("""
            smtp.listen = "localhost:2526"
            smtp.max_recipients = "250"      # a quoted number, as the environment would give it
            smtp.tls_listen = false          # false means off
            log.level = "WARNING"
            delivery.mode = " queue "
            smtp.plaintext_auth_networks = []
            """)
        #expect(c.smtp.listen == SocketAddressSpec(host: "localhost", port: 2526))
        #expect(c.smtp.maxRecipients == 250)
        #expect(c.smtp.tlsListen == nil)
        #expect(c.log.level == .warning)
        #expect(c.delivery.mode == .queue)
        #expect(c.smtp.plaintextAuthNetworks == [])
    }

    @Test func listenOff() throws {
        for value in ["off", "OFF", ""] {
            #expect(try (load("smtp.listen = \"\(value)\"").smtp.listen) == nil, "\(value)")
            #expect(try load("", env: ["GMAIL_RELAY_SMTP_LISTEN": value]).smtp.listen == nil, "\(value)")
        }
    }

    // MARK: Environment

    @Test func environmentOverridesFile() throws {
        let file = """
            [smtp]
            listen = "127.0.0.1:2525"
            max_recipients = 10
            plaintext_auth_networks = ["10.0.0.0/8"]
            [web]
            admin_token = "from-file-from-file-from-file"
            [log]
            level = "error"
            """
        let c = try load(file, env: [
            "GMAIL_RELAY_SMTP_LISTEN": "[::1]:2600",
            "GMAIL_RELAY_SMTP_MAX_RECIPIENTS": " 20 ",
            "GMAIL_RELAY_SMTP_PLAINTEXT_AUTH_NETWORKS": "127.0.0.1, ::1",
            "GMAIL_RELAY_WEB_ADMIN_TOKEN": "from-env-from-env-from-env",
            "GMAIL_RELAY_DATA_DIR": "/srv/relay",
            "GMAIL_RELAY_SECRET_KEY_FILE": "/run/secrets/relay-key",
            "GMAIL_RELAY_UNRELATED_THING": "ignored",
            "OTHER_SMTP_LISTEN": "ignored",
        ])
        #expect(c.smtp.listen == SocketAddressSpec(host: "::1", port: 2600))
        #expect(c.smtp.maxRecipients == 20)
        #expect(c.smtp.plaintextAuthNetworks.map(\.description) == ["127.0.0.1/32", "::1/128"])
        #expect(c.web.adminToken == "from-env-from-env-from-env")
        #expect(c.dataDirectory == "/srv/relay")
        #expect(c.secretKeyFile == "/run/secrets/relay-key")
        #expect(c.log.level == .error, "keys not in the environment keep the file's value")
    }

    @Test func emptyEnvironmentValueClearsOptionalKeys() throws {
        let c = try load("web.admin_token = \"x\"\nsmtp.trusted_account = \"site\"", env: [
            "GMAIL_RELAY_WEB_ADMIN_TOKEN": "",
            "GMAIL_RELAY_SMTP_TRUSTED_ACCOUNT": "",
            "GMAIL_RELAY_SECRET_KEY_FILE": "",
        ])
        #expect(c.web.adminToken == nil)
        #expect(c.smtp.trustedAccount == nil)
        #expect(c.secretKeyFile == nil)
    }

    @Test func environmentVariableNames() {
        #expect(RelayConfiguration.knownKey(named: "smtp.tls.cert")?.environmentVariable == "GMAIL_RELAY_SMTP_TLS_CERT")
        #expect(RelayConfiguration.knownKey(named: "smtp.tls_listen")?.environmentVariable == "GMAIL_RELAY_SMTP_TLS_LISTEN")
        #expect(RelayConfiguration.knownKey(named: "data.dir")?.environmentVariable == "GMAIL_RELAY_DATA_DIR")
        let variables = RelayConfiguration.knownKeys.map(\.environmentVariable)
            + RelayConfiguration.otherEnvironmentVariables.map(\.name)
        #expect(Set(variables).count == variables.count, "two keys must not share a variable")
    }

    @Test func unrecognizedEnvironmentVariables() {
        let messages = RelayConfiguration.unrecognizedEnvironmentVariables(in: [
            "GMAIL_RELAY_SMTP_LISEN": "x",
            "GMAIL_RELAY_CONFIG": "/etc/relay.toml",
            "GMAIL_RELAY_SECRET_KEY_FILE": "/k",
            "GMAIL_RELAY_SMTP_LISTEN": "x",
            "GMAIL_RELAY_ZZZ": "x",
            "PATH": "/bin",
        ])
        #expect(messages == ([
            "GMAIL_RELAY_SMTP_LISEN is not a configuration variable (did you mean GMAIL_RELAY_SMTP_LISTEN?)",
            "GMAIL_RELAY_ZZZ is not a configuration variable",
        ]))
    }

    // MARK: Key table

    @Test func knownKeysTable() {
        let names = RelayConfiguration.knownKeys.map(\.name)
        #expect(Set(names).count == names.count)
        // The keys of docs/configuration.md ("Keys"): a key cannot silently go missing.
        for name in [
            "data.dir", "smtp.listen", "smtp.tls_listen", "smtp.tls.cert", "smtp.tls.key", "smtp.hostname",
            "smtp.max_message_bytes", "smtp.max_recipients", "smtp.max_connections", "smtp.max_line_length",
            "smtp.command_timeout_seconds", "smtp.session_timeout_seconds", "smtp.max_errors",
            "smtp.plaintext_auth_networks", "smtp.trusted_networks", "smtp.trusted_account", "web.listen",
            "web.admin_token", "google.auth_url", "google.token_url", "google.gmail_url", "google.tokeninfo_url",
            "google.revoke_url", "delivery.mode", "delivery.sync_timeout_seconds", "delivery.max_age_hours",
            "delivery.account_concurrency", "delivery.sends_per_minute", "log.retention_days", "log.level",
            "health.probe_interval_hours", "alerts.webhook_url", "web.read_token", "web.open", "smtp.max_connections_per_address",
            "alerts.webhook_format", "alerts.remind_hours", "alerts.email_to", "web.public_url",
            "store.url", "store.password_file", "store.relay_name", "store.lease_seconds",
        ] {
            #expect(RelayConfiguration.knownKey(named: name) != nil, "\(name)")
        }
        #expect(names.count == 43)
        for key in RelayConfiguration.knownKeys {
            #expect(!key.meaning.isEmpty, "\(key.name)")
            #expect(!key.defaultDescription.isEmpty, "\(key.name)")
        }
        #expect(RelayConfiguration.knownKey(named: "smtp.max_message_bytes")?.defaultValue == "36700160")
        #expect(RelayConfiguration.knownKey(named: "smtp.tls_listen")?.defaultDescription == "(off)")
        #expect(RelayConfiguration.knownKey(named: "web.admin_token")?.defaultDescription == "(made by serve in data.dir)")
    }

    /// docs/configuration.md lists every key with the table's default, so the two cannot drift apart.
    @Test func operatorDocumentListsEveryKey() throws {
        // The test folder may be reached through a symlink (a scratch package); the docs sit in the real tree.
        let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for key in RelayConfiguration.knownKeys {
            let shown = key.defaultDescription.hasPrefix("(") ? key.defaultDescription : "`\(key.defaultDescription)`"
            #expect(text.contains("| `\(key.name)` | \(shown) |"), "docs/configuration.md lacks the row for \(key.name)")
        }
        for variable in RelayConfiguration.otherEnvironmentVariables {
            #expect(text.contains("`\(variable.name)`"), "\(variable.name)")
        }
    }

    /// Every key in the table is decoded, and nothing is decoded that is not in the table.
    @Test func decoderReadsEveryKnownKey() throws {
        var reader = SettingsReader(file: [:], environment: [:])
        _ = try RelayConfiguration.decode(&reader, environment: [:], hostName: "h")
        #expect(reader.readKeys == Set(RelayConfiguration.knownKeys.map(\.name)))
    }

    /// Each key can be set through its variable, proving the name mapping for all of them.
    @Test func everyKeyIsSettableFromTheEnvironment() throws {
        let dir = try TemporaryDirectory()
        let samples: [String: String] = [
            "data.dir": "/d", "smtp.listen": "127.0.0.1:1", "smtp.tls_listen": "127.0.0.1:2",
            "smtp.tls.cert": try dir.write("c.pem"), "smtp.tls.key": try dir.write("k.pem"), "smtp.hostname": "h.example",
            "smtp.max_message_bytes": "1000", "smtp.max_recipients": "2", "smtp.max_connections": "3", "smtp.max_connections_per_address": "4",
            "smtp.max_line_length": "1001", "smtp.command_timeout_seconds": "5", "smtp.session_timeout_seconds": "6",
            "smtp.max_errors": "7", "smtp.plaintext_auth_networks": "10.0.0.0/8", "smtp.trusted_networks": "10.1.0.0/16",
            "smtp.trusted_account": "acct", "web.listen": "127.0.0.1:3", "web.admin_token": "t-long-enough-for-a-web-token", "web.read_token": "r-long-enough-for-a-web-token", "web.open": "false",
            "google.auth_url": "http://a.test/1", "google.token_url": "http://a.test/2", "google.gmail_url": "http://a.test/3",
            "google.tokeninfo_url": "http://a.test/4", "google.revoke_url": "http://a.test/5", "delivery.mode": "queue",
            "delivery.sync_timeout_seconds": "8", "delivery.max_age_hours": "9", "delivery.account_concurrency": "10",
            "delivery.sends_per_minute": "11", "log.retention_days": "12", "log.level": "trace",
            "health.probe_interval_hours": "13", "alerts.webhook_url": "http://a.test/6",
            "alerts.webhook_format": "ntfy", "alerts.remind_hours": "14", "alerts.email_to": "ops@example.com, b@example.org",
            "web.public_url": "https://relay.example.com/",
            "store.url": "postgres://relay@db.test:6432/mail?sslmode=require", "store.password_file": try dir.write("pw", "sesame\n"),
            "store.relay_name": "relay-7", "store.lease_seconds": "33",
        ]
        #expect(Set(samples.keys) == Set(RelayConfiguration.knownKeys.map(\.name)))
        var env: [String: String] = [:]
        for key in RelayConfiguration.knownKeys { env[key.environmentVariable] = samples[key.name] }
        let c = try load("", env: env)
        #expect(c.dataDirectory == "/d")
        #expect(c.store.relayName == "relay-7" && c.store.leaseSeconds == 33)
        #expect(c.smtp.listen?.port == 1)
        #expect(c.smtp.tlsListen?.port == 2)
        #expect(c.smtp.tls?.keyPath == samples["smtp.tls.key"])
        #expect(c.smtp.hostname == "h.example")
        #expect([c.smtp.maxMessageBytes, c.smtp.maxRecipients, c.smtp.maxConnections, c.smtp.maxLineLength,
             c.smtp.commandTimeoutSeconds, c.smtp.sessionTimeoutSeconds, c.smtp.maxErrors] == [1000, 2, 3, 1001, 5, 6, 7] as [Int])
        #expect(c.smtp.plaintextAuthNetworks.map(\.description) == ["10.0.0.0/8"])
        #expect(c.smtp.trustedNetworks.map(\.description) == ["10.1.0.0/16"])
        #expect(c.smtp.trustedAccount == "acct")
        #expect(c.web.listen.port == 3)
        #expect(c.web.adminToken == "t-long-enough-for-a-web-token")
        #expect([c.google.authURL, c.google.tokenURL, c.google.gmailURL, c.google.tokeninfoURL, c.google.revokeURL].map(\.path) == ["/1", "/2", "/3", "/4", "/5"])
        #expect(c.delivery.mode == .queue)
        #expect([c.delivery.syncTimeoutSeconds, c.delivery.maxAgeHours, c.delivery.accountConcurrency, c.delivery.sendsPerMinute,
             c.log.retentionDays, c.health.probeIntervalHours] == [8, 9, 10, 11, 12, 13] as [Int])
        #expect(c.log.level == .trace)
        #expect(c.alerts.webhookURL?.path == "/6")
        #expect(c.alerts.webhookFormat == .ntfy && c.alerts.remindHours == 14)
        #expect(c.alerts.emailTo == ["ops@example.com", "b@example.org"])
        #expect(c.web.publicURL?.host == "relay.example.com")
        #expect(c.store.postgres == PostgresLocation(
            host: "db.test", port: 6432, user: "relay", password: RedactedSecret("sesame"), database: "mail", sslMode: .require))
    }

    // MARK: Loading files

    @Test func loadReadsTheNamedFile() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("relay.toml", "[smtp]\nmax_recipients = 7\n")
        #expect(try RelayConfiguration.load(file: path, environment: [:]).smtp.maxRecipients == 7)
        // GMAIL_RELAY_CONFIG names the file when no path is given; an explicit path wins over it.
        #expect(try RelayConfiguration.load(file: nil, environment: ["GMAIL_RELAY_CONFIG": path]).smtp.maxRecipients == 7)
        let other = try dir.write("other.toml", "smtp.max_recipients = 8")
        #expect(try RelayConfiguration.load(file: other, environment: ["GMAIL_RELAY_CONFIG": path]).smtp.maxRecipients == 8)
    }

    @Test func loadErrorsNameTheFile() throws {
        let dir = try TemporaryDirectory()
        let bad = try dir.write("bad.toml", "\n\nsmtp.max_recipients = \"abc\"\n")
        let missing = dir.path + "/missing.toml"
        let cases: [(path: String?, env: [String: String], expected: String)] = [
            (missing, [:], "configuration file not found: \(missing)"),
            (nil, ["GMAIL_RELAY_CONFIG": missing], "configuration file not found: \(missing)"),
            (dir.path, [:], "configuration file \(dir.path) is a directory"),
            (bad, [:], "\(bad):3: smtp.max_recipients: expected a whole number, got \"abc\""),
        ]
        for (path, env, expected) in cases {
            let error = #expect(throws: ConfigurationError.self, "\(expected)") {
                try RelayConfiguration.load(file: path, environment: env)
            }
            #expect(error?.description == expected)
        }
        let latin1 = dir.path + "/latin1.toml"
        try Data([0x61, 0x20, 0x3D, 0x20, 0x22, 0xE9, 0x22]).write(to: URL(fileURLWithPath: latin1))
        let error = #expect(throws: ConfigurationError.self) {
            try RelayConfiguration.load(file: latin1, environment: [:])
        }
        #expect(error?.description == "configuration file \(latin1) is not UTF-8 text")
    }
}
