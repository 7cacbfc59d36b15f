import Foundation

/// The database stores every timestamp as INTEGER milliseconds since the Unix epoch (UTC):
/// compact, sorts and compares in SQL without parsing, and has no time zone to get wrong.
package enum Millis {
    package static func from(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    package static func date(_ ms: Int64) -> Date {
        Date(timeIntervalSince1970: Double(ms) / 1000)
    }

    package static func dateIfAny(_ ms: Int64?) -> Date? {
        ms.map { date($0) }
    }
}

/// JSON carries timestamps as ISO-8601 UTC strings with second precision ("2025-01-31T12:00:00Z").
public enum ISO8601 {
    public static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }

    public static func date(_ string: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle().parse(string) { return d }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(string)
    }
}
