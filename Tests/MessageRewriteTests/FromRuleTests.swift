import MessageRewrite
import XCTest

/// Rules 2 and 3: From and Sender against the account's addresses.
final class FromRuleTests: XCTestCase {
    private let accounts = ["owner@gmail.com", "sales@shop.example.org"]

    private struct Fixture {
        var name: String
        var header: [String]
        var from: [String]
        var replyTo: [String]
        var changes: [RewriteChange]
        var line: UInt = #line
    }

    private let fixtures: [Fixture] = [
        Fixture(name: "primary address", header: ["From: Owner <owner@gmail.com>"],
                from: ["Owner <owner@gmail.com>"], replyTo: [], changes: []),
        Fixture(name: "alias in another case", header: ["From: Shop <Sales@SHOP.example.org>"],
                from: ["Shop <Sales@SHOP.example.org>"], replyTo: [], changes: []),
        Fixture(name: "foreign, quoted display name kept",
                header: ["From: \"Shop\" <wordpress@example.org>"],
                from: ["\"Shop\" <owner@gmail.com>"], replyTo: ["\"Shop\" <wordpress@example.org>"],
                changes: [
                    .rewroteFrom(original: "\"Shop\" <wordpress@example.org>", to: "\"Shop\" <owner@gmail.com>"),
                    .addedReplyTo("\"Shop\" <wordpress@example.org>"),
                ]),
        Fixture(name: "foreign, encoded-word name kept as written",
                header: ["From: =?UTF-8?Q?Caf=C3=A9_Shop?= <wordpress@example.org>"],
                from: ["=?UTF-8?Q?Caf=C3=A9_Shop?= <owner@gmail.com>"],
                replyTo: ["=?UTF-8?Q?Caf=C3=A9_Shop?= <wordpress@example.org>"],
                changes: [
                    .rewroteFrom(original: "=?UTF-8?Q?Caf=C3=A9_Shop?= <wordpress@example.org>",
                                 to: "=?UTF-8?Q?Caf=C3=A9_Shop?= <owner@gmail.com>"),
                    .addedReplyTo("=?UTF-8?Q?Caf=C3=A9_Shop?= <wordpress@example.org>"),
                ]),
        Fixture(name: "foreign, no display name", header: ["From: wordpress@example.org"],
                from: ["owner@gmail.com"], replyTo: ["wordpress@example.org"],
                changes: [
                    .rewroteFrom(original: "wordpress@example.org", to: "owner@gmail.com"),
                    .addedReplyTo("wordpress@example.org"),
                ]),
        Fixture(name: "Reply-To already present is kept",
                header: ["From: Shop <wordpress@example.org>", "reply-to: Support <help@example.org>"],
                from: ["Shop <owner@gmail.com>"], replyTo: ["Support <help@example.org>"],
                changes: [.rewroteFrom(original: "Shop <wordpress@example.org>", to: "Shop <owner@gmail.com>")]),
        Fixture(name: "no From at all", header: ["To: a@example.com"],
                from: ["owner@gmail.com"], replyTo: [], changes: [.addedFrom("owner@gmail.com")]),
        Fixture(name: "From without an address", header: ["From: WordPress"],
                from: ["owner@gmail.com"], replyTo: [],
                changes: [.rewroteFrom(original: "WordPress", to: "owner@gmail.com")]),
        Fixture(name: "a second From is dropped",
                header: ["From: owner@gmail.com", "From: other@example.org"],
                from: ["owner@gmail.com"], replyTo: [], changes: [.droppedExtraFrom("other@example.org")]),
        Fixture(name: "folded foreign From",
                header: ["From: \"A very long shop name, Inc.\"", " <wordpress@example.org>"],
                from: ["\"A very long shop name, Inc.\" <owner@gmail.com>"],
                replyTo: ["\"A very long shop name, Inc.\" <wordpress@example.org>"],
                changes: [
                    .rewroteFrom(original: "\"A very long shop name, Inc.\" <wordpress@example.org>",
                                 to: "\"A very long shop name, Inc.\" <owner@gmail.com>"),
                    .addedReplyTo("\"A very long shop name, Inc.\" <wordpress@example.org>"),
                ]),
        Fixture(name: "Sender of the account stays",
                header: ["From: owner@gmail.com", "Sender: sales@shop.example.org"],
                from: ["owner@gmail.com"], replyTo: [], changes: []),
        Fixture(name: "foreign Sender is dropped",
                header: ["From: owner@gmail.com", "Sender: bounce@example.org"],
                from: ["owner@gmail.com"], replyTo: [], changes: [.droppedSender("bounce@example.org")]),
        Fixture(name: "unreadable Sender is dropped",
                header: ["From: owner@gmail.com", "Sender: (nobody)"],
                from: ["owner@gmail.com"], replyTo: [], changes: [.droppedSender("(nobody)")]),
    ]

    func testFixtures() {
        for fixture in fixtures {
            let header = crlf(fixture.header + ["Date: \(fixedDate)", "Message-ID: <m@example.org>"])
            let result = rewrite(header, accounts: accounts)
            XCTAssertEqual(values("From", in: result), fixture.from, fixture.name, line: fixture.line)
            XCTAssertEqual(values("Reply-To", in: result), fixture.replyTo, fixture.name, line: fixture.line)
            XCTAssertEqual(result.changes, fixture.changes, fixture.name, line: fixture.line)
            if fixture.changes.contains(where: { if case .droppedSender = $0 { true } else { false } }) {
                XCTAssertFalse(result.block.contains("Sender"), fixture.name, line: fixture.line)
            }
        }
    }

    func testRewrittenFromStaysInPlaceAndReplyToGoesLast() {
        let result = rewrite(crlf(
            "Date: \(fixedDate)",
            "To: a@example.com",
            "From: Shop <wordpress@example.org>",
            "Subject: s",
            "Message-ID: <m@example.org>"
        ), accounts: accounts)
        XCTAssertEqual(text(result.header), text(crlf(
            "Date: \(fixedDate)",
            "To: a@example.com",
            "From: Shop <owner@gmail.com>",
            "Subject: s",
            "Message-ID: <m@example.org>",
            "Reply-To: Shop <wordpress@example.org>"
        )))
    }

    func testDisplayNameBytesSurviveEvenWhenNotUTF8() {
        let header: [UInt8] = Array("From: ".utf8) + [0x43, 0x61, 0x66, 0xE9] + Array(" <wp@example.org>\r\n".utf8)
        let result = rewrite(header, accounts: accounts)
        let expected: [UInt8] = Array("From: ".utf8) + [0x43, 0x61, 0x66, 0xE9] + Array(" <owner@gmail.com>\r\n".utf8)
        XCTAssertEqual(Array(result.header.prefix(expected.count)), expected)
    }

    func testWithoutAccountAddressesFromAndSenderAreUntouched() {
        let header = crlf("From: Shop <wordpress@example.org>", "Sender: bounce@example.org", "Date: \(fixedDate)",
                          "Message-ID: <m@example.org>")
        let result = rewrite(header, accounts: [])
        XCTAssertEqual(result.header, header)
        XCTAssertEqual(result.changes, [])

        let noFrom = rewrite(crlf("To: a@example.com"), accounts: [])
        XCTAssertFalse(noFrom.block.contains("From"))
    }

    func testAccountAddressesMayCarryNamesAndUnreadableOnesAreSkipped() {
        let result = rewrite(crlf("From: x@example.org"), accounts: ["not an address", "Owner <OWNER@gmail.com>"])
        XCTAssertEqual(values("From", in: result), ["OWNER@gmail.com"])
    }
}
