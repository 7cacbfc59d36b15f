import Foundation

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `fd00::/8`) that client addresses are matched against.
///
/// A bare address is a single host (`/32` or `/128`). Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is stored as the IPv4 network it means, so both
/// spellings match the same clients.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address with host bits cleared: 4 bytes for IPv4, 16 for IPv6.
    let network: IPAddress
    public let prefixLength: Int

    public var isIPv4: Bool { network.isIPv4 }

    public init?(string: String) {
        guard case .success(let cidr) = CIDR.parse(string) else { return nil }
        self = cidr
    }

    /// Whether `address` (numeric IPv4 or IPv6, brackets and zones allowed) is in this network.
    /// Anything that is not a numeric address, such as a host name, is in no network.
    public func contains(_ address: String) -> Bool {
        guard let address = IPAddress(address) else { return false }
        return contains(address)
    }

    func contains(_ address: IPAddress) -> Bool {
        guard address.isIPv4 == network.isIPv4 else { return false }
        return CIDR.masked(address.bytes, prefixLength: prefixLength) == network.bytes
    }

    /// Whether `address` is in any of `networks`; false for an empty list.
    public static func matches(_ address: String, any networks: [CIDR]) -> Bool {
        guard let parsed = IPAddress(address) else { return false }
        return networks.contains { $0.contains(parsed) }
    }

    public var description: String { "\(network.text)/\(prefixLength)" }

    // MARK: Parsing

    /// Parses `10.0.0.0/8`, `fd00::/8` or a bare address; the failure says which part is wrong.
    static func parse(_ text: String) -> Result<CIDR, ParseError> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let addressPart: Substring
        var length: Int?
        if let slash = trimmed.firstIndex(of: "/") {
            addressPart = trimmed[..<slash]
            let lengthText = trimmed[trimmed.index(after: slash)...]
            guard !lengthText.isEmpty, lengthText.allSatisfy(\.isASCIIDigit), let value = Int(lengthText) else {
                return .failure(.badPrefixLength(text))
            }
            length = value
        } else {
            addressPart = Substring(trimmed)
        }
        // Brackets are for host:port; a zone has no meaning in a network.
        guard !addressPart.hasPrefix("["), !addressPart.contains("%"), let raw = rawAddress(addressPart) else {
            return .failure(.badAddress(text))
        }
        let maxLength = raw.count * 8
        let prefixLength = length ?? maxLength
        guard prefixLength <= maxLength else { return .failure(.badPrefixLength(text)) }
        // Parse through IPAddress so a mapped network turns into IPv4 the same way mapped clients do.
        let address = IPAddress(bytes: raw)
        if raw.count == 16 && address.isIPv4 {
            guard prefixLength >= 96 else { return .failure(.badPrefixLength(text)) }
            return .success(CIDR(network: address, prefixLength: prefixLength - 96))
        }
        return .success(CIDR(network: address, prefixLength: prefixLength))
    }

    private init(network: IPAddress, prefixLength: Int) {
        self.network = IPAddress(bytes: CIDR.masked(network.bytes, prefixLength: prefixLength))
        self.prefixLength = prefixLength
    }

    /// The address bytes exactly as written (IPv6 stays 16 bytes, even when mapped).
    private static func rawAddress(_ text: Substring) -> [UInt8]? {
        guard let parsed = IPAddress(String(text)) else { return nil }
        if text.contains(":") && parsed.isIPv4 {
            return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + parsed.bytes
        }
        return parsed.bytes
    }

    private static func masked(_ bytes: [UInt8], prefixLength: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bitsKept = min(max(prefixLength - index * 8, 0), 8)
            let mask: UInt8 = bitsKept == 0 ? 0 : ~UInt8(0) << (8 - bitsKept)
            return byte & mask
        }
    }

    enum ParseError: Error, Equatable {
        case badAddress(String)
        case badPrefixLength(String)

        /// The reason, to follow "key: " in a configuration error.
        var reason: String {
            switch self {
            case .badAddress(let text):
                "expected a network like 10.0.0.0/8 or fd00::/8, got \(quoted(text))"
            case .badPrefixLength(let text):
                "expected a prefix length of 0-32 for IPv4 or 0-128 for IPv6 after \"/\", got \(quoted(text))"
            }
        }
    }
}
