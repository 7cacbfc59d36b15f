import Foundation

/// One JSON style for the API and the CLI: `status --json` prints exactly what /api/status serves,
/// `log show --json` what /api/messages/{id} serves.
public enum StatusJSON {
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
