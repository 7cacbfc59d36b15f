import Foundation

/// A listen address as configured: `127.0.0.1:2525`, `[::1]:2525`, `localhost:2525`, `0.0.0.0:25`.
///
/// `host` holds an IPv6 address without brackets (`::1`), the form socket APIs take; `description`
/// puts the brackets back so the value reads the way it is written in the config.
public struct SocketAddressSpec: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(string: String) {
        guard case .success(let spec) = SocketAddressSpec.parse(string) else { return nil }
        self = spec
    }

    /// Reachable only from this machine: 127.0.0.0/8, ::1 (also IPv4-mapped) or `localhost`.
    /// Any other name counts as not loopback, since it may resolve to a public address.
    public var isLoopback: Bool {
        if host.lowercased() == "localhost" { return true }
        return IPAddress(host)?.isLoopback ?? false
    }

    /// `0.0.0.0` or `::`: every interface of the machine.
    public var isWildcard: Bool {
        IPAddress(host)?.isUnspecified ?? false
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Whether two listeners would fight over the same socket: same port, and the same host or either one
    /// listening on every interface.
    func overlaps(_ other: SocketAddressSpec) -> Bool {
        guard port == other.port else { return false }
        if isWildcard || other.isWildcard { return true }
        if let mine = IPAddress(host), let theirs = IPAddress(other.host) { return mine == theirs }
        return host.lowercased() == other.host.lowercased()
    }

    // MARK: Parsing

    static func parse(_ input: String) -> Result<SocketAddressSpec, ParseError> {
        let text = input.trimmingCharacters(in: .whitespaces)
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            // [IPv6]:port
            guard let close = text.firstIndex(of: "]") else { return .failure(.notHostPort(input)) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(.notHostPort(input)) }
            portText = rest.dropFirst()
            guard host.contains(":"), IPAddress(String(host)) != nil else { return .failure(.badHost(input)) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(.notHostPort(input)) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            // "::1:2525" cannot be split reliably: the port could be part of the address.
            if host.contains(":") { return .failure(.unbracketedIPv6(input)) }
            guard !host.isEmpty else { return .failure(.notHostPort(input)) }
            guard isValidHost(host) else { return .failure(.badHost(input)) }
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCIIDigit), let port = Int(portText), (1...65535).contains(port)
        else { return .failure(.badPort(input)) }
        return .success(SocketAddressSpec(host: String(host), port: port))
    }

    /// A dotted-quad IPv4 address or a DNS-style name. All-numeric names must be valid IPv4 addresses,
    /// so a typo like `127.0.0.300` is caught here rather than by a resolver at startup.
    private static func isValidHost(_ host: Substring) -> Bool {
        if host.allSatisfy({ $0.isASCIIDigit || $0 == "." }) {
            return IPAddress(String(host)) != nil
        }
        return isValidHostName(host)
    }

    /// Letters, digits, `-` and `_` in non-empty dot-separated labels, an optional trailing dot.
    /// (`_` is not valid in DNS host names but appears in container and compose service names.)
    static func isValidHostName<S: StringProtocol>(_ name: S) -> Bool {
        var labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count > 1, labels.last?.isEmpty == true { labels.removeLast() }
        guard !labels.isEmpty, name.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { scalar in
                    switch scalar {
                    case "a"..."z", "A"..."Z", "0"..."9", "-", "_": true
                    default: false
                    }
                }
        }
    }

    enum ParseError: Error, Equatable {
        case notHostPort(String)
        case unbracketedIPv6(String)
        case badHost(String)
        case badPort(String)

        /// The reason, to follow "key: " in a configuration error.
        var reason: String {
            switch self {
            case .notHostPort(let text):
                "expected host:port, got \(quoted(text))"
            case .unbracketedIPv6(let text):
                "expected host:port with an IPv6 address in brackets, as in [::1]:2525, got \(quoted(text))"
            case .badHost(let text):
                "expected host:port with a host name or IP address, got \(quoted(text))"
            case .badPort(let text):
                "expected host:port with a port from 1 to 65535, got \(quoted(text))"
            }
        }
    }
}
