import Foundation
import MessageRewrite
import XCTest

final class EncodedWordTests: XCTestCase {
    private let fixtures: [(input: String, expected: String, line: UInt)] = [
        ("plain text", "plain text", #line),
        ("=?UTF-8?B?SsO2cmcgTcO8bGxlcg==?=", "Jörg Müller", #line),
        ("=?utf-8?b?SsO2cmcgTcO8bGxlcg?=", "Jörg Müller", #line),  // padding missing
        ("=?UTF-8?Q?Caf=C3=A9_au_lait?=", "Café au lait", #line),
        ("=?UTF-8?q?a?= =?UTF-8?q?b?=", "ab", #line),  // white space between words goes
        ("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab", #line),
        ("Re: =?UTF-8?Q?Caf=C3=A9?= order", "Re: Café order", #line),  // white space to plain text stays
        ("=?ISO-8859-1?Q?J=F6rg?=", "Jörg", #line),
        ("=?windows-1252?Q?=80uro?=", "€uro", #line),
        ("=?UTF-8*en?Q?hello?=", "hello", #line),
        ("=?KOI8-R?Q?=F0?=", "=?KOI8-R?Q?=F0?=", #line),  // unknown charset stays
        ("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=", #line),
        ("=?UTF-8?Q?bad=Zhex?=", "=?UTF-8?Q?bad=Zhex?=", #line),
        ("=?UTF-8?B?!!!?=", "=?UTF-8?B?!!!?=", #line),
        ("=?UTF-8?Q?no end", "=?UTF-8?Q?no end", #line),
        ("=?", "=?", #line),
        ("a =?UTF-8?Q?x?= b =?UTF-8?Q?y?=", "a x b y", #line),
    ]

    func testFixtures() {
        for fixture in fixtures {
            XCTAssertEqual(EncodedWord.decode(fixture.input), fixture.expected, fixture.input.debugDescription,
                           line: fixture.line)
        }
    }
}

final class RFC5322DateTests: XCTestCase {
    private let fixtures: [(seconds: TimeInterval, offset: Int, expected: String, line: UInt)] = [
        (1_795_372_188, 0, "Sun, 22 Nov 2026 18:29:48 +0000", #line),
        (951_782_400, 0, "Tue, 29 Feb 2000 00:00:00 +0000", #line),
        (1_709_269_567, 0, "Fri, 01 Mar 2024 05:06:07 +0000", #line),
        (-1, 0, "Wed, 31 Dec 1969 23:59:59 +0000", #line),
        (0.999, 0, "Thu, 01 Jan 1970 00:00:00 +0000", #line),
        (1_795_372_188, 60, "Sun, 22 Nov 2026 19:29:48 +0100", #line),
        (1_795_372_188, -330, "Sun, 22 Nov 2026 12:59:48 -0530", #line),
        (1_795_372_188, 420, "Mon, 23 Nov 2026 01:29:48 +0700", #line),
    ]

    func testFixtures() {
        for fixture in fixtures {
            let date = Date(timeIntervalSince1970: fixture.seconds)
            XCTAssertEqual(RFC5322Date.string(from: date, offsetMinutes: fixture.offset), fixture.expected, line: fixture.line)
        }
    }

    func testAgreesWithFoundationOverManyDays() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss"
        // Every 7 days and 13 hours for about 200 years around now.
        var seconds: TimeInterval = -2_208_988_800
        while seconds < 4_102_444_800 {
            let date = Date(timeIntervalSince1970: seconds)
            XCTAssertEqual(RFC5322Date.string(from: date), formatter.string(from: date) + " +0000")
            seconds += 7 * 86_400 + 13 * 3_600 + 17
        }
    }

    func testExtremeDatesDoNotCrash() {
        for date in [Date.distantPast, Date.distantFuture, Date(timeIntervalSince1970: .nan),
                     Date(timeIntervalSince1970: .infinity), Date(timeIntervalSince1970: -.infinity)] {
            XCTAssertFalse(RFC5322Date.string(from: date).isEmpty)
        }
    }
}
