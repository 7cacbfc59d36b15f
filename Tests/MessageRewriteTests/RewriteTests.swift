import Foundation
import MessageRewrite
import XCTest

/// Whole header blocks through `rewriteHeader`, and rules 4 and 5.
final class RewriteTests: XCTestCase {
    func testPHPMailerMessageFromWordPress() {
        // WordPress sends as wordpress@shop.example.org; the account's alias list does not have it.
        // RCPT TO holds a Bcc recipient PHPMailer left out of the header.
        let result = rewrite(phpMailerHeader,
                             recipients: ["jane@example.com", "orders@shop.example.org", "archive@shop.example.org"],
                             accounts: ["owner@gmail.com"])
        XCTAssertEqual(text(result.header), text(crlf(
            "Date: Sun, 22 Nov 2026 18:20:01 +0000",
            "To: Jane Customer <jane@example.com>",
            "From: My Shop <owner@gmail.com>",
            "Cc: orders@shop.example.org",
            "Reply-To: My Shop <support@shop.example.org>",
            "Subject: =?UTF-8?Q?Your_order_=E2=84=96_1042_has_shipped?=",
            "Message-ID: <Qx7pK2dV0aE9mT1YwRbZs3nLcUfH4gJ6iO8@shop.example.org>",
            "X-Mailer: PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative;",
            " boundary=\"b1=_Qx7pK2dV0aE9mT1YwRbZs3nLcUfH4gJ6iO8\"",
            "Bcc: archive@shop.example.org"
        )))
        XCTAssertEqual(result.changes, [
            .rewroteFrom(original: "My Shop <wordpress@shop.example.org>", to: "My Shop <owner@gmail.com>"),
            .addedBcc(["archive@shop.example.org"]),
        ])
        XCTAssertEqual(result.subject, "=?UTF-8?Q?Your_order_=E2=84=96_1042_has_shipped?=")
        XCTAssertEqual(EncodedWord.decode(result.subject!), "Your order № 1042 has shipped")
        XCTAssertEqual(result.messageID, "<Qx7pK2dV0aE9mT1YwRbZs3nLcUfH4gJ6iO8@shop.example.org>")
        XCTAssertEqual(result.recipients, ["jane@example.com", "orders@shop.example.org", "archive@shop.example.org"])
    }

    func testPHPMailerMessageFromAnAlias() {
        let result = rewrite(phpMailerHeader, recipients: ["jane@example.com", "orders@shop.example.org"],
                             accounts: ["owner@gmail.com", "wordpress@shop.example.org"])
        XCTAssertEqual(result.header, phpMailerHeader, "nothing to do: the header goes through byte for byte")
        XCTAssertEqual(result.changes, [])
    }

    func testMissingDateAndMessageIDAreAdded() {
        let result = rewrite(crlf("From: owner@gmail.com", "To: a@example.com", "Subject: s"))
        XCTAssertEqual(text(result.header), text(crlf(
            "From: owner@gmail.com",
            "To: a@example.com",
            "Subject: s",
            "Message-ID: <\(fixedMessageID)>",
            "Date: \(fixedDate)"
        )))
        XCTAssertEqual(result.changes, [.addedMessageID("<\(fixedMessageID)>"), .addedDate(fixedDate)])
        XCTAssertEqual(result.messageID, "<\(fixedMessageID)>")
    }

    func testPresentDateAndMessageIDAreKeptInAnyCase() {
        let header = crlf("From: owner@gmail.com", "DATE: Mon, 1 Jan 2024 00:00:00 +0100", "Message-Id: <x@y>")
        XCTAssertEqual(rewrite(header).header, header)
    }

    func testBlankDateAndMessageIDAreFilledInPlace() {
        let result = rewrite(crlf("Message-ID:", "From: owner@gmail.com", "Date:   "))
        XCTAssertEqual(result.block.fields.map(\.name), ["Message-ID", "From", "Date"])
        XCTAssertEqual(result.messageID, "<\(fixedMessageID)>")
        XCTAssertEqual(values("Date", in: result), [fixedDate])
    }

    func testMessageIDIsOnlyGeneratedWhenNeeded() {
        var calls = 0
        func generate() -> String {
            calls += 1
            return "<generated@x>"
        }
        _ = rewriteHeader(crlf("Message-ID: <kept@x>"), envelopeRecipients: [], accountAddresses: [],
                          now: fixedNow, newMessageID: generate())
        XCTAssertEqual(calls, 0)
        let result = rewriteHeader(crlf("Subject: s"), envelopeRecipients: [], accountAddresses: [],
                                   now: fixedNow, newMessageID: generate())
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(result.messageID, "<generated@x>", "angle brackets are not doubled")
    }

    func testReturnPathIsDropped() {
        let result = rewrite(crlf("Return-Path: <bounce@example.org>", "From: owner@gmail.com", "return-path: <>",
                                  "Date: \(fixedDate)", "Message-ID: <m@x>"))
        XCTAssertEqual(result.block.fields.map(\.name), ["From", "Date", "Message-ID"])
        XCTAssertEqual(result.changes, [.droppedReturnPath])
    }

    func testBareLineFeedInputBecomesCRLF() {
        let header = Array("From: owner@gmail.com\nTo: a@example.com\nSubject: folded\n  subject\nDate: \(fixedDate)\nMessage-ID: <m@x>\n".utf8)
        let result = rewrite(header, recipients: ["a@example.com"])
        XCTAssertEqual(text(result.header),
                       "From: owner@gmail.com\r\nTo: a@example.com\r\nSubject: folded\r\n  subject\r\nDate: \(fixedDate)\r\nMessage-ID: <m@x>\r\n")
        XCTAssertEqual(result.changes, [])
        assertCRLFOnly(result.header)
    }

    func testGarbageLinesAreDroppedAndReported() {
        let header: [UInt8] = Array("From owner@gmail.com Sun Nov 22 2026\r\n\u{1}\u{2}\u{3}\r\n:::\r\n".utf8)
            + [0xFF, 0xFE, 0x0D, 0x0A] + Array("From: owner@gmail.com\r\nDate: x\r\nMessage-ID: <m@x>\r\n".utf8)
        let result = rewrite(header)
        XCTAssertEqual(text(result.header), "From: owner@gmail.com\r\nDate: x\r\nMessage-ID: <m@x>\r\n")
        XCTAssertEqual(result.changes.count, 4)
        XCTAssertEqual(result.changes.first, .droppedMalformedLine("From owner@gmail.com Sun Nov 22 2026"))
    }

    func testEmptyHeader() {
        let result = rewrite([], recipients: ["a@example.com"])
        XCTAssertEqual(text(result.header), text(crlf(
            "From: owner@gmail.com",
            "Bcc: a@example.com",
            "Message-ID: <\(fixedMessageID)>",
            "Date: \(fixedDate)"
        )))
    }

    func testChangeDescriptionsNameWhatHappened() {
        let descriptions = [
            RewriteChange.addedBcc(["a@example.com", "b@example.com"]),
            .mergedBcc(fieldCount: 2),
            .rewroteFrom(original: "wp@example.org", to: "owner@gmail.com"),
            .addedFrom("owner@gmail.com"),
            .addedReplyTo("wp@example.org"),
            .droppedExtraFrom("x@example.org"),
            .droppedSender("s@example.org"),
            .addedMessageID("<m@x>"),
            .addedDate(fixedDate),
            .droppedReturnPath,
            .droppedMalformedLine("junk"),
            .unreadableRecipient("postmaster"),
        ].map(\.description)
        XCTAssertEqual(descriptions[0], "added envelope recipients to Bcc: a@example.com, b@example.com")
        XCTAssertEqual(descriptions[2], "From wp@example.org is not an address of the account; rewrote it to owner@gmail.com")
        XCTAssertEqual(Set(descriptions).count, descriptions.count)
        XCTAssertTrue(descriptions.allSatisfy { !$0.isEmpty })
    }
}
