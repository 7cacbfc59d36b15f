import Foundation

// MARK: - The one policy of the JSON forms

/// The `CodingKeys` of a JSON form of the outside contract (/api/status, /api/messages, `--json`, the `json`
/// webhook). A type whose keys conform keeps Swift's synthesized `Codable`, and the overloads below make it
/// write what the contract says, whatever encoder the caller uses:
/// - every key is present: an absent value is `null`, not a missing key;
/// - every timestamp is an ISO-8601 UTC string with second precision ("2025-01-31T12:00:00Z", `ISO8601`);
///   reading one accepts fractions of a second and throws a `DecodingError` for text that is not a date.
/// The synthesized code calls `encodeIfPresent` for an optional and `encode`/`decode` for a `Date`; these
/// constrained overloads are more specific than the standard library's, so they are the ones it calls.
/// ModelJSONTests and StatusJSONFormTests pin the strings.
package protocol JSONFormKey: CodingKey {}

extension KeyedEncodingContainer where Key: JSONFormKey {
    package mutating func encode(_ date: Date, forKey key: Key) throws {
        try encode(ISO8601.string(date), forKey: key)
    }

    package mutating func encodeIfPresent(_ date: Date?, forKey key: Key) throws {
        try encode(date.map(ISO8601.string), forKey: key)
    }

    // An Optional encodes nil as null. The standard library has its own `encodeIfPresent` for each
    // primitive; these are the ones the forms use (a form with another primitive optional adds its line).
    package mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        try encode(value, forKey: key)
    }
    package mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try encode(value, forKey: key) }
    package mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try encode(value, forKey: key) }
    package mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try encode(value, forKey: key) }
    package mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try encode(value, forKey: key) }
    package mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try encode(value, forKey: key) }
}

extension KeyedDecodingContainer where Key: JSONFormKey {
    package func decode(_ type: Date.Type, forKey key: Key) throws -> Date {
        let text = try decode(String.self, forKey: key)
        guard let date = ISO8601.date(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not an ISO-8601 date: \(text)")
        }
        return date
    }

    /// nil when the key is missing or null.
    package func decodeIfPresent(_ type: Date.Type, forKey key: Key) throws -> Date? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decode(Date.self, forKey: key)
    }
}
