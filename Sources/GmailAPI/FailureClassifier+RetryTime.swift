import Foundation

/// When Google says to try again: Gmail's "Retry after <RFC 3339 time>" in the message text
/// (docs/google-api.md 2.8) or an HTTP Retry-After header (seconds or HTTP-date, RFC 9110 10.2.3).
///
/// Parsed by hand rather than with date formatters: the inputs are fixed formats, and this keeps
/// the classifier free of locale, time zone and formatter state.
enum RetryTime {
    /// The time in "... Retry after 2026-11-22T19:04:05.123Z (Mail sending)", if any.
    static func fromMessage(_ text: String) -> Date? {
        guard let marker = text.range(of: "retry after", options: .caseInsensitive) else { return nil }
        let rest = text[marker.upperBound...].drop { $0 == " " }
        let token = rest.prefix { !$0.isWhitespace && $0 != "(" && $0 != "," && $0 != ";" }
        var trimmed = Substring(token)
        if trimmed.last == "." { trimmed = trimmed.dropLast() }
        return rfc3339(String(trimmed))
    }

    /// The Retry-After header value: delta-seconds or an HTTP-date.
    static func fromHeader(_ value: String, now: Date) -> Date? {
        let value = value.trimmingCharacters(in: .whitespaces)
        if !value.isEmpty, value.allSatisfy(\.isASCIIDigit) {
            guard let seconds = Int(value) else { return nil }
            return now.addingTimeInterval(TimeInterval(seconds))
        }
        return httpDate(value)
    }

    /// `YYYY-MM-DD(T|t| )hh:mm:ss[.fraction](Z|z|±hh:mm)`.
    static func rfc3339(_ text: String) -> Date? {
        let chars = Array(text.utf8)
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= chars.count else { return nil }
            var value = 0
            for byte in chars[index..<index + width] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += width
            return value
        }
        func expect(_ allowed: String) -> Bool {
            guard index < chars.count, allowed.utf8.contains(chars[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              expect("Tt "), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
              let second = number(2)
        else { return nil }
        var fraction = 0.0
        if index < chars.count, chars[index] == UInt8(ascii: ".") {
            let start = index
            index += 1
            while index < chars.count, chars[index] >= 0x30, chars[index] <= 0x39 { index += 1 }
            // "0.123" as one decimal, so .123 lands on the same Double as a literal would.
            guard index > start + 1, let value = Double("0" + String(decoding: chars[start..<index], as: UTF8.self)) else { return nil }
            fraction = value
        }
        var offset = 0
        if expect("Zz") {
            offset = 0
        } else if index < chars.count, chars[index] == UInt8(ascii: "+") || chars[index] == UInt8(ascii: "-") {
            let sign = chars[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2), expect(":"), let minutes = number(2), hours < 24, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == chars.count,
              let seconds = epochSeconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds - offset) + fraction)
    }

    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), and the obsolete RFC 850
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`) forms.
    static func httpDate(_ text: String) -> Date? {
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map(String.init)
        guard !tokens.isEmpty else { return nil }
        if tokens[0].allSatisfy(\.isLetter), month(tokens[0]) == nil { tokens.removeFirst() }
        let day: Int?, monthNumber: Int?, yearText: String, clock: String
        if tokens.count >= 4, let first = tokens.first, first.allSatisfy(\.isASCIIDigit) {
            day = Int(tokens[0]); monthNumber = month(tokens[1]); yearText = tokens[2]; clock = tokens[3]
            guard tokens.count == 4 || (tokens.count == 5 && ["GMT", "UTC"].contains(tokens[4].uppercased())) else { return nil }
        } else if tokens.count == 4 {
            monthNumber = month(tokens[0]); day = Int(tokens[1]); clock = tokens[2]; yearText = tokens[3]
        } else {
            return nil
        }
        guard let day, let monthNumber, var year = Int(yearText), yearText.allSatisfy(\.isASCIIDigit) else { return nil }
        if yearText.count == 2 { year += year < 70 ? 2000 : 1900 }
        let parts = clock.split(separator: ":").map { Int($0) }
        guard parts.count == 3, let hour = parts[0], let minute = parts[1], let second = parts[2] else { return nil }
        guard let seconds = epochSeconds(year: year, month: monthNumber, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    private static func month(_ name: String) -> Int? {
        months.firstIndex(of: name.lowercased()).map { $0 + 1 }
    }

    /// Seconds since 1970 of a UTC civil time, or nil when a field is out of range
    /// (days-from-civil, H. Hinnant; leap second 60 allowed as RFC 3339 does).
    static func epochSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int? {
        guard (1...12).contains(month), hour < 24, minute < 60, second <= 60, day >= 1 else { return nil }
        let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthLengths = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard day <= monthLengths[month - 1] else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + hour * 3_600 + minute * 60 + second
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
