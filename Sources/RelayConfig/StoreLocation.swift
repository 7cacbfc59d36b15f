import Foundation

/// A secret from the configuration (the database password). Its `description`, `debugDescription` and
/// mirror say "(redacted)", so printing, dumping or logging a configuration never shows it; `value` is
/// for the code that logs in.
public struct RedactedSecret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "(redacted)" }
    public var debugDescription: String { "(redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// The `sslmode` of `store.url`: TLS to the database, with libpq's names.
public enum PostgresSSLMode: String, Sendable, Equatable, CaseIterable {
    /// No TLS (a database on this machine or a private network the operator trusts).
    case disable
    /// TLS without checking the server's certificate: encrypted, but not proof of whom you talk to.
    case require
    /// TLS, the certificate must chain to a trusted root (the system's, or `sslrootcert`) and name the host.
    case verifyFull = "verify-full"
}

/// Where the shared PostgreSQL store is: `postgres://relay@db.internal:5432/relay?sslmode=require`.
///
/// `description` is the URL with the password replaced by `***`: it is what logs and errors show.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// A host name or an IP address (IPv6 without brackets).
    public var host: String
    public var port: Int
    public var user: String
    /// From the URL, `store.password_file` or `GMAIL_RELAY_STORE_PASSWORD`; nil when the server needs none.
    public var password: RedactedSecret?
    public var database: String
    public var sslMode: PostgresSSLMode
    /// `sslrootcert`: a PEM file of the roots to trust for `verify-full`, instead of the system's.
    public var sslRootCertificate: String?

    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var text = "postgres://\(percentEncoded(user))"
        if password != nil { text += ":***" }
        text += "@\(hostPart):\(port)/\(percentEncoded(database))?sslmode=\(sslMode.rawValue)"
        if let sslRootCertificate { text += "&sslrootcert=\(percentEncoded(sslRootCertificate))" }
        return text
    }

    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["url": description], displayStyle: .struct) }

    /// The host is this machine: 127.0.0.0/8, ::1 or `localhost`.
    public var isLoopback: Bool {
        SocketAddressSpec(host: host, port: port).isLoopback
    }

    // MARK: Parsing

    /// Longest `store.url` accepted; a real one is a fraction of this.
    static let maxURLLength = 4096
    /// PostgreSQL's identifiers (role and database names) are at most 63 bytes (NAMEDATALEN - 1).
    static let maxIdentifierBytes = 63
    static let maxPasswordBytes = 1024

    /// Parses a `postgres://` or `postgresql://` URL. The reasons never contain the password.
    ///
    /// Form: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE][&sslrootcert=FILE]`, with
    /// `%XX` escapes in the user, password and database. `sslmode` defaults to `verify-full`, or to
    /// `disable` when the host is a loopback address.
    static func parse(_ input: String) -> Result<PostgresLocation, StoreURLError> {
        guard input.utf8.count <= maxURLLength else { return .failure(.init("is longer than \(maxURLLength) bytes")) }
        guard !input.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f || $0 == " " }) else {
            return .failure(.init("must not contain spaces or control characters (escape them as %XX)"))
        }
        let example = "postgres://relay@db.internal:5432/relay?sslmode=require"
        let lowered = input.lowercased()
        let scheme = ["postgres://", "postgresql://"].first { lowered.hasPrefix($0) }
        guard let scheme else {
            return .failure(.init("expected a postgres:// URL such as \(example)"))
        }
        var rest = Substring(input.dropFirst(scheme.count))
        if rest.contains("#") { return .failure(.init("must not have a #fragment")) }

        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            return .failure(.init("names no database: add /DATABASE after the host, as in \(example)"))
        }
        let authority = rest[..<slash]
        let path = rest[rest.index(after: slash)...]

        // The last @ separates the user from the host, so an unescaped @ in a password still parses.
        guard let at = authority.lastIndex(of: "@") else {
            return .failure(.init("names no user: write USER@ before the host, as in \(example)"))
        }
        let userInfo = authority[..<at]
        let hostPort = authority[authority.index(after: at)...]

        let userText: Substring
        var password: RedactedSecret?
        if let colon = userInfo.firstIndex(of: ":") {
            userText = userInfo[..<colon]
            guard let decoded = percentDecoded(userInfo[userInfo.index(after: colon)...]) else {
                return .failure(.init("the password has a bad %XX escape"))
            }
            guard !decoded.isEmpty else { return .failure(.init("the password after \"user:\" is empty")) }
            guard decoded.utf8.count <= maxPasswordBytes else {
                return .failure(.init("the password is longer than \(maxPasswordBytes) bytes"))
            }
            guard !decoded.contains("\0") else { return .failure(.init("the password contains a NUL byte")) }
            password = RedactedSecret(decoded)
        } else {
            userText = userInfo
        }
        let user: String
        switch identifier(userText, what: "user") {
        case .success(let name): user = name
        case .failure(let error): return .failure(error)
        }
        let database: String
        switch identifier(path, what: "database") {
        case .success(let name): database = name
        case .failure(let error): return .failure(error)
        }

        let host: String
        var port = 5432
        switch hostAndPort(hostPort) {
        case .success(let pair): (host, port) = (pair.0, pair.1 ?? 5432)
        case .failure(let error): return .failure(error)
        }

        var options: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            guard let equals = pair.firstIndex(of: "=") else {
                return .failure(.init("query part \"\(pair)\" needs a value (key=value)"))
            }
            let key = String(pair[..<equals])
            guard let value = percentDecoded(pair[pair.index(after: equals)...]) else {
                return .failure(.init("the value of \(key) has a bad %XX escape"))
            }
            guard ["sslmode", "sslrootcert"].contains(key) else {
                return .failure(.init("unknown parameter \"\(key)\" (supported: sslmode, sslrootcert)"))
            }
            guard options[key] == nil else { return .failure(.init("\(key) is given twice")) }
            options[key] = value
        }

        let loopback = SocketAddressSpec(host: host, port: port).isLoopback
        var sslMode: PostgresSSLMode = loopback ? .disable : .verifyFull
        if let mode = options["sslmode"] {
            guard let chosen = PostgresSSLMode(rawValue: mode.lowercased()) else {
                let modes = PostgresSSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                return .failure(.init("sslmode must be one of \(modes), got \"\(mode)\""))
            }
            sslMode = chosen
        }
        let rootCertificate = options["sslrootcert"]
        if let rootCertificate {
            guard sslMode == .verifyFull else {
                return .failure(.init("sslrootcert is only used with sslmode=verify-full"))
            }
            guard !rootCertificate.isEmpty else { return .failure(.init("sslrootcert is empty")) }
        }
        return .success(PostgresLocation(
            host: host, port: port, user: user, password: password, database: database,
            sslMode: sslMode, sslRootCertificate: rootCertificate))
    }

    private static func identifier(_ text: Substring, what: String) -> Result<String, StoreURLError> {
        guard let name = percentDecoded(text) else { return .failure(.init("the \(what) name has a bad %XX escape")) }
        guard !name.isEmpty else { return .failure(.init("the \(what) name is empty")) }
        guard name.utf8.count <= maxIdentifierBytes else {
            return .failure(.init("the \(what) name is longer than \(maxIdentifierBytes) bytes (PostgreSQL's limit)"))
        }
        guard !name.contains("\0"), !name.contains("/") else {
            return .failure(.init("the \(what) name contains a NUL byte or a /"))
        }
        return .success(name)
    }

    private static func hostAndPort(_ text: Substring) -> Result<(String, Int?), StoreURLError> {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(.init("the IPv6 address lacks its ]")) }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(.init("expected :PORT after the IPv6 address")) }
                portText = after.dropFirst()
            }
            guard host.contains(":"), IPAddress(String(host)) != nil else {
                return .failure(.init("\"\(host)\" in brackets is not an IPv6 address"))
            }
        } else {
            host = text
            if let colon = text.lastIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            }
            guard !host.isEmpty else {
                return .failure(.init("names no host (a socket directory is not supported): postgres://USER@HOST/DATABASE"))
            }
            guard IPAddress(String(host)) != nil || SocketAddressSpec.isValidHostName(String(host)) else {
                return .failure(.init("\"\(host)\" is not a host name or an IP address"))
            }
        }
        guard let portText else { return .success((String(host), nil)) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), (1...65535).contains(port)
        else {
            return .failure(.init("the port must be a number from 1 to 65535, got \"\(portText)\""))
        }
        return .success((String(host), port))
    }
}

/// Why `store.url` did not parse: a reason without the password.
struct StoreURLError: Error, Equatable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// RFC 3986 percent-decoding; nil for a malformed escape or bytes that are not UTF-8.
func percentDecoded(_ text: Substring) -> String? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count)
    var iterator = text.utf8.makeIterator()
    while let byte = iterator.next() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
        bytes.append(high << 4 | low)
    }
    return String(validating: bytes, as: UTF8.self)
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}

/// Escapes everything but RFC 3986's unreserved characters, for putting a name back into a URL.
private func percentEncoded(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        let scalar = Unicode.Scalar(byte)
        if (byte < 0x80 && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar))) || "-._~/".unicodeScalars.contains(scalar) {
            out.unicodeScalars.append(scalar)
        } else {
            out += String(format: "%%%02X", byte)
        }
    }
    return out
}

extension PostgresLocation {
    /// A PostgreSQL URL given on the command line (`store copy --to URL`), with its password from exactly
    /// one place, as `store.url`'s: the URL, `passwordFile` (`--password-file`) or
    /// `GMAIL_RELAY_STORE_PASSWORD`. Errors say `--to: REASON`, the same reasons as `store.url`'s, never
    /// the password.
    public static func commandLineTarget(
        _ url: String, passwordFile: String?, environment: [String: String], option: String = "--to"
    ) throws(ConfigurationError) -> PostgresLocation {
        func fail(_ reason: String) -> ConfigurationError {
            ConfigurationError(.invalidValue, at: nil, key: nil, "\(option): \(reason)")
        }
        var location: PostgresLocation
        switch parse(url.trimmingCharacters(in: .whitespaces)) {
        case .success(let parsed): location = parsed
        case .failure(let error): throw fail(error.reason)
        }
        var sources: [String] = location.password == nil ? [] : ["the URL"]
        if let passwordFile {
            sources.append("--password-file")
            guard let handle = FileHandle(forReadingAtPath: passwordFile) else {
                throw fail("cannot read the password file \(passwordFile) (check that it exists and its permissions)")
            }
            defer { try? handle.close() }
            let data = (try? handle.read(upToCount: RelayConfiguration.maxPasswordFileBytes + 1)) ?? Data()
            guard data.count <= RelayConfiguration.maxPasswordFileBytes, var text = String(data: data, encoding: .utf8) else {
                throw fail("\(passwordFile) should hold only the password, as UTF-8 text on one line")
            }
            if text.hasSuffix("\r\n") || text.hasSuffix("\n") { text.removeLast() }
            guard !text.isEmpty, !text.contains(where: { $0.isNewline }), !text.contains("\0"),
                  text.utf8.count <= maxPasswordBytes
            else {
                throw fail("\(passwordFile) must hold the password (1-\(maxPasswordBytes) bytes) on one line")
            }
            location.password = RedactedSecret(text)
        }
        if let variable = environment[RelayConfiguration.storePasswordVariable], !variable.isEmpty {
            sources.append(RelayConfiguration.storePasswordVariable)
            guard variable.utf8.count <= maxPasswordBytes, !variable.contains("\0") else {
                throw fail("\(RelayConfiguration.storePasswordVariable) must be at most \(maxPasswordBytes) bytes without NUL bytes")
            }
            location.password = RedactedSecret(variable)
        }
        if sources.count > 1 {
            throw fail("the database password is given in more than one place: \(sources.joined(separator: ", ")); keep one")
        }
        if let root = location.sslRootCertificate, !FileManager.default.isReadableFile(atPath: root) {
            throw fail("sslrootcert \(root) is not a readable file")
        }
        return location
    }
}
