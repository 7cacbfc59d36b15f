import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension RelayConfiguration {
    /// Reads the config file (if any), lays `GMAIL_RELAY_*` variables over it and validates the result.
    ///
    /// - Parameter path: the file named by `--config`; when nil, `GMAIL_RELAY_CONFIG` names it; when
    ///   neither is set (or the variable is empty) there is no file and only defaults and the environment apply.
    ///   A file that was named but cannot be read is an error, never a silent fall-back to defaults.
    public static func load(file path: String?, environment: [String: String]) throws -> RelayConfiguration {
        let named = path ?? environment["GMAIL_RELAY_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        guard let path = named else {
            return try parse(text: "", fileName: "(no file)", environment: environment)
        }
        return try parse(text: readFile(path), fileName: path, environment: environment)
    }

    /// Parses config text as if read from `fileName` (used in messages), then applies `environment`.
    /// TLS file paths are still checked on disk.
    public static func parse(text: String, fileName: String, environment: [String: String]) throws -> RelayConfiguration {
        try parse(text: text, fileName: fileName, environment: environment, hostName: machineHostName())
    }

    /// Every default, as if loaded with no file and an empty environment.
    public static var defaults: RelayConfiguration {
        // Cannot fail: the defaults are valid, which the tests check on every build.
        try! parse(text: "", fileName: "(defaults)", environment: [:])
    }

    static func parse(text: String, fileName: String, environment: [String: String], hostName: String) throws(ConfigurationError)
        -> RelayConfiguration
    {
        let items = try ConfigFileParser.parse(text, fileName: fileName)
        let file = try fileSettings(items, fileName: fileName)
        var reader = SettingsReader(file: file, environment: environment)
        let configuration = try decode(&reader, environment: environment, hostName: hostName)
        try validate(configuration, reader)
        return configuration
    }

    // MARK: File

    private static func readFile(_ path: String) throws(ConfigurationError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError(.unreadableFile, at: nil, key: nil, "configuration file not found: \(path)")
        }
        guard !isDirectory.boolValue else {
            throw ConfigurationError(.unreadableFile, at: nil, key: nil, "configuration file \(path) is a directory")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(.unreadableFile, at: nil, key: nil, "cannot read configuration file \(path) (check its permissions)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(.unreadableFile, at: nil, key: nil, "configuration file \(path) is not UTF-8 text")
        }
        return text
    }

    /// Checks every header and key against the known ones and turns entries into settings.
    /// Errors come in file order, so the first problem in the file is the one reported.
    static func fileSettings(_ items: [ConfigFileParser.Item], fileName: String) throws(ConfigurationError) -> [String: RawSetting] {
        var settings: [String: RawSetting] = [:]
        for item in items {
            switch item {
            case .section(let name, let line):
                guard knownSections.contains(name) else {
                    var message = "unknown section [\(name)]"
                    if let near = KeySuggestion.nearest(to: name, among: knownSections) {
                        message += " (did you mean [\(near)]?)"
                    }
                    throw ConfigurationError(.unknownKey, at: .file(name: fileName, line: line), key: nil, message)
                }
            case .entry(let key, let writtenKey, let section, let value, let line):
                guard keysByName[key] != nil else {
                    let message = "unknown key \(quoted(key))" + unknownKeyHint(key: key, writtenKey: writtenKey, section: section)
                    throw ConfigurationError(.unknownKey, at: .file(name: fileName, line: line), key: nil, message)
                }
                if let earlier = settings[key], case .file(_, let firstLine) = earlier.origin {
                    throw ConfigurationError(
                        .duplicateKey, at: .file(name: fileName, line: line), key: key,
                        "duplicate key \(quoted(key)), already set on line \(firstLine)")
                }
                settings[key] = RawSetting(value: value, origin: .file(name: fileName, line: line))
            }
        }
        return settings
    }

    /// " (did you mean ...?)" for an unknown key, or "".
    private static func unknownKeyHint(key: String, writtenKey: String, section: String?) -> String {
        let names = knownKeys.map(\.name)
        // `web.listen = ...` written after `[smtp]` means smtp.web.listen: say why.
        if let section, keysByName[writtenKey] != nil {
            return " (did you mean \(writtenKey)? under [\(section)] it reads as \(key))"
        }
        // `listen = ...` at the top: a last part that several sections share.
        let endings = names.filter { $0.hasSuffix("." + key) }
        if !endings.isEmpty {
            return " (did you mean \(endings.joined(separator: " or "))?)"
        }
        if let near = KeySuggestion.nearest(to: key, among: names) {
            return " (did you mean \(near)?)"
        }
        return ""
    }

    // MARK: Decoding

    /// Upper bounds for durations: ten years. Values are multiplied into seconds, nanoseconds and dates
    /// later, and a number from a file must never be able to overflow that arithmetic (a trap is an outage).
    static let maxSeconds = 10 * 366 * 24 * 3600
    static let maxHours = 10 * 366 * 24
    /// The one minimum for web tokens: the loader checks configured ones, the web server (WebSecurity) any it is given.
    public static let minimumWebTokenLength = 24

    static func decode(_ r: inout SettingsReader, environment: [String: String], hostName: String) throws(ConfigurationError)
        -> RelayConfiguration
    {
        let dataDirectory = try r.requiredText("data.dir")
        let secretKeyFile = environment["GMAIL_RELAY_SECRET_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let store = RelayConfiguration.Store(
            postgres: try postgresLocation(&r, environment: environment), relayName: try relayName(&r, default: hostName),
            leaseSeconds: try r.wholeNumber("store.lease_seconds", in: 6...3600))

        let smtp = RelayConfiguration.SMTP(
            listen: try r.socketAddress("smtp.listen", allowOff: true),
            tlsListen: try r.socketAddress("smtp.tls_listen", allowOff: true),
            tls: try tlsFiles(&r),
            hostname: try greetingHostName(&r, default: hostName),
            maxMessageBytes: try r.wholeNumber("smtp.max_message_bytes", in: 1...36_700_160, because: "35 MiB is Gmail's upload limit"),
            maxRecipients: try r.wholeNumber("smtp.max_recipients", in: 1...100_000),
            maxConnections: try r.wholeNumber("smtp.max_connections", in: 1...1_000_000),
            maxConnectionsPerAddress: try r.wholeNumber("smtp.max_connections_per_address", in: 1...1_000_000),
            // RFC 5321 4.5.3.1.6: a text line may be 1000 octets, so less would refuse valid mail; the upper
            // bound keeps one connection's line buffer small.
            maxLineLength: try r.wholeNumber("smtp.max_line_length", in: 1000...65536, because: "RFC 5321 allows 1000-octet lines"),
            commandTimeoutSeconds: try r.wholeNumber("smtp.command_timeout_seconds", in: 1...Self.maxSeconds),
            sessionTimeoutSeconds: try r.wholeNumber("smtp.session_timeout_seconds", in: 1...Self.maxSeconds),
            maxErrors: try r.wholeNumber("smtp.max_errors", in: 1...1000),
            plaintextAuthNetworks: try r.networks("smtp.plaintext_auth_networks"),
            trustedNetworks: try r.networks("smtp.trusted_networks"),
            trustedAccount: try r.optionalText("smtp.trusted_account")
        )
        let web = RelayConfiguration.Web(
            listen: try r.socketAddress("web.listen", allowOff: false)!,
            adminToken: try r.optionalText("web.admin_token"),
            readToken: try r.optionalText("web.read_token"),
            open: try r.boolean("web.open"),
            publicURL: try r.url("web.public_url", optional: true)
        )
        let google = RelayConfiguration.Google(
            authURL: try r.url("google.auth_url")!,
            tokenURL: try r.url("google.token_url")!,
            gmailURL: try r.url("google.gmail_url")!,
            tokeninfoURL: try r.url("google.tokeninfo_url")!,
            revokeURL: try r.url("google.revoke_url")!
        )
        let delivery = RelayConfiguration.Delivery(
            mode: try r.choice("delivery.mode", of: DeliveryMode.self),
            syncTimeoutSeconds: try r.wholeNumber("delivery.sync_timeout_seconds", in: 1...Self.maxSeconds),
            maxAgeHours: try r.wholeNumber("delivery.max_age_hours", in: 1...Self.maxHours),
            accountConcurrency: try r.wholeNumber("delivery.account_concurrency", in: 1...1000),
            sendsPerMinute: try r.wholeNumber("delivery.sends_per_minute", in: 1...1_000_000_000)
        )
        let log = RelayConfiguration.Log(
            retentionDays: try r.wholeNumber("log.retention_days", in: 1...Self.maxHours / 24),
            level: try r.choice("log.level", of: LogLevel.self)
        )
        let health = RelayConfiguration.Health(probeIntervalHours: try r.wholeNumber("health.probe_interval_hours", in: 1...Self.maxHours))
        let alerts = RelayConfiguration.Alerts(
            webhookURL: try r.url("alerts.webhook_url", optional: true),
            webhookFormat: try r.choice("alerts.webhook_format", of: RelayConfiguration.WebhookFormat.self),
            remindHours: try r.wholeNumber("alerts.remind_hours", in: 0...Self.maxHours),
            emailTo: try r.emailAddresses("alerts.email_to", most: 20)
        )

        return RelayConfiguration(
            dataDirectory: dataDirectory, secretKeyFile: secretKeyFile, store: store, smtp: smtp, web: web, google: google,
            delivery: delivery, log: log, health: health, alerts: alerts)
    }

    /// Both files or neither; each must be a readable file now, so a typo fails at startup with the key
    /// named rather than at the first STARTTLS.
    private static func tlsFiles(_ r: inout SettingsReader) throws(ConfigurationError) -> TLSFiles? {
        let cert = try r.optionalText("smtp.tls.cert")
        let key = try r.optionalText("smtp.tls.key")
        switch (cert, key) {
        case (nil, nil):
            return nil
        case (_?, nil):
            throw ConfigurationError(
                .missingValue, at: nil, key: "smtp.tls.key",
                "smtp.tls.key: required because smtp.tls.cert is set (\(r.origin(of: "smtp.tls.cert").reference))")
        case (nil, _?):
            throw ConfigurationError(
                .missingValue, at: nil, key: "smtp.tls.cert",
                "smtp.tls.cert: required because smtp.tls.key is set (\(r.origin(of: "smtp.tls.key").reference))")
        case (let cert?, let key?):
            try checkReadableFile(cert, key: "smtp.tls.cert", r)
            try checkReadableFile(key, key: "smtp.tls.key", r)
            return TLSFiles(certPath: cert, keyPath: key)
        }
    }

    private static func checkReadableFile(
        _ path: String, key: String, _ r: SettingsReader, expected: String = "a PEM file"
    ) throws(ConfigurationError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw r.invalid(key, r.origin(of: key), "file not found: \(path)")
        }
        guard !isDirectory.boolValue else {
            throw r.invalid(key, r.origin(of: key), "\(path) is a directory, expected \(expected)")
        }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw r.invalid(key, r.origin(of: key), "cannot read \(path) (check its permissions)")
        }
    }

    /// `store.relay_name`, or the host name made to fit the same rule (a relay needs a name in the shared store).
    private static func relayName(_ r: inout SettingsReader, default hostName: String) throws(ConfigurationError) -> String {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
        guard let name = try r.optionalText("store.relay_name") else {
            let fitted = String(hostName.filter { allowed.contains($0) }.prefix(64))
            return fitted.isEmpty ? "relay" : fitted
        }
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw r.invalid("store.relay_name", r.origin(of: "store.relay_name"), "expected 1-64 of A-Z a-z 0-9 . _ - (got \(quoted(String(name.prefix(80)))))")
        }
        return name
    }

    /// The most a password file may hold; a real password is far shorter.
    static let maxPasswordFileBytes = 4096
    static let storePasswordVariable = "GMAIL_RELAY_STORE_PASSWORD"

    /// `store.url` with the password from exactly one place: the URL, `store.password_file` or
    /// `GMAIL_RELAY_STORE_PASSWORD`. Two places would leave the operator guessing which one is used.
    private static func postgresLocation(_ r: inout SettingsReader, environment: [String: String]) throws(ConfigurationError)
        -> PostgresLocation?
    {
        let text = try r.optionalText("store.url")
        let passwordFile = try r.optionalText("store.password_file")
        let passwordVariable = environment[storePasswordVariable].flatMap { $0.isEmpty ? nil : $0 }
        guard let text else {
            if passwordFile != nil {
                throw ConfigurationError(
                    .missingValue, at: nil, key: "store.url",
                    "store.url: required because store.password_file is set (\(r.origin(of: "store.password_file").reference))")
            }
            if passwordVariable != nil {
                throw ConfigurationError(
                    .missingValue, at: .environment(variable: storePasswordVariable), key: "store.url",
                    "set, but store.url is not: the password is only used for a PostgreSQL store")
            }
            return nil
        }
        var location: PostgresLocation
        switch PostgresLocation.parse(text.trimmingCharacters(in: .whitespaces)) {
        case .success(let parsed): location = parsed
        case .failure(let error): throw r.invalid("store.url", r.origin(of: "store.url"), error.reason)
        }
        var sources: [String] = []
        if location.password != nil { sources.append("store.url (\(r.origin(of: "store.url").reference))") }
        if let passwordFile {
            sources.append("store.password_file (\(r.origin(of: "store.password_file").reference))")
            location.password = RedactedSecret(try readPasswordFile(passwordFile, r))
        }
        if let passwordVariable {
            sources.append(storePasswordVariable)
            guard passwordVariable.utf8.count <= PostgresLocation.maxPasswordBytes, !passwordVariable.contains("\0") else {
                throw ConfigurationError(
                    .invalidValue, at: .environment(variable: storePasswordVariable), key: nil,
                    "must be at most \(PostgresLocation.maxPasswordBytes) bytes without NUL bytes")
            }
            location.password = RedactedSecret(passwordVariable)
        }
        if sources.count > 1 {
            throw r.invalid("store.url", r.origin(of: "store.url"),
                            "the database password is given in more than one place: \(sources.joined(separator: ", ")); keep one")
        }
        if let root = location.sslRootCertificate {
            try checkReadableFile(root, key: "store.url", r)
        }
        return location
    }

    /// The password file's first line (a trailing newline is not part of the password).
    private static func readPasswordFile(_ path: String, _ r: SettingsReader) throws(ConfigurationError) -> String {
        let key = "store.password_file"
        try checkReadableFile(path, key: key, r, expected: "a file holding the password")
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw r.invalid(key, r.origin(of: key), "cannot read \(path) (check its permissions)")
        }
        defer { try? handle.close() }
        // Read one byte past the limit to tell "too long" from "exactly at the limit" without reading a huge file.
        let data = (try? handle.read(upToCount: maxPasswordFileBytes + 1)) ?? Data()
        guard data.count <= maxPasswordFileBytes else {
            throw r.invalid(key, r.origin(of: key), "\(path) is larger than \(maxPasswordFileBytes) bytes; it should hold only the password")
        }
        guard var text = String(data: data, encoding: .utf8) else {
            throw r.invalid(key, r.origin(of: key), "\(path) is not UTF-8 text")
        }
        // "\r\n" is one Character in Swift, so removeLast drops either ending whole.
        if text.hasSuffix("\r\n") || text.hasSuffix("\n") { text.removeLast() }
        guard !text.isEmpty else { throw r.invalid(key, r.origin(of: key), "\(path) is empty") }
        guard !text.contains(where: { $0.isNewline }), !text.contains("\0") else {
            throw r.invalid(key, r.origin(of: key), "\(path) must hold the password on one line")
        }
        guard text.utf8.count <= PostgresLocation.maxPasswordBytes else {
            throw r.invalid(key, r.origin(of: key), "the password in \(path) is longer than \(PostgresLocation.maxPasswordBytes) bytes")
        }
        return text
    }

    /// `smtp.hostname`, defaulting to the machine's name. Checked as a host name (or an address literal
    /// like `[192.0.2.1]`), since it goes out in the greeting and a space would break the reply line.
    private static func greetingHostName(_ r: inout SettingsReader, default hostName: String) throws(ConfigurationError) -> String {
        guard let name = try r.optionalText("smtp.hostname") else { return hostName }
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        let isAddressLiteral = trimmed.hasPrefix("[") && trimmed.hasSuffix("]")
            && IPAddress(String(trimmed.dropFirst().dropLast())) != nil
        guard isAddressLiteral || SocketAddressSpec.isValidHostName(trimmed) else {
            throw r.invalid("smtp.hostname", r.origin(of: "smtp.hostname"),
                            "expected a host name like relay.example.com, got \(quoted(name))")
        }
        return trimmed
    }

    /// The name from gethostname(2). Not ProcessInfo.hostName: on Linux that may block on a DNS lookup.
    static func machineHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    // MARK: Rules across keys

    private static func validate(_ c: RelayConfiguration, _ r: SettingsReader) throws(ConfigurationError) {
        if let tlsListen = c.smtp.tlsListen, c.smtp.tls == nil {
            throw r.invalid("smtp.tls_listen", r.origin(of: "smtp.tls_listen"),
                            "\(tlsListen) needs smtp.tls.cert and smtp.tls.key for implicit TLS")
        }

        if !c.smtp.trustedNetworks.isEmpty && c.smtp.trustedAccount == nil {
            throw ConfigurationError(
                .missingValue, at: nil, key: "smtp.trusted_account",
                "smtp.trusted_account: required because smtp.trusted_networks is set (\(r.origin(of: "smtp.trusted_networks").reference)); name the account their mail is sent as")
        }

        // An open status page would let anyone read the send log and retry or discard mail.
        if !c.web.listen.isLoopback && c.web.adminToken == nil {
            throw ConfigurationError(
                .missingValue, at: nil, key: "web.admin_token",
                "web.admin_token: required because web.listen \(c.web.listen) is not a loopback address (\(r.origin(of: "web.listen").reference))")
        }

        for key in ["web.admin_token", "web.read_token"] {
            let token = key == "web.admin_token" ? c.web.adminToken : c.web.readToken
            if let token, token.count < minimumWebTokenLength {
                throw r.invalid(key, r.origin(of: key), "must be at least \(minimumWebTokenLength) characters long (make one with `openssl rand -base64 32`)")
            }
        }
        if let read = c.web.readToken, read == c.web.adminToken {
            throw r.invalid("web.read_token", r.origin(of: "web.read_token"), "must differ from web.admin_token")
        }
        if c.web.open && !c.web.listen.isLoopback {
            throw r.invalid("web.open", r.origin(of: "web.open"), "only allowed when web.listen is a loopback address, not \(c.web.listen)")
        }
        if c.web.open && (c.web.adminToken != nil || c.web.readToken != nil) {
            throw r.invalid("web.open", r.origin(of: "web.open"), "true means no token, but web.admin_token or web.read_token is set: remove one or the other")
        }

        // A chat format without a webhook would silently do nothing.
        if c.alerts.webhookURL == nil && r.origin(of: "alerts.webhook_format") != .builtInDefault {
            throw r.invalid("alerts.webhook_format", r.origin(of: "alerts.webhook_format"),
                            "needs alerts.webhook_url (the \(c.alerts.webhookFormat.rawValue) webhook's address)")
        }

        if c.smtp.sessionTimeoutSeconds < c.smtp.commandTimeoutSeconds {
            // Blame whichever of the two the operator set, so the message points at the line to change.
            if r.origin(of: "smtp.session_timeout_seconds") == .builtInDefault {
                throw r.invalid("smtp.command_timeout_seconds", r.origin(of: "smtp.command_timeout_seconds"),
                                "must not exceed smtp.session_timeout_seconds (\(c.smtp.sessionTimeoutSeconds)), got \(c.smtp.commandTimeoutSeconds)")
            }
            throw r.invalid("smtp.session_timeout_seconds", r.origin(of: "smtp.session_timeout_seconds"),
                            "must be at least smtp.command_timeout_seconds (\(c.smtp.commandTimeoutSeconds)), got \(c.smtp.sessionTimeoutSeconds)")
        }

        // Two listeners on one socket would fail at bind time with a less helpful message.
        var listeners: [(key: String, address: SocketAddressSpec)] = []
        if let listen = c.smtp.listen { listeners.append(("smtp.listen", listen)) }
        if let listen = c.smtp.tlsListen { listeners.append(("smtp.tls_listen", listen)) }
        listeners.append(("web.listen", c.web.listen))
        for (index, later) in listeners.enumerated() {
            guard let earlier = listeners[..<index].first(where: { $0.address.overlaps(later.address) }) else { continue }
            // Blame the one the operator set rather than a default it collides with.
            let (blamed, other) = r.origin(of: later.key) == .builtInDefault ? (earlier, later) : (later, earlier)
            throw r.invalid(blamed.key, r.origin(of: blamed.key),
                            "\(blamed.address) is already taken by \(other.key) (\(other.address))")
        }
    }
}
