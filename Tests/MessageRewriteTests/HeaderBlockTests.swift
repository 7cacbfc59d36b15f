import MessageRewrite
import XCTest

final class HeaderBlockTests: XCTestCase {
    func testFieldsNamesAndUnfoldedValues() {
        let block = HeaderBlock(parsing: crlf(
            "Subject: a long",
            "\tsubject line",
            "message-id:   <abc@example.org>  ",
            "X-Empty:",
            "Obsolete-Space : value"
        ))
        XCTAssertEqual(block.fields.map(\.name), ["Subject", "message-id", "X-Empty", "Obsolete-Space"])
        XCTAssertEqual(block.subject, "a long\tsubject line", "unfolding removes CRLF only, keeps the tab")
        XCTAssertEqual(block.messageID, "<abc@example.org>")
        XCTAssertEqual(block.first(named: "x-empty")?.value, "")
        XCTAssertEqual(block.first(named: "OBSOLETE-SPACE")?.value, "value")
        XCTAssertTrue(block.malformedLines.isEmpty)
    }

    func testFoldedLinesAreKeptByteIdentical() {
        let original = crlf(
            "Content-Type: multipart/alternative;",
            " boundary=\"b1=_abc\"",
            "Subject: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?=",
            " =?UTF-8?Q?_and_more?=",
            "X-Raw: Grüße \t trailing  "
        )
        let block = HeaderBlock(parsing: original)
        XCTAssertEqual(block.fields.count, 3)
        XCTAssertEqual(block.fields[0].lines.count, 2)
        XCTAssertEqual(block.bytes, original)
    }

    func testBareLineFeedsBecomeCRLF() {
        let block = HeaderBlock(parsing: Array("To: a@example.com\nSubject: x\n folded\n".utf8))
        XCTAssertEqual(text(block.bytes), "To: a@example.com\r\nSubject: x\r\n folded\r\n")
    }

    func testLastLineWithoutLineEnd() {
        let block = HeaderBlock(parsing: Array("To: a@example.com\r\nSubject: end".utf8))
        XCTAssertEqual(text(block.bytes), "To: a@example.com\r\nSubject: end\r\n")
    }

    func testMalformedLines() {
        let block = HeaderBlock(parsing: crlf(
            " leading continuation with no field",
            "To: a@example.com",
            "this line has no colon",
            "\tits continuation",
            ": empty name",
            "Bad Name: spaces inside the name",
            "From sender@example.org Sun Nov 22 18:00:00 2026",
            "Subject: kept"
        ))
        XCTAssertEqual(block.fields.map(\.name), ["To", "Subject"])
        XCTAssertEqual(block.malformedLines.map { text($0) }, [
            " leading continuation with no field",
            "this line has no colon",
            "\tits continuation",
            ": empty name",
            "Bad Name: spaces inside the name",
            "From sender@example.org Sun Nov 22 18:00:00 2026",
        ])
    }

    func testBareCarriageReturnCannotSplitALine() {
        let block = HeaderBlock(parsing: Array("Subject: a\rBcc: evil@example.com\r\n".utf8))
        XCTAssertEqual(block.fields.map(\.name), ["Subject"])
        XCTAssertEqual(text(block.bytes), "Subject: a Bcc: evil@example.com\r\n")
    }

    func testEmptyLineEndsTheField() {
        let block = HeaderBlock(parsing: Array("Subject: a\r\n\r\n continued?\r\n".utf8))
        XCTAssertEqual(block.subject, "a")
        XCTAssertEqual(block.malformedLines.map { text($0) }, [" continued?"])
    }

    func testMessagePrefix() {
        let message = Array("Subject: hello\r\nMessage-ID: <m@x>\r\n\r\nSubject: body, not header\r\n".utf8)
        let whole = HeaderBlock(messagePrefix: message, isWholeMessage: true)
        XCTAssertEqual(whole.subject, "hello")
        XCTAssertEqual(whole.messageID, "<m@x>")
        XCTAssertEqual(whole.fields.count, 2)

        // The first 30 bytes end inside the Message-ID line: that cut-off line is left out.
        let partial = HeaderBlock(messagePrefix: Array(message.prefix(30)), isWholeMessage: false)
        XCTAssertEqual(partial.subject, "hello")
        XCTAssertNil(partial.messageID)
    }

    func testGeneratedFieldsAreFolded() {
        let addresses = (1...12).map { "recipient\($0)@example.com" }.joined(separator: ", ")
        let field = HeaderField(name: "Bcc", value: addresses)
        XCTAssertGreaterThan(field.lines.count, 1)
        for line in field.lines { XCTAssertLessThanOrEqual(line.count, 78) }
        XCTAssertTrue(field.lines.dropFirst().allSatisfy { $0.first == 0x20 })
        XCTAssertEqual(field.value, addresses, "folding must not change the unfolded value")
        XCTAssertEqual(HeaderBlock(parsing: field.raw).fields, [field])
    }

    func testGeneratedFieldsCannotInjectLines() {
        let field = HeaderField(name: "Reply-To", value: "a@example.com\r\nBcc: evil@example.com")
        XCTAssertEqual(field.lines.count, 1)
        XCTAssertEqual(text(field.raw), "Reply-To: a@example.com  Bcc: evil@example.com\r\n")
    }
}
