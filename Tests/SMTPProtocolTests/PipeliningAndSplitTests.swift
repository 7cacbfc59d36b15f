@testable import SMTPProtocol
import XCTest

/// PIPELINING (RFC 2920) and the promise that TCP segmentation never changes what happens: a
/// conversation split at any byte, or sent one byte at a time, gives the same replies and messages.
final class PipeliningAndSplitTests: XCTestCase {
    func testPipelinedGroupIsAnsweredInOrder() {
        let driver = SessionDriver.authenticated()
        driver.send("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\n")
        XCTAssertEqual(driver.takeReplyLines(), ["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])
        XCTAssertTrue(driver.session.isReceivingData)
        driver.send("Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n")
        XCTAssertEqual(driver.takeReplyLines(), ["250 2.0.0 Ok: queued as 1", "221 2.0.0 relay.test Bye"])
        XCTAssertTrue(driver.closed)
        XCTAssertEqual(driver.messages.first?.data, bytes("Subject: x\r\n\r\n.dot\r\n"))
        XCTAssertEqual(driver.messages.first?.envelope.recipients, ["c@d", "e@f"])
        XCTAssertEqual(driver.messages.first?.envelope.mailFrom, "a@b")
    }

    func testPipelinedGroupWithFailuresInTheMiddle() {
        // RFC 2920: each command gets its own reply, in order, even when an earlier one failed.
        let driver = SessionDriver.authenticated()
        driver.send("MAIL FROM:<a@b>\r\nRCPT TO:<>\r\nRCPT TO:<e@f>\r\nDATA\r\nhello\r\n.\r\n")
        XCTAssertEqual(driver.takeReplyLines(), [
            "250 2.1.0 Ok", "501 5.1.3 Bad recipient address syntax", "250 2.1.5 Ok",
            "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1",
        ])
        XCTAssertEqual(driver.messages.first?.envelope.recipients, ["e@f"])
    }

    func testPipelinedDataAfterRefusedDATAIsReadAsCommands() {
        // When DATA is refused the client's text is not a message: each line is a (bad) command.
        let driver = SessionDriver.authenticated()
        driver.send("MAIL FROM:<a@b>\r\nRCPT TO:<>\r\nDATA\r\nhello\r\n.\r\n")
        XCTAssertEqual(driver.takeReplyLines(), [
            "250 2.1.0 Ok", "501 5.1.3 Bad recipient address syntax", "554 5.5.1 Error: no valid recipients",
            "500 5.5.2 Error: command not recognized", "421 4.7.0 Error: too many errors",
        ])
        XCTAssertTrue(driver.messages.isEmpty)
        XCTAssertFalse(driver.events.contains(.beginMessage))
    }

    func testTwoTransactionsInOneChunk() {
        let driver = SessionDriver.authenticated()
        driver.send("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\none\r\n.\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\ntwo\r\n.\r\nQUIT\r\n")
        XCTAssertEqual(driver.takeReplyLines(), [
            "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1",
            "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1",
            "221 2.0.0 relay.test Bye",
        ])
        XCTAssertEqual(driver.messages.map(\.data), [bytes("one\r\n"), bytes("two\r\n")])
        XCTAssertEqual(driver.messages.map(\.envelope.mailFrom), ["a@b", "x@y"])
    }

    func testSessionWaitsForTheGlueAndKeepsPipelinedInput() {
        // Drive the session by hand: while it waits, later commands stay buffered and run afterwards.
        var session = SMTPSession(configuration: .test())
        _ = session.start()
        session.receive(bytes("EHLO c\r\nAUTH PLAIN AGNtcwBzZWNyZXQ=\r\nMAIL FROM:<a@b>\r\n"))
        let first = session.process()
        XCTAssertEqual(first.last, .authenticate(username: "cms", password: "secret"))
        XCTAssertTrue(session.isWaiting)
        XCTAssertEqual(session.pendingInputCount, bytes("MAIL FROM:<a@b>\r\n").count)
        XCTAssertEqual(session.process(), [], "nothing happens while waiting")
        XCTAssertEqual(session.messageBegan(success: true), [], "answers to other waits are ignored")
        XCTAssertEqual(session.tlsEstablished(), [])
        XCTAssertEqual(session.messageFinished(reply: .ok), [])
        XCTAssertEqual(session.authenticationFinished(success: true), [.reply(.authSucceeded), .reply(.senderOk)])
        XCTAssertEqual(session.authenticationFinished(success: true), [], "a second answer is ignored")
        XCTAssertFalse(session.isWaiting)
    }

    // MARK: - Every byte boundary

    struct Conversation {
        var name: String
        var configuration: SMTPSessionConfiguration = .test()
        /// Parts sent in order; each is split independently. A part must end where the client has to
        /// wait anyway (after STARTTLS's 220: what follows is encrypted).
        var parts: [[UInt8]]
        var expectedMessages: [[UInt8]]
        var expectClosed: Bool
    }

    static let stuffedBody = bytes("Subject: dots\r\n\r\n..leading\r\n...\r\n..\r\nmid.dle.\r\n. \r\n") +
        bytes("bare\n.\nLF\r\nbare\r.\rCR\r\nlf-dot-crlf\n.\r\nx\r\ncrlf-dot-lf\r\n.\nend\r\n") +
        [0xC3, 0xA9, 0x00, 0xFF, 0x80, 13, 13, 10] + bytes(".\r\r\n\r\n")
    static let unstuffedBody = bytes("Subject: dots\r\n\r\n.leading\r\n..\r\n.\r\nmid.dle.\r\n \r\n") +
        bytes("bare\n.\nLF\r\nbare\r.\rCR\r\nlf-dot-crlf\n.\r\nx\r\ncrlf-dot-lf\r\n\nend\r\n") +
        [0xC3, 0xA9, 0x00, 0xFF, 0x80, 13, 13, 10] + bytes("\r\r\n\r\n")

    static let conversations: [Conversation] = [
        Conversation(
            name: "submission with dot-stuffing, then QUIT",
            parts: [bytes("EHLO client.example\r\nAUTH PLAIN AGNtcwBzZWNyZXQ=\r\nMAIL FROM:<a@b.example> BODY=8BITMIME\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")
                + stuffedBody + bytes(".\r\nQUIT\r\n")],
            expectedMessages: [unstuffedBody], expectClosed: true
        ),
        Conversation(
            name: "AUTH LOGIN, two messages, RSET, bare-LF commands",
            parts: [bytes("EHLO c\nAUTH LOGIN\r\nY21z\r\nc2VjcmV0\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRSET\r\nMAIL FROM:<a@b>\r\nRCPT TO:<e@f>\r\nDATA\r\n")
                + bytes(".\r\n") + bytes("MAIL FROM:<>\nRCPT TO:<g@h>\nDATA\n..\r\n.\r\nNOOP\r\n")],
            expectedMessages: [[], bytes(".\r\n")], expectClosed: false
        ),
        Conversation(
            name: "long line, errors, 421",
            configuration: .test(maxLineLength: 40),
            parts: [bytes("EHLO c\r\nNOOP " + String(repeating: "x", count: 100) + "\r\nNOOP\r\nWHAT\r\n\r\nNOOP\r\n")],
            expectedMessages: [], expectClosed: true
        ),
        Conversation(
            name: "message over the size limit, then another that fits",
            configuration: .test(maxMessageBytes: 30),
            parts: [bytes("EHLO c\r\nAUTH PLAIN AGNtcwBzZWNyZXQ=\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
                + bytes(String(repeating: "0123456789\r\n", count: 4) + ".\r\n")
                + bytes("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n0123456789\r\n0123456789\r\n.\r\n")],
            expectedMessages: [bytes("0123456789\r\n0123456789\r\n")], expectClosed: false
        ),
        Conversation(
            name: "HTTP request",
            parts: [bytes("GET / HTTP/1.1\r\nHost: relay.test\r\n\r\n")],
            expectedMessages: [], expectClosed: true
        ),
        Conversation(
            name: "STARTTLS, then the session inside TLS",
            configuration: .test(startTLSAvailable: true, plaintextAuthAllowed: false),
            parts: [
                bytes("EHLO c\r\nAUTH PLAIN AGNtcwBzZWNyZXQ=\r\nSTARTTLS\r\n"),
                bytes("EHLO c\r\nAUTH PLAIN\r\nAGNtcwBzZWNyZXQ=\r\nMAIL FROM:<j\u{f6}rg@b.example> SMTPUTF8\r\nRCPT TO:<c@d>\r\nDATA\r\nGr\u{fc}\u{df}e\r\n.\r\n"),
            ],
            expectedMessages: [bytes("Gr\u{fc}\u{df}e\r\n")], expectClosed: false
        ),
        Conversation(
            name: "failed logins",
            parts: [bytes("EHLO c\r\nAUTH PLAIN AGNtcwB3cm9uZw==\r\nAUTH PLAIN\r\n*\r\nAUTH LOGIN\r\nY21z\r\nd3Jvbmc=\r\nNOOP\r\n")],
            expectedMessages: [], expectClosed: true
        ),
    ]

    private func run(_ conversation: Conversation, chunking: (Int, [UInt8]) -> [[UInt8]]) -> SessionDriver {
        let driver = SessionDriver(configuration: conversation.configuration)
        for (index, part) in conversation.parts.enumerated() {
            driver.send(chunks: chunking(index, part))
        }
        return driver
    }

    func testConversationsBaselines() {
        for conversation in Self.conversations {
            let driver = run(conversation) { _, part in [part] }
            XCTAssertEqual(driver.messages.map(\.data), conversation.expectedMessages, conversation.name)
            XCTAssertEqual(driver.closed, conversation.expectClosed, conversation.name)
            XCTAssertFalse(driver.wire.isEmpty)
        }
    }

    func testBaselineRepliesOfTheDotStuffingConversation() {
        let driver = run(Self.conversations[0]) { _, part in [part] }
        XCTAssertEqual(Array(driver.takeReplyLines().suffix(6)), [
            "235 2.7.0 Authentication successful", "250 2.1.0 Ok", "250 2.1.5 Ok",
            "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1", "221 2.0.0 relay.test Bye",
        ])
        XCTAssertEqual(driver.messages.first?.envelope.eightBitMIME, true)
    }

    func testEverySingleSplitGivesTheSameResult() {
        for conversation in Self.conversations {
            let baseline = run(conversation) { _, part in [part] }.summary
            for (partIndex, part) in conversation.parts.enumerated() {
                for position in 1..<part.count {
                    let split = run(conversation) { index, chunk in
                        index == partIndex ? [Array(chunk[..<position]), Array(chunk[position...])] : [chunk]
                    }.summary
                    if split != baseline {
                        XCTFail("\(conversation.name): split of part \(partIndex) at \(position) differs\n\(split)\nvs\n\(baseline)")
                        break
                    }
                }
            }
        }
    }

    func testOneByteAtATimeGivesTheSameResult() {
        for conversation in Self.conversations {
            let baseline = run(conversation) { _, part in [part] }.summary
            let bytewise = run(conversation) { _, part in part.map { [$0] } }.summary
            XCTAssertEqual(bytewise, baseline, conversation.name)
        }
    }

    func testRandomChunkingGivesTheSameResult() {
        var generator = SeededGenerator(seed: 0x5EED)
        for conversation in Self.conversations {
            let baseline = run(conversation) { _, part in [part] }.summary
            for round in 0..<100 {
                let chunked = run(conversation) { _, part in
                    var chunks: [[UInt8]] = []
                    var start = 0
                    while start < part.count {
                        let length = Int.random(in: 1...max(1, min(17, part.count - start)), using: &generator)
                        chunks.append(Array(part[start..<start + length]))
                        start += length
                    }
                    return chunks
                }.summary
                if chunked != baseline {
                    XCTFail("\(conversation.name): random chunking round \(round) differs")
                    break
                }
            }
        }
    }

    func testRandomMessagesSurviveTheSessionWithRandomChunks() {
        var generator = SeededGenerator(seed: 42)
        for round in 0..<200 {
            let body = randomMessage(using: &generator)
            let wire = bytes("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n") + dotStuffed(body) + bytes("NOOP\r\n")
            let driver = SessionDriver.authenticated()
            var start = 0
            while start < wire.count {
                let length = Int.random(in: 1...64, using: &generator)
                driver.send(Array(wire[start..<min(wire.count, start + length)]))
                start += length
            }
            XCTAssertEqual(driver.messages.count, 1, "round \(round)")
            XCTAssertEqual(driver.messages.first?.data, body, "round \(round)")
            XCTAssertEqual(driver.takeReplyLines().last, "250 2.0.0 Ok", "round \(round): the pipelined NOOP after the dot")
        }
    }
}

/// A message as a client would mean it: lines full of dots, bare CR and LF, NUL and 8-bit bytes,
/// each ending with CRLF (or no lines at all).
func randomMessage(using generator: inout SeededGenerator, maxLines: Int = 12) -> [UInt8] {
    let alphabet: [UInt8] = [UInt8(ascii: "."), UInt8(ascii: "."), UInt8(ascii: "."), 13, 10, UInt8(ascii: "a"), UInt8(ascii: " "), 0, 0xFF, 0xC3, 0xA9]
    var message: [UInt8] = []
    for _ in 0..<Int.random(in: 0...maxLines, using: &generator) {
        for _ in 0..<Int.random(in: 0...8, using: &generator) {
            message.append(alphabet.randomElement(using: &generator)!)
        }
        message += [13, 10]
    }
    return message
}
