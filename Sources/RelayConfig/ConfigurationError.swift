/// Why a configuration could not be loaded, as one sentence that names where to look.
///
/// `description` is meant for the operator as is:
///
///     config.toml:12: smtp.max_recipients: expected a whole number, got "abc"
///     GMAIL_RELAY_SMTP_LISTEN: expected host:port, got "nope"
///     config.toml:3: unknown key "smtp.lisen" (did you mean smtp.listen?)
///     web.admin_token: required because web.listen 0.0.0.0:8025 is not a loopback address (config.toml:4)
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The file is missing, a directory, unreadable or not UTF-8.
        case unreadableFile
        /// The file is not in the supported TOML subset.
        case syntax
        /// The file names a key or section the relay does not know.
        case unknownKey
        /// The file sets one key twice.
        case duplicateKey
        /// A value has the wrong form or is out of range.
        case invalidValue
        /// A key that another setting makes necessary is not set.
        case missingValue
    }

    /// Where the offending value was written.
    public enum Location: Sendable, Equatable {
        case file(name: String, line: Int)
        case environment(variable: String)
    }

    public let kind: Kind
    /// nil when the problem is not one place (a missing key, an unreadable file).
    public let location: Location?
    /// The configuration key concerned, when there is one.
    public let key: String?
    /// The sentence after the location (it starts with the key when the location does not already say it).
    public let message: String

    init(_ kind: Kind, at location: Location?, key: String?, _ message: String) {
        self.kind = kind
        self.location = location
        self.key = key
        self.message = message
    }

    public var description: String {
        switch location {
        case .file(let name, let line): "\(name):\(line): \(message)"
        case .environment(let variable): "\(variable): \(message)"
        case nil: message
        }
    }
}
