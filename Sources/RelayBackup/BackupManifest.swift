import Foundation

/// `manifest.json` of a backup directory: written last, so a directory without it is not a finished backup.
public struct BackupManifest: Codable, Sendable, Equatable {
    public struct File: Codable, Sendable, Equatable {
        /// Relative to the backup directory: `relay.sqlite`, `spool/NAME.eml`, `secret.key`, `web-admin-token`.
        public var path: String
        public var size: Int64
        /// Lower-case hex SHA-256 of the file's bytes.
        public var sha256: String
    }

    /// Bumped only when the layout changes in a way an older restore would get wrong.
    public var format: Int
    /// The gmail-relay version that made the backup.
    public var version: String
    /// ISO 8601, UTC.
    public var createdAt: String
    public var includesKey: Bool
    public var files: [File]

    enum CodingKeys: String, CodingKey {
        case format, version, files
        case createdAt = "created_at"
        case includesKey = "includes_key"
    }

    public static let fileName = "manifest.json"
    public static let currentFormat = 1
    public static let database = "relay.sqlite"
    public static let secretKey = "secret.key"
    public static let webAdminToken = "web-admin-token"
    public static let spoolDirectory = "spool"

    /// Only the names a backup writes: a manifest naming anything else (`../x`, `/etc/…`) is refused.
    static func isAllowed(_ path: String) -> Bool {
        if [database, secretKey, webAdminToken].contains(path) { return true }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == spoolDirectory else { return false }
        let name = parts[1]
        return name.hasSuffix(".eml") && !name.hasPrefix(".")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
    }
}
