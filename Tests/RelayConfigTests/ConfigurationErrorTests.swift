import Foundation
import XCTest

@testable import RelayConfig

/// Every error form, with the exact sentence the operator sees.
final class ConfigurationErrorTests: XCTestCase {
    private struct Case {
        let text: String
        let env: [String: String]
        let expected: String
        let kind: ConfigurationError.Kind
        let line: UInt

        init(_ text: String, env: [String: String] = [:], _ expected: String, _ kind: ConfigurationError.Kind = .invalidValue,
             line: UInt = #line) {
            self.text = text
            self.env = env
            self.expected = expected
            self.kind = kind
            self.line = line
        }
    }

    private func check(_ cases: [Case]) {
        for c in cases {
            guard let error = loadError(c.text, env: c.env, line: c.line) else { continue }
            XCTAssertEqual(error.description, c.expected, line: c.line)
            XCTAssertEqual(error.kind, c.kind, c.expected, line: c.line)
        }
    }

    func testValueErrorsInTheFile() {
        check([
            Case("\n\n\n\n\n\n\n\n\n\n\nsmtp.max_recipients = \"abc\"",
                 #"config.toml:12: smtp.max_recipients: expected a whole number, got "abc""#),
            Case("[smtp]\nmax_recipients = abc", "config.toml:2: smtp.max_recipients: expected a whole number, got abc"),
            Case("smtp.max_recipients = [\"1\"]", #"config.toml:1: smtp.max_recipients: expected a whole number, got ["1"]"#),
            Case("smtp.max_recipients = 1.5", "config.toml:1: smtp.max_recipients: expected a whole number, got 1.5"),
            Case("smtp.max_recipients = 0", "config.toml:1: smtp.max_recipients: must be between 1 and 100000, got 0"),
            Case("smtp.max_connections = -3", "config.toml:1: smtp.max_connections: must be between 1 and 1000000, got -3"),
            Case("smtp.max_message_bytes = 50000000",
                 "config.toml:1: smtp.max_message_bytes: must be between 1 and 36700160 (35 MiB is Gmail's upload limit), got 50000000"),
            Case("smtp.max_line_length = 512",
                 "config.toml:1: smtp.max_line_length: must be between 1000 and 65536 (RFC 5321 allows 1000-octet lines), got 512"),
            Case("delivery.sync_timeout_seconds = 0", "config.toml:1: delivery.sync_timeout_seconds: must be between 1 and 316224000, got 0"),
            Case("smtp.listen = \"nope\"", #"config.toml:1: smtp.listen: expected host:port, got "nope""#),
            Case("smtp.listen = 127.0.0.1:2525",
                 #"config.toml:1: smtp.listen: text values need quotes: write "127.0.0.1:2525""#),
            Case("smtp.listen = \"127.0.0.1:70000\"",
                 #"config.toml:1: smtp.listen: expected host:port with a port from 1 to 65535, got "127.0.0.1:70000""#),
            Case("smtp.listen = \"127.0.0.1:0\"",
                 #"config.toml:1: smtp.listen: expected host:port with a port from 1 to 65535, got "127.0.0.1:0""#),
            Case("smtp.listen = \"::1:2525\"",
                 #"config.toml:1: smtp.listen: expected host:port with an IPv6 address in brackets, as in [::1]:2525, got "::1:2525""#),
            Case("smtp.listen = true", #"config.toml:1: smtp.listen: expected host:port or "off", got true"#),
            Case("web.listen = \"off\"", #"config.toml:1: web.listen: expected host:port, got "off""#),
            Case("smtp.trusted_networks = [\"10.0.0/8\"]\nsmtp.trusted_account = \"a\"",
                 #"config.toml:1: smtp.trusted_networks: expected a network like 10.0.0.0/8 or fd00::/8, got "10.0.0/8""#),
            Case("smtp.plaintext_auth_networks = \"127.0.0.0/33\"",
                 #"config.toml:1: smtp.plaintext_auth_networks: expected a prefix length of 0-32 for IPv4 or 0-128 for IPv6 after "/", got "127.0.0.0/33""#),
            Case("smtp.plaintext_auth_networks = 5",
                 #"config.toml:1: smtp.plaintext_auth_networks: expected a list of networks such as ["10.0.0.0/8"], got 5"#),
            Case("google.token_url = \"ftp://example.com/token\"",
                 #"config.toml:1: google.token_url: expected an http:// or https:// URL, got "ftp://example.com/token""#),
            Case("google.gmail_url = \"gmail.googleapis.com\"",
                 #"config.toml:1: google.gmail_url: expected an http:// or https:// URL, got "gmail.googleapis.com""#),
            Case("delivery.mode = \"later\"", #"config.toml:1: delivery.mode: expected one of sync, queue, got "later""#),
            Case("delivery.mode = queue", #"config.toml:1: delivery.mode: text values need quotes: write "queue""#),
            Case("log.level = \"verbose\"",
                 #"config.toml:1: log.level: expected one of trace, debug, info, notice, warning, error, critical, got "verbose""#),
            Case("data.dir = \"  \"", "config.toml:1: data.dir: must not be empty"),
            Case("data.dir = 5", "config.toml:1: data.dir: expected a quoted string, got 5"),
            Case("smtp.hostname = \"my relay\"",
                 #"config.toml:1: smtp.hostname: expected a host name like relay.example.com, got "my relay""#),
        ])
    }

    func testValueErrorsInTheEnvironment() {
        check([
            Case("", env: ["GMAIL_RELAY_SMTP_LISTEN": "nope"], #"GMAIL_RELAY_SMTP_LISTEN: expected host:port, got "nope""#),
            Case("smtp.max_recipients = 5", env: ["GMAIL_RELAY_SMTP_MAX_RECIPIENTS": "abc"],
                 #"GMAIL_RELAY_SMTP_MAX_RECIPIENTS: expected a whole number, got "abc""#),
            Case("", env: ["GMAIL_RELAY_SMTP_MAX_ERRORS": ""], #"GMAIL_RELAY_SMTP_MAX_ERRORS: expected a whole number, got """#),
            Case("", env: ["GMAIL_RELAY_WEB_LISTEN": "[::1]:x"],
                 #"GMAIL_RELAY_WEB_LISTEN: expected host:port with a port from 1 to 65535, got "[::1]:x""#),
            Case("", env: ["GMAIL_RELAY_SMTP_TRUSTED_NETWORKS": "10.0.0.0/8, bogus", "GMAIL_RELAY_SMTP_TRUSTED_ACCOUNT": "a"],
                 #"GMAIL_RELAY_SMTP_TRUSTED_NETWORKS: expected a network like 10.0.0.0/8 or fd00::/8, got "bogus""#),
            Case("", env: ["GMAIL_RELAY_DELIVERY_MODE": "fast"],
                 #"GMAIL_RELAY_DELIVERY_MODE: expected one of sync, queue, got "fast""#),
        ])
    }

    func testUnknownKeysAndSections() {
        check([
            Case("# comment\n\nsmtp.lisen = \"x\"", #"config.toml:3: unknown key "smtp.lisen" (did you mean smtp.listen?)"#, .unknownKey),
            Case("[smtp]\nmax_recipient = 5", #"config.toml:2: unknown key "smtp.max_recipient" (did you mean smtp.max_recipients?)"#,
                 .unknownKey),
            Case("listen = \"x\"", #"config.toml:1: unknown key "listen" (did you mean smtp.listen or web.listen?)"#, .unknownKey),
            Case("[smtp]\nweb.listen = \"x\"",
                 #"config.toml:2: unknown key "smtp.web.listen" (did you mean web.listen? under [smtp] it reads as smtp.web.listen)"#,
                 .unknownKey),
            Case("completely.different = 1", #"config.toml:1: unknown key "completely.different""#, .unknownKey),
            Case("# c\n[smpt]\nlisten = \"x\"", "config.toml:2: unknown section [smpt] (did you mean [smtp]?)", .unknownKey),
            Case("[nothing]", "config.toml:1: unknown section [nothing]", .unknownKey),
        ])
    }

    func testDuplicateKeyNamesBothLines() {
        check([
            Case("smtp.listen = \"127.0.0.1:1\"\n# x\n[smtp]\nlisten = \"127.0.0.1:2\"",
                 #"config.toml:4: duplicate key "smtp.listen", already set on line 1"#, .duplicateKey),
        ])
        // The environment overriding a file key is not a duplicate.
        XCTAssertEqual(try load("smtp.max_errors = 4", env: ["GMAIL_RELAY_SMTP_MAX_ERRORS": "6"]).smtp.maxErrors, 6)
    }

    func testFirstProblemInTheFileIsReported() {
        // A syntax error anywhere beats a bad value earlier in the file: nothing is decoded from a broken file.
        check([Case("smtp.max_errors = 0\nx = \"open", #"config.toml:2: unterminated string: a closing " is missing"#, .syntax)])
        // Unknown keys are reported in file order, before values are decoded.
        check([Case("smtp.max_errors = 0\nbogus = 1", #"config.toml:2: unknown key "bogus""#, .unknownKey)])
    }

    func testSecretValuesAreNeverEchoed() {
        check([
            Case("web.admin_token = 123456789", "config.toml:1: web.admin_token: expected a quoted string"),
            Case("web.admin_token = hunter2secret", "config.toml:1: web.admin_token: text values need quotes"),
            Case("alerts.webhook_url = \"ftp://hooks.example.com/T000/secret\"",
                 "config.toml:1: alerts.webhook_url: expected an http:// or https:// URL"),
        ])
    }

    // MARK: Rules across keys

    /// Numbers become seconds, nanoseconds and dates later: a value that would overflow that is refused here.
    func testNumbersThatWouldOverflowAreRefused() {
        for (key, value) in [("delivery.max_age_hours", "9223372036854775807"), ("health.probe_interval_hours", "3000000000000000"),
                             ("log.retention_days", "200000000000000000"), ("smtp.command_timeout_seconds", "9223372036854775807"),
                             ("delivery.sync_timeout_seconds", "99999999999"), ("smtp.max_connections_per_address", "0")] {
            let error = loadError("\(key) = \(value)")
            XCTAssertEqual(error?.key, key, "\(key) = \(value)")
            XCTAssertTrue(error?.message.contains("must be between") == true, "\(String(describing: error))")
        }
        XCTAssertEqual(loadError("smtp.max_recipients = 99999999999999999999")?.key, "smtp.max_recipients")
    }

    func testAdminTokenRule() throws {
        check([
            Case("web.listen = \"0.0.0.0:8025\"",
                 "web.admin_token: required because web.listen 0.0.0.0:8025 is not a loopback address (config.toml:1)", .missingValue),
            Case("", env: ["GMAIL_RELAY_WEB_LISTEN": "[2001:db8::1]:80"],
                 "web.admin_token: required because web.listen [2001:db8::1]:80 is not a loopback address (GMAIL_RELAY_WEB_LISTEN)",
                 .missingValue),
            Case("web.listen = \"relay.example.com:8025\"\nweb.admin_token = \"\"",
                 "web.admin_token: required because web.listen relay.example.com:8025 is not a loopback address (config.toml:1)",
                 .missingValue),
        ])
        XCTAssertEqual(loadError("web.listen = \"0.0.0.0:8025\"")?.key, "web.admin_token")
        // Loopback needs no token; a public listener with one loads.
        for listen in ["127.0.0.1:8025", "127.9.9.9:80", "[::1]:8025", "localhost:8025", "[::ffff:127.0.0.1]:8025"] {
            XCTAssertNoThrow(try load("web.listen = \"\(listen)\""), listen)
        }
        XCTAssertEqual(try load("web.listen = \"0.0.0.0:8025\"\nweb.admin_token = \"t-long-enough-for-a-web-token\"").web.adminToken, "t-long-enough-for-a-web-token")
        check([
            Case("web.admin_token = \"short\"",
                 "config.toml:1: web.admin_token: must be at least 24 characters long (make one with `openssl rand -base64 32`)"),
            Case("web.admin_token = \"t-long-enough-for-a-web-token\"\nweb.read_token = \"t-long-enough-for-a-web-token\"",
                 "config.toml:2: web.read_token: must differ from web.admin_token"),
            Case("web.listen = \"0.0.0.0:8025\"\nweb.admin_token = \"t-long-enough-for-a-web-token\"\nweb.open = true",
                 "config.toml:3: web.open: only allowed when web.listen is a loopback address, not 0.0.0.0:8025"),
            Case("web.open = true\nweb.read_token = \"t-long-enough-for-a-web-token\"",
                 "config.toml:1: web.open: true means no token, but web.admin_token or web.read_token is set: remove one or the other"),
            Case("web.open = maybe", "config.toml:1: web.open: expected true or false, got maybe"),
        ])
        XCTAssertTrue(try load("web.open = true").web.open)
        XCTAssertFalse(try load("").web.open)
    }

    func testTrustedAccountRule() throws {
        check([
            Case("smtp.trusted_networks = [\"10.0.0.0/8\"]",
                 "smtp.trusted_account: required because smtp.trusted_networks is set (config.toml:1); name the account their mail is sent as",
                 .missingValue),
        ])
        XCTAssertEqual(loadError("smtp.trusted_networks = \"10.0.0.0/8\"")?.key, "smtp.trusted_account")
        // An empty list needs no account.
        XCTAssertNoThrow(try load("smtp.trusted_networks = []"))
        XCTAssertNoThrow(try load("", env: ["GMAIL_RELAY_SMTP_TRUSTED_NETWORKS": ""]))
        let c = try load("smtp.trusted_networks = [\"10.0.0.0/8\"]\nsmtp.trusted_account = \"site\"")
        XCTAssertEqual(c.smtp.trustedAccount, "site")
    }

    func testTLSFilesBothOrNeitherAndPresent() throws {
        let dir = try TemporaryDirectory()
        let cert = try dir.write("cert.pem")
        let key = try dir.write("key.pem")
        let missing = dir.path + "/missing.pem"
        check([
            Case("[smtp.tls]\ncert = \"\(cert)\"", "smtp.tls.key: required because smtp.tls.cert is set (config.toml:2)", .missingValue),
            Case("", env: ["GMAIL_RELAY_SMTP_TLS_KEY": key],
                 "smtp.tls.cert: required because smtp.tls.key is set (GMAIL_RELAY_SMTP_TLS_KEY)", .missingValue),
            Case("smtp.tls.cert = \"\(missing)\"\nsmtp.tls.key = \"\(key)\"",
                 "config.toml:1: smtp.tls.cert: file not found: \(missing)"),
            Case("smtp.tls.cert = \"\(cert)\"", env: ["GMAIL_RELAY_SMTP_TLS_KEY": missing],
                 "GMAIL_RELAY_SMTP_TLS_KEY: file not found: \(missing)"),
            Case("smtp.tls.cert = \"\(cert)\"\nsmtp.tls.key = \"\(dir.path)\"",
                 "config.toml:2: smtp.tls.key: \(dir.path) is a directory, expected a PEM file"),
            Case("smtp.tls_listen = \"0.0.0.0:465\"",
                 "config.toml:1: smtp.tls_listen: 0.0.0.0:465 needs smtp.tls.cert and smtp.tls.key for implicit TLS"),
        ])
        let c = try load("smtp.tls_listen = \"0.0.0.0:465\"\nsmtp.tls.cert = \"\(cert)\"\nsmtp.tls.key = \"\(key)\"")
        XCTAssertEqual(c.smtp.tls, TLSFiles(certPath: cert, keyPath: key))
        XCTAssertEqual(c.smtp.tlsListen, SocketAddressSpec(host: "0.0.0.0", port: 465))
    }

    func testTimeoutAndListenerConflicts() {
        check([
            Case("smtp.session_timeout_seconds = 60",
                 "config.toml:1: smtp.session_timeout_seconds: must be at least smtp.command_timeout_seconds (300), got 60"),
            Case("smtp.command_timeout_seconds = 3600",
                 "config.toml:1: smtp.command_timeout_seconds: must not exceed smtp.session_timeout_seconds (1800), got 3600"),
            Case("smtp.listen = \"127.0.0.1:8025\"",
                 "config.toml:1: smtp.listen: 127.0.0.1:8025 is already taken by web.listen (127.0.0.1:8025)"),
            Case("web.listen = \"0.0.0.0:2525\"\nweb.admin_token = \"t-long-enough-for-a-web-token\"",
                 "config.toml:1: web.listen: 0.0.0.0:2525 is already taken by smtp.listen (127.0.0.1:2525)"),
        ])
        // Different hosts on one port are fine; so is turning the SMTP listener off.
        XCTAssertNoThrow(try load("smtp.listen = \"127.0.0.2:8025\""))
        XCTAssertNoThrow(try load("smtp.listen = \"off\"\nweb.listen = \"127.0.0.1:2525\""))
    }
}
