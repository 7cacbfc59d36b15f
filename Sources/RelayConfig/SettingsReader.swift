import Foundation

/// One value and where it came from.
struct RawSetting: Sendable, Equatable {
    var value: RawValue
    var origin: Origin
}

/// The merged raw settings (built-in default < file < environment) with typed readers.
///
/// Every reader throws a `ConfigurationError` that names the place the value came from, so the decoding
/// code in `RelayConfiguration+Load.swift` reads as a list of keys and their types.
struct SettingsReader {
    private let settings: [String: RawSetting]
    /// Keys the decoder asked for; a test checks that every known key is read.
    private(set) var readKeys: Set<String> = []

    init(file: [String: RawSetting], environment: [String: String]) {
        var merged = file
        for key in RelayConfiguration.knownKeys {
            // Values are taken verbatim: an empty variable is an explicit empty value ("" turns a
            // listener off, clears an optional key), not "unset".
            if let value = environment[key.environmentVariable] {
                merged[key.name] = RawSetting(value: .string(value), origin: .environment(variable: key.environmentVariable))
            }
        }
        self.settings = merged
    }

    /// The effective raw value: set by the operator, else the built-in default, else nil.
    mutating func raw(_ key: String) -> RawSetting? {
        precondition(RelayConfiguration.keysByName[key] != nil, "not a known key: \(key)")
        readKeys.insert(key)
        if let setting = settings[key] { return setting }
        return RelayConfiguration.keysByName[key]?.defaultValue.map { RawSetting(value: .string($0), origin: .builtInDefault) }
    }

    /// Where the effective value of `key` came from.
    func origin(of key: String) -> Origin {
        settings[key]?.origin ?? .builtInDefault
    }

    // MARK: Typed readers

    /// Text; an empty string counts as not set.
    mutating func optionalText(_ key: String) throws(ConfigurationError) -> String? {
        guard let setting = raw(key) else { return nil }
        let text = try string(key, setting)
        return text.isEmpty ? nil : text
    }

    /// Text that must not be empty.
    mutating func requiredText(_ key: String) throws(ConfigurationError) -> String {
        let setting = raw(key)!
        let text = try string(key, setting)
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw invalid(key, setting.origin, "must not be empty")
        }
        return text
    }

    mutating func wholeNumber(_ key: String, in range: ClosedRange<Int>, because note: String? = nil) throws(ConfigurationError) -> Int {
        let setting = raw(key)!
        let number: Int
        switch setting.value {
        case .integer(let value):
            number = value
        case .string(let text):
            guard let value = parseWholeNumber(text.trimmingCharacters(in: .whitespaces)) else {
                throw invalid(key, setting.origin, "expected a whole number\(got(key, setting.value))")
            }
            number = value
        default:
            throw invalid(key, setting.origin, "expected a whole number\(got(key, setting.value))")
        }
        guard range.contains(number) else {
            let bounds = range.upperBound == .max
                ? "must be at least \(range.lowerBound)"
                : "must be between \(range.lowerBound) and \(range.upperBound)"
            let why = note.map { " (\($0))" } ?? ""
            throw invalid(key, setting.origin, "\(bounds)\(why), got \(number)")
        }
        return number
    }

    /// true or false; the environment's form is the text "true"/"false" (also yes/no, on/off, 1/0).
    mutating func boolean(_ key: String) throws(ConfigurationError) -> Bool {
        let setting = raw(key)!
        switch setting.value {
        case .boolean(let flag):
            return flag
        case .string(let text), .bare(let text):
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: break
            }
        case .integer(let number) where number == 0 || number == 1:
            return number == 1
        default:
            break
        }
        throw invalid(key, setting.origin, "expected true or false\(got(key, setting.value))")
    }

    /// host:port, or nil for "off" / "" / false when `allowOff`.
    mutating func socketAddress(_ key: String, allowOff: Bool) throws(ConfigurationError) -> SocketAddressSpec? {
        let setting = raw(key)!
        let expected = allowOff ? "expected host:port or \"off\"" : "expected host:port"
        let text: String
        switch setting.value {
        case .string(let value): text = value
        case .boolean(false) where allowOff: return nil
        case .bare(let value): throw invalid(key, setting.origin, quotesNeeded(key, value))
        default: throw invalid(key, setting.origin, "\(expected)\(got(key, setting.value))")
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if allowOff && (trimmed.isEmpty || trimmed.lowercased() == "off") { return nil }
        switch SocketAddressSpec.parse(text) {
        case .success(let spec): return spec
        case .failure(let error): throw invalid(key, setting.origin, error.reason)
        }
    }

    /// A list of networks: an array in the file, or a comma-separated string (the environment's form).
    mutating func networks(_ key: String) throws(ConfigurationError) -> [CIDR] {
        let setting = raw(key)!
        let items: [String]
        switch setting.value {
        case .array(let values): items = values
        case .string(let text): items = text.split(separator: ",").map(String.init)
        case .bare(let value): throw invalid(key, setting.origin, quotesNeeded(key, value))
        default: throw invalid(key, setting.origin, "expected a list of networks such as [\"10.0.0.0/8\"]\(got(key, setting.value))")
        }
        var networks: [CIDR] = []
        for item in items {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }  // "a,,b" and a trailing comma are harmless
            switch CIDR.parse(trimmed) {
            case .success(let network): networks.append(network)
            case .failure(let error): throw invalid(key, setting.origin, error.reason)
            }
        }
        return networks
    }

    /// An absolute http(s) URL with a host; nil only when `optional` and empty.
    mutating func url(_ key: String, optional: Bool = false) throws(ConfigurationError) -> URL? {
        guard let setting = raw(key) else { return nil }
        let text = try string(key, setting).trimmingCharacters(in: .whitespaces)
        if optional && text.isEmpty { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else {
            throw invalid(key, setting.origin, "expected an http:// or https:// URL\(got(key, setting.value))")
        }
        return url
    }

    /// A comma-separated list of plain addresses (`ops@example.com`, no display names), at most `most`;
    /// empty when unset. Each must be one local part and one domain of printable ASCII without spaces,
    /// quotes, angle brackets or commas: it goes into a To header as is.
    mutating func emailAddresses(_ key: String, most: Int) throws(ConfigurationError) -> [String] {
        guard let setting = raw(key) else { return [] }
        let text = try string(key, setting)
        let addresses = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if addresses.count > most {
            throw invalid(key, setting.origin, "at most \(most) addresses, got \(addresses.count)")
        }
        for address in addresses {
            let parts = address.split(separator: "@", omittingEmptySubsequences: false)
            let allowed = address.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && !"\"'<>(),;:\\[]".unicodeScalars.contains($0) }
            guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, !parts[1].isEmpty, parts[1].count <= 253,
                  !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), parts[1].contains("."), allowed
            else {
                throw invalid(key, setting.origin, "expected addresses like ops@example.com separated by commas, got \(quoted(address))")
            }
        }
        return addresses
    }

    /// One of an enum's raw values, case-insensitively; the message lists them all.
    mutating func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, of _: Choice.Type) throws(ConfigurationError) -> Choice
    where Choice.RawValue == String {
        let setting = raw(key)!
        let options = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        if case .bare(let text) = setting.value { throw invalid(key, setting.origin, quotesNeeded(key, text)) }
        if case .string(let text) = setting.value,
           let value = Choice(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) {
            return value
        }
        throw invalid(key, setting.origin, "expected one of \(options)\(got(key, setting.value))")
    }

    // MARK: Errors

    private func string(_ key: String, _ setting: RawSetting) throws(ConfigurationError) -> String {
        switch setting.value {
        case .string(let text): return text
        case .bare(let text): throw invalid(key, setting.origin, quotesNeeded(key, text))
        default: throw invalid(key, setting.origin, "expected a quoted string\(got(key, setting.value))")
        }
    }

    /// An error about the value of `key`, placed where that value was written.
    func invalid(_ key: String, _ origin: Origin, _ reason: String) -> ConfigurationError {
        switch origin {
        case .file(let name, let line):
            ConfigurationError(.invalidValue, at: .file(name: name, line: line), key: key, "\(key): \(reason)")
        case .environment(let variable):
            // The variable already names the key.
            ConfigurationError(.invalidValue, at: .environment(variable: variable), key: key, reason)
        case .builtInDefault:
            ConfigurationError(.invalidValue, at: nil, key: key, "\(key): \(reason) (built-in default)")
        }
    }

    /// `, got X`, or nothing for secret keys: a token must not end up in a log via an error message.
    private func got(_ key: String, _ value: RawValue) -> String {
        RelayConfiguration.keysByName[key]?.isSecret == true ? "" : ", got \(value.display)"
    }

    private func quotesNeeded(_ key: String, _ text: String) -> String {
        RelayConfiguration.keysByName[key]?.isSecret == true
            ? "text values need quotes" : "text values need quotes: write \(quoted(text))"
    }
}
