import MessageRewrite
import XCTest

/// Rule 1: envelope recipients Gmail would not see go to Bcc.
final class RecipientRuleTests: XCTestCase {
    private struct Fixture {
        var name: String
        var header: [String]
        var envelope: [String]
        /// The Bcc fields of the result (unfolded values).
        var bcc: [String]
        var added: [String]?
        var line: UInt = #line
    }

    private let fixtures: [Fixture] = [
        Fixture(name: "already in To", header: ["To: Jane <jane@example.com>"], envelope: ["jane@example.com"],
                bcc: [], added: nil),
        Fixture(name: "in To with another case", header: ["To: Jane <Jane.Doe@Example.COM>"],
                envelope: ["jane.doe@example.com"], bcc: [], added: nil),
        Fixture(name: "angle brackets in RCPT", header: ["To: jane@example.com"], envelope: ["<jane@example.com>"],
                bcc: [], added: nil),
        Fixture(name: "in Cc", header: ["To: a@example.com", "Cc: \"Doe, Jane\" <jane@example.com>"],
                envelope: ["a@example.com", "jane@example.com"], bcc: [], added: nil),
        Fixture(name: "in a group", header: ["To: Team: a@example.com, b@example.com;"],
                envelope: ["b@example.com"], bcc: [], added: nil),
        Fixture(name: "in an existing Bcc", header: ["To: a@example.com", "Bcc: hidden@example.com"],
                envelope: ["a@example.com", "HIDDEN@example.com"], bcc: ["hidden@example.com"], added: nil),
        Fixture(name: "one missing", header: ["To: a@example.com"], envelope: ["a@example.com", "archive@example.net"],
                bcc: ["archive@example.net"], added: ["archive@example.net"]),
        Fixture(name: "several missing, duplicates once", header: ["To: a@example.com"],
                envelope: ["x@example.net", "a@example.com", "y@example.net", "X@example.net"],
                bcc: ["x@example.net, y@example.net"], added: ["x@example.net", "y@example.net"]),
        Fixture(name: "appended to an existing Bcc", header: ["Bcc: Boss <boss@example.com>", "To: a@example.com"],
                envelope: ["a@example.com", "new@example.net"],
                bcc: ["Boss <boss@example.com>, new@example.net"], added: ["new@example.net"]),
        Fixture(name: "undisclosed recipients", header: ["To: undisclosed-recipients:;"],
                envelope: ["a@example.com", "b@example.com"], bcc: ["a@example.com, b@example.com"],
                added: ["a@example.com", "b@example.com"]),
        Fixture(name: "no recipient fields at all", header: ["Subject: hi"], envelope: ["a@example.com"],
                bcc: ["a@example.com"], added: ["a@example.com"]),
        Fixture(name: "comment with the address is not a recipient",
                header: ["To: a@example.com (cc missing@example.com too)"], envelope: ["missing@example.com"],
                bcc: ["missing@example.com"], added: ["missing@example.com"]),
        Fixture(name: "local part compared ignoring case for presence", header: ["Cc: BOB@example.com"],
                envelope: ["bob@EXAMPLE.com"], bcc: [], added: nil),
        // Found by the fuzzer: written bare, this local part starts an encoded-word that runs to the
        // `?=` at the end and swallows the `@`, so the Bcc would hold no address at all.
        Fixture(name: "local part that would read as an encoded-word is quoted", header: ["To: a@example.com"],
                envelope: ["=?UTF-8?B?w5xiZXI@example.\u{14}o=?="], bcc: ["\"=?UTF-8?B?w5xiZXI\"@example.o=?="],
                added: ["=?UTF-8?B?w5xiZXI@example.o=?="]),
    ]

    func testFixtures() {
        for fixture in fixtures {
            let result = rewrite(crlf(fixture.header), recipients: fixture.envelope)
            XCTAssertEqual(values("Bcc", in: result), fixture.bcc, fixture.name, line: fixture.line)
            let added = result.changes.compactMap { change -> [String]? in
                if case .addedBcc(let addresses) = change { return addresses } else { return nil }
            }
            XCTAssertEqual(added.first, fixture.added, fixture.name, line: fixture.line)
            XCTAssertLessThanOrEqual(added.count, 1, fixture.name, line: fixture.line)
            // Every envelope recipient is now a recipient Gmail sees.
            let seen = Set(result.recipients.map { $0.lowercased() })
            for recipient in fixture.envelope {
                let address = EmailAddress(parsing: recipient)!.recipientKey
                XCTAssertTrue(seen.contains(address), "\(fixture.name): \(recipient) not a recipient", line: fixture.line)
            }
        }
    }

    func testNothingMissingLeavesExistingBccByteIdentical() {
        let header = crlf("To: a@example.com", "bcc:   Hidden  <hidden@example.com>  (note)")
        let result = rewrite(header, recipients: ["hidden@example.com"], accounts: [])
        XCTAssertEqual(text(result.header), text(header) + "Message-ID: <\(fixedMessageID)>\r\nDate: \(fixedDate)\r\n")
    }

    func testSeveralBccFieldsAreMergedInPlaceOfTheFirst() {
        let result = rewrite(crlf(
            "To: a@example.com",
            "Bcc: one@example.com",
            "Subject: s",
            "BCC: two@example.com, One@example.com",
            "bcc:"
        ), recipients: ["a@example.com"], accounts: [])
        XCTAssertEqual(result.block.fields.map(\.name), ["To", "Bcc", "Subject", "Message-ID", "Date"])
        XCTAssertEqual(values("Bcc", in: result), ["one@example.com, two@example.com"])
        XCTAssertEqual(result.changes.first, .mergedBcc(fieldCount: 3))
    }

    func testSeveralEmptyBccFieldsBecomeOne() {
        let result = rewrite(crlf("To: a@example.com", "Bcc:", "Bcc: undisclosed-recipients:;"), recipients: [])
        XCTAssertEqual(result.block.fields(named: "Bcc").count, 1)
        XCTAssertEqual(values("Bcc", in: result), [""])
    }

    func testNewBccGoesAtTheEndAndIsFolded() {
        let envelope = (1...30).map { "user\($0)@example.net" }
        let result = rewrite(crlf("To: a@example.com", "Subject: many"), recipients: envelope)
        let bcc = result.block.fields(named: "Bcc")
        XCTAssertEqual(bcc.count, 1)
        XCTAssertEqual(result.block.fields.last?.name, "Date")
        XCTAssertGreaterThan(bcc[0].lines.count, 5)
        XCTAssertTrue(bcc[0].lines.allSatisfy { $0.count <= 78 })
        XCTAssertEqual(AddressList.parse(bcc[0].valueBytes).map(\.address.addrSpec), envelope)
        XCTAssertEqual(result.recipients, ["a@example.com"] + envelope)
        assertCRLFOnly(result.header)
    }

    func testUnreadableEnvelopeRecipientIsReported() {
        let result = rewrite(crlf("To: a@example.com"), recipients: ["postmaster", "b@example.com"])
        XCTAssertTrue(result.changes.contains(.unreadableRecipient("postmaster")))
        XCTAssertEqual(values("Bcc", in: result), ["b@example.com"])
    }

    func testRecipientsListsToCcBccOnce() {
        let result = rewrite(crlf(
            "To: A <a@example.com>, b@example.com",
            "Cc: B@example.com, c@example.com",
            "Bcc: d@example.com"
        ), recipients: ["e@example.com"])
        XCTAssertEqual(result.recipients, ["a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"])
    }
}
