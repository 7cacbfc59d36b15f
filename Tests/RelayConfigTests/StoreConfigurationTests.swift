import Foundation
import Testing

@testable import RelayConfig

/// `store.url`, `store.password_file` and `GMAIL_RELAY_STORE_PASSWORD`.
@Suite struct StoreConfigurationTests {
    /// The error for `text` + `env`, failing the test when they load.
    private func error(_ text: String, env: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        do {
            let c = try load(text, env: env)
            Issue.record("expected an error, loaded \(String(describing: c.store.postgres))", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    private func location(_ url: String) throws -> PostgresLocation {
        try #require(try load("[store]\nurl = \"\(url)\"\n").store.postgres)
    }

    @Test func relayNameAndLease() throws {
        let plain = try load("")
        #expect(plain.store.leaseSeconds == 90)
        #expect(!plain.store.relayName.isEmpty && plain.store.relayName.count <= 64)
        let set = try load("[store]\nrelay_name = \"relay-b.eu\"\nlease_seconds = 12\n")
        #expect(set.store.relayName == "relay-b.eu")
        #expect(set.store.leaseSeconds == 12)
        #expect(try load("", env: ["GMAIL_RELAY_STORE_RELAY_NAME": "from-env"]).store.relayName == "from-env")
        let badName = error("[store]\nrelay_name = \"two words\"\n")
        #expect(badName?.description == "config.toml:2: store.relay_name: expected 1-64 of A-Z a-z 0-9 . _ - (got \"two words\")")
        #expect(error("[store]\nlease_seconds = 5\n")?.key == "store.lease_seconds")
        // A control character in the value is shown escaped, never sent to the operator's terminal.
        #expect(error("[store]\nrelay_name = \"a\\u0001b\"\n")?.description
            == "config.toml:2: store.relay_name: expected 1-64 of A-Z a-z 0-9 . _ - (got \"a\\u{1}b\")")
        #expect(error("[store]\nrelay_name = \"\(String(repeating: "r", count: 65))\"\n")?.key == "store.relay_name")
    }

    @Test func unsetMeansSQLite() throws {
        #expect(try load("").store.postgres == nil)
        #expect(try load("", env: ["GMAIL_RELAY_STORE_URL": ""]).store.postgres == nil)
    }

    @Test func fullURL() throws {
        let l = try location("postgres://relay:s3cret@db.internal:5433/relay_mail?sslmode=require")
        #expect(l.host == "db.internal")
        #expect(l.port == 5433)
        #expect(l.user == "relay")
        #expect(l.password?.value == "s3cret")
        #expect(l.database == "relay_mail")
        #expect(l.sslMode == .require)
        #expect(l.sslRootCertificate == nil)
    }

    @Test func defaults() throws {
        // No port: 5432. No sslmode: verify-full off this machine, disable on loopback.
        let remote = try location("postgresql://relay@db.internal/relay")
        #expect(remote.port == 5432)
        #expect(remote.password == nil)
        #expect(remote.sslMode == .verifyFull)
        #expect(try location("postgres://relay@127.0.0.1/relay").sslMode == .disable)
        #expect(try location("postgres://relay@localhost:5432/relay").sslMode == .disable)
        #expect(try location("postgres://relay@[::1]:5432/relay").sslMode == .disable)
        #expect(try location("POSTGRES://relay@db.internal/relay?sslmode=VERIFY-FULL").sslMode == .verifyFull)
    }

    @Test func ipv6AndEscapes() throws {
        let l = try location("postgres://relay%40corp:p%40ss%3Aw%2Fd@[2001:db8::5]:6000/mail%20db?sslmode=disable")
        #expect(l.host == "2001:db8::5")
        #expect(l.port == 6000)
        #expect(l.user == "relay@corp")
        #expect(l.password?.value == "p@ss:w/d")
        #expect(l.database == "mail db")
        // An unescaped @ in the password still parses: the last @ ends the user part.
        #expect(try location("postgres://relay:a@b@db.internal/relay").password?.value == "a@b")
    }

    @Test func rootCertificateForVerifyFull() throws {
        let dir = try TemporaryDirectory()
        let ca = try dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n")
        let l = try location("postgres://relay@db.internal/relay?sslmode=verify-full&sslrootcert=\(ca)")
        #expect(l.sslRootCertificate == ca)
        #expect(error("store.url = \"postgres://relay@db.internal/relay?sslmode=verify-full&sslrootcert=\(dir.path)/none.pem\"")?.description
            == "config.toml:1: store.url: file not found: \(dir.path)/none.pem")
        #expect(error("store.url = \"postgres://relay@db.internal/relay?sslmode=require&sslrootcert=\(ca)\"")?.description
            == "config.toml:1: store.url: sslrootcert is only used with sslmode=verify-full")
    }

    @Test(arguments: [
        ("mysql://relay@db/relay", "store.url: expected a postgres:// URL such as postgres://relay@db.internal:5432/relay?sslmode=require"),
        ("postgres://relay@db.internal", "store.url: names no database: add /DATABASE after the host, as in postgres://relay@db.internal:5432/relay?sslmode=require"),
        ("postgres://db.internal/relay", "store.url: names no user: write USER@ before the host, as in postgres://relay@db.internal:5432/relay?sslmode=require"),
        ("postgres://@db.internal/relay", "store.url: the user name is empty"),
        ("postgres://relay@db.internal/", "store.url: the database name is empty"),
        ("postgres://relay@/relay", "store.url: names no host (a socket directory is not supported): postgres://USER@HOST/DATABASE"),
        ("postgres://relay@db.internal:0/relay", "store.url: the port must be a number from 1 to 65535, got \"0\""),
        ("postgres://relay@db.internal:65536/relay", "store.url: the port must be a number from 1 to 65535, got \"65536\""),
        ("postgres://relay@db.internal:99999999999999999999/relay", "store.url: the port must be a number from 1 to 65535, got \"99999999999999999999\""),
        ("postgres://relay@db.internal:/relay", "store.url: the port must be a number from 1 to 65535, got \"\""),
        ("postgres://relay@db_internal!/relay", "store.url: \"db_internal!\" is not a host name or an IP address"),
        ("postgres://relay@[db]:5432/relay", "store.url: \"db\" in brackets is not an IPv6 address"),
        ("postgres://relay@[::1/relay", "store.url: the IPv6 address lacks its ]"),
        ("postgres://relay@db.internal/relay?sslmode=prefer", "store.url: sslmode must be one of disable, require, verify-full, got \"prefer\""),
        ("postgres://relay@db.internal/relay?sslmode=require&sslmode=disable", "store.url: sslmode is given twice"),
        ("postgres://relay@db.internal/relay?connect_timeout=5", "store.url: unknown parameter \"connect_timeout\" (supported: sslmode, sslrootcert)"),
        ("postgres://relay@db.internal/relay?sslmode", "store.url: query part \"sslmode\" needs a value (key=value)"),
        ("postgres://relay@db.internal/relay#x", "store.url: must not have a #fragment"),
        ("postgres://re%zzlay@db.internal/relay", "store.url: the user name has a bad %XX escape"),
        ("postgres://relay@db.internal/re%00lay", "store.url: the database name contains a NUL byte or a /"),
        ("postgres://relay@db.internal/my db", "store.url: must not contain spaces or control characters (escape them as %XX)"),
        ("postgres://relay@db.internal/" + String(repeating: "d", count: 64), "store.url: the database name is longer than 63 bytes (PostgreSQL's limit)"),
        ("postgres://relay@db.internal/" + String(repeating: "d", count: 5000), "store.url: is longer than 4096 bytes"),
    ])
    func badURLs(url: String, message: String) {
        let e = error("[store]\nurl = \"\(url)\"\n")
        #expect(e?.description == "config.toml:2: \(message)")
        #expect(e?.key == "store.url")
    }

    /// Errors about a URL with a password never repeat the password, whatever part is wrong.
    @Test(arguments: [
        "postgres://relay:Hunter2Secret@db.internal:99999/relay",
        "postgres://relay:Hunter2Secret@db.internal/relay?sslmode=bogus",
        "postgres://relay:Hunter2Secret@/relay",
        "postgres://relay:Hunter2Secret%zz@db.internal/relay",
        "mysql://relay:Hunter2Secret@db.internal/relay",
        "postgres://relay:x@db.internal/relay?password=Hunter2Secret",
    ])
    func errorsNeverShowThePassword(url: String) throws {
        for e in [error("store.url = \"\(url)\""), error("", env: ["GMAIL_RELAY_STORE_URL": url])] {
            let text = try #require(e).description
            #expect(!text.contains("Hunter2"), "\(text)")
        }
        // Bare (unquoted) values get the secret-key wording too.
        let bare = try #require(error("store.url = Hunter2Secret")).description
        #expect(!bare.contains("Hunter2"))
    }

    @Test func descriptionRedactsThePassword() throws {
        let l = try location("postgres://relay:Hunter2Secret@db.internal:5433/relay?sslmode=require")
        #expect(l.description == "postgres://relay:***@db.internal:5433/relay?sslmode=require")
        #expect(String(reflecting: l) == l.description)
        #expect("\(l.password!)" == "(redacted)")
        // dump() of the whole configuration, the way a debugging session would print it.
        var dumped = ""
        dump(try load("store.url = \"postgres://relay:Hunter2Secret@db.internal/relay\""), to: &dumped)
        #expect(!dumped.contains("Hunter2"))
        #expect(dumped.contains("postgres://relay:***@db.internal:5432/relay?sslmode=verify-full"))
        // Without a password there is nothing to hide; IPv6 goes back into brackets; names are escaped.
        #expect(try location("postgres://relay%40corp@[::1]/mail%20db").description == "postgres://relay%40corp@[::1]:5432/mail%20db?sslmode=disable")
    }

    @Test func environmentOverridesTheFile() throws {
        let c = try load("store.url = \"postgres://a@one.internal/a\"", env: ["GMAIL_RELAY_STORE_URL": "postgres://b@two.internal/b"])
        #expect(c.store.postgres?.host == "two.internal")
        let e = error("", env: ["GMAIL_RELAY_STORE_URL": "postgres://b@two.internal"])
        #expect(e?.description == "GMAIL_RELAY_STORE_URL: names no database: add /DATABASE after the host, as in postgres://relay@db.internal:5432/relay?sslmode=require")
    }

    // MARK: Password sources

    @Test func passwordFile() throws {
        let dir = try TemporaryDirectory()
        for (contents, expected) in [("sesame\n", "sesame"), ("sesame", "sesame"), ("ses ame\r\n", "ses ame")] {
            let file = try dir.write("pw", contents)
            let c = try load("store.url = \"postgres://relay@db.internal/relay\"\nstore.password_file = \"\(file)\"\n")
            #expect(c.store.postgres?.password?.value == expected)
        }
        let file = try dir.write("pw2", "from-file")
        let c = try load("", env: ["GMAIL_RELAY_STORE_URL": "postgres://relay@db.internal/relay", "GMAIL_RELAY_STORE_PASSWORD_FILE": file])
        #expect(c.store.postgres?.password?.value == "from-file")
    }

    @Test func badPasswordFiles() throws {
        let dir = try TemporaryDirectory()
        let url = "store.url = \"postgres://relay@db.internal/relay\"\n"
        func message(_ file: String) -> String? { error(url + "store.password_file = \"\(file)\"\n")?.description }
        #expect(message(dir.path + "/missing") == "config.toml:2: store.password_file: file not found: \(dir.path)/missing")
        #expect(message(dir.path) == "config.toml:2: store.password_file: \(dir.path) is a directory, expected a file holding the password")
        #expect(message(try dir.write("empty", "")) == "config.toml:2: store.password_file: \(dir.path)/empty is empty")
        #expect(message(try dir.write("nl", "\n")) == "config.toml:2: store.password_file: \(dir.path)/nl is empty")
        #expect(message(try dir.write("two", "a\nb\n")) == "config.toml:2: store.password_file: \(dir.path)/two must hold the password on one line")
        #expect(message(try dir.write("big", String(repeating: "x", count: 5000)))
            == "config.toml:2: store.password_file: \(dir.path)/big is larger than 4096 bytes; it should hold only the password")
        let latin1 = dir.path + "/latin1"
        try Data([0x70, 0xe9, 0x0a]).write(to: URL(fileURLWithPath: latin1))
        #expect(message(latin1) == "config.toml:2: store.password_file: \(latin1) is not UTF-8 text")
    }

    @Test func passwordFromTheEnvironment() throws {
        let c = try load("store.url = \"postgres://relay@db.internal/relay\"", env: ["GMAIL_RELAY_STORE_PASSWORD": "env-pass"])
        #expect(c.store.postgres?.password?.value == "env-pass")
        #expect(RelayConfiguration.unrecognizedEnvironmentVariables(in: ["GMAIL_RELAY_STORE_PASSWORD": "x"]).isEmpty)
    }

    @Test func onePasswordSourceOnly() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("pw", "p")
        #expect(error("store.url = \"postgres://relay:p@db.internal/relay\"\nstore.password_file = \"\(file)\"\n")?.description
            == "config.toml:1: store.url: the database password is given in more than one place: store.url (config.toml:1), store.password_file (config.toml:2); keep one")
        #expect(error("store.url = \"postgres://relay@db.internal/relay\"\nstore.password_file = \"\(file)\"\n",
                      env: ["GMAIL_RELAY_STORE_PASSWORD": "p"])?.description
            == "config.toml:1: store.url: the database password is given in more than one place: store.password_file (config.toml:2), GMAIL_RELAY_STORE_PASSWORD; keep one")
    }

    @Test func passwordWithoutURL() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("pw", "p")
        #expect(error("store.password_file = \"\(file)\"\n")?.description
            == "store.url: required because store.password_file is set (config.toml:1)")
        #expect(error("", env: ["GMAIL_RELAY_STORE_PASSWORD": "p"])?.description
            == "GMAIL_RELAY_STORE_PASSWORD: set, but store.url is not: the password is only used for a PostgreSQL store")
    }
}
