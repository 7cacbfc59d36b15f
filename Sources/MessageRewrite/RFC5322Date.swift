import Foundation

/// The RFC 5322 §3.3 date-time a `Date:` field carries: `Sun, 22 Nov 2026 18:29:48 +0000`.
///
/// Plain arithmetic on the proleptic Gregorian calendar, so the result does not depend on the
/// machine's locale, time zone or calendar settings.
public enum RFC5322Date {
    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    /// Keeps the conversion to an integer safe for any `Date` (years 0001 to 9999).
    private static let secondsRange: ClosedRange<Double> = -62_135_596_800...253_402_300_799

    /// - Parameter offsetMinutes: the zone to show, east of UTC (`+0100` is 60). UTC by default.
    public static func string(from date: Date, offsetMinutes: Int = 0) -> String {
        let offset = max(-1439, min(1439, offsetMinutes))
        let interval = date.timeIntervalSince1970
        let clamped = interval.isNaN ? 0 : min(max(interval, secondsRange.lowerBound), secondsRange.upperBound)
        let seconds = Int64(clamped.rounded(.down)) + Int64(offset * 60)

        let days = floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        // 1970-01-01 was a Thursday.
        let weekday = Int((days % 7 + 11) % 7)

        let sign = offset < 0 ? "-" : "+"
        let paddedYear = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(weekdays[weekday]), \(twoDigits(day)) \(months[month - 1]) \(paddedYear) "
            + "\(twoDigits(Int(secondOfDay / 3600))):\(twoDigits(Int(secondOfDay / 60 % 60))):\(twoDigits(Int(secondOfDay % 60))) "
            + "\(sign)\(twoDigits(abs(offset) / 60))\(twoDigits(abs(offset) % 60))"
    }

    /// Days since 1970-01-01 to year, month (1-12), day (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceEpoch: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468
        let era = floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153  // 0 = March
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
