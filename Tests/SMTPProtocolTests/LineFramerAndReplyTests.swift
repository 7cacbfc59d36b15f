import SMTPProtocol
import XCTest

final class LineFramerTests: XCTestCase {
    private func events(_ chunks: [[UInt8]], limit: Int) -> [LineFramer.Event] {
        var framer = LineFramer(maxLineLength: limit)
        var result: [LineFramer.Event] = []
        for chunk in chunks {
            var offset = 0
            while offset < chunk.count {
                let (event, consumed) = chunk.withUnsafeBytes { framer.next(in: $0, from: offset) }
                XCTAssertGreaterThan(consumed, 0)
                offset += consumed
                if let event { result.append(event) }
            }
            XCTAssertLessThanOrEqual(framer.bufferedByteCount, limit + 1)
        }
        return result
    }

    func testLinesAtEverySplit() {
        let input = bytes("EHLO a\r\nNOOP\n\r\nlast\r") + [0xFF] + bytes("\r\n")
        let expected: [LineFramer.Event] = [.line(bytes("EHLO a")), .line(bytes("NOOP")), .line([]), .line(bytes("last\r") + [0xFF])]
        XCTAssertEqual(events([input], limit: 100), expected)
        for position in 0...input.count {
            XCTAssertEqual(events([Array(input[..<position]), Array(input[position...])], limit: 100), expected, "split at \(position)")
        }
        XCTAssertEqual(events(input.map { [$0] }, limit: 100), expected)
    }

    func testTooLongIsReportedOnceAndTheRestOfTheLineSkipped() {
        let input = bytes(String(repeating: "x", count: 25) + "\r\nok\r\n" + String(repeating: "y", count: 11) + "\n")
        let expected: [LineFramer.Event] = [.tooLong, .line(bytes("ok")), .tooLong]
        XCTAssertEqual(events([input], limit: 10), expected)
        XCTAssertEqual(events(input.map { [$0] }, limit: 10), expected)
        for position in 0...input.count {
            XCTAssertEqual(events([Array(input[..<position]), Array(input[position...])], limit: 10), expected, "split at \(position)")
        }
    }

    func testTheLimitCountsTheLineWithoutItsEnding() {
        let exactly = String(repeating: "z", count: 10)
        XCTAssertEqual(events([bytes(exactly + "\r\n")], limit: 10), [.line(bytes(exactly))])
        XCTAssertEqual(events([bytes(exactly + "\n")], limit: 10), [.line(bytes(exactly))])
        XCTAssertEqual(events([bytes(exactly + "z\r\n")], limit: 10), [.tooLong])
        XCTAssertEqual(events([bytes(exactly + "z\n")], limit: 10), [.tooLong])
        XCTAssertEqual(events([bytes(exactly + "\rz\r\n")], limit: 10), [.tooLong], "a CR inside the line counts")
        XCTAssertEqual(events([bytes(exactly + "\r\r\n")], limit: 10), [.tooLong])
    }

    func testResetForgetsAPartialLineAndDiscarding() {
        var framer = LineFramer(maxLineLength: 4)
        _ = bytes("abcdefg").withUnsafeBytes { framer.next(in: $0, from: 0) }
        framer.reset()
        XCTAssertEqual(framer.bufferedByteCount, 0)
        let (event, _) = bytes("ok\n").withUnsafeBytes { framer.next(in: $0, from: 0) }
        XCTAssertEqual(event, .line(bytes("ok")), "no longer discarding")
    }
}

final class SMTPReplyTests: XCTestCase {
    func testEncoding() {
        XCTAssertEqual(SMTPReply.ok.encoded(), "250 2.0.0 Ok\r\n")
        XCTAssertEqual(SMTPReply(250, nil, ["a", "b", "c"]).encoded(), "250-a\r\n250-b\r\n250 c\r\n")
        XCTAssertEqual(SMTPReply(550, "5.1.1", ["one", "two"]).encoded(), "550-5.1.1 one\r\n550 5.1.1 two\r\n", "enhanced code on every line")
        XCTAssertEqual(SMTPReply(334, nil, "").encoded(), "334 \r\n")
        XCTAssertEqual(SMTPReply(250, "2.0.0", []).encoded(), "250 2.0.0\r\n")
        XCTAssertEqual(SMTPReply(250, nil, [String]()).lines, [""])
    }

    func testReplyTextCannotBreakTheFraming() {
        let reply = SMTPReply(554, "5.7.1", "bad\r\n250 2.0.0 Ok\u{0}\u{7F}\u{1B}[31m é")
        XCTAssertEqual(reply.encoded(), "554 5.7.1 bad  250 2.0.0 Ok[31m é\r\n")
    }

    func testClassification() {
        XCTAssertTrue(SMTPReply.ok.isPositive)
        XCTAssertTrue(SMTPReply.startData.isPositive)
        XCTAssertFalse(SMTPReply.tooManyRecipients.isPositive)
        XCTAssertFalse(SMTPReply.tooManyRecipients.isPermanentFailure)
        XCTAssertTrue(SMTPReply.authFailed.isPermanentFailure)
        XCTAssertEqual(SMTPReply(250, nil, ["a", "b"]).description, "250-a\n250 b")
        XCTAssertEqual(SMTPReply(550, "5.1.1", ["a", "b"]).description, "550-5.1.1 a\n550 5.1.1 b")
    }

    func testEveryReplyCodeHasAMatchingEnhancedClass() {
        // RFC 3463: the class digit of the enhanced code is the first digit of the reply code.
        let replies: [SMTPReply] = [
            .ok, .senderOk, .recipientOk, .readyToStartTLS, .authSucceeded, .cannotVerify, .commandUnrecognized, .lineTooLong,
            .commandNotImplemented, .heloFirst, .nestedMail, .needMail, .needRecipients, .alreadyAuthenticated,
            .authDuringTransaction, .tlsAlreadyActive, .authRequired, .encryptionRequired, .authFailed, .authAborted,
            .authNotAvailable, .unsupportedMechanism, .badBase64, .badSender, .badRecipient, .smtpUTF8Required,
            .tooManyRecipients, .messageTooBig, .insufficientStorage, .localError, .tooManyErrors, .notHTTP,
            .closing("h"), .timeout("h"), .tooManyConnections("h"), .shuttingDown("h"),
        ]
        for reply in replies {
            guard let enhanced = reply.enhancedCode else { XCTFail("\(reply) has no enhanced code"); continue }
            XCTAssertEqual(enhanced.first, String(reply.code).first, reply.description)
        }
    }
}
