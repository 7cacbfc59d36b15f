import SMTPProtocol
import SMTPServer
import XCTest

/// A CMS submitting mail over a real socket: AUTH, the transaction, and what the backend receives.
final class SubmissionTests: XCTestCase {
    func testAuthPlainAndMessageReachBackendUnstuffed() async throws {
        let askedAbout = Locked([String]())
        let server = try await startServer(.test(plaintextAuthAllowed: { address in
            askedAbout.withLock { $0.append(address) }
            return address == "127.0.0.1"
        }))
        let client = try await server.connect()

        let ehlo = try await client.greetAndEHLO()
        XCTAssertEqual(ehlo.texts.first, "relay.test")
        XCTAssertTrue(ehlo.texts.contains("AUTH PLAIN LOGIN"), "\(ehlo)")
        XCTAssertTrue(ehlo.texts.contains("PIPELINING"), "\(ehlo)")
        XCTAssertFalse(ehlo.texts.contains("STARTTLS"), "no certificate configured: \(ehlo)")
        XCTAssertEqual(askedAbout.value, ["127.0.0.1"])

        try await client.expect("235 2.7.0 Authentication successful", after: "AUTH PLAIN \(authPlain("site@example.com", "correct horse"))")
        try await client.expect("250 2.1.0 Ok", after: "MAIL FROM:<site@example.com> BODY=8BITMIME")
        try await client.expect("250 2.1.5 Ok", after: "RCPT TO:<reader@example.org>")
        try await client.expect("250 2.1.5 Ok", after: "RCPT TO:<second@example.org>")
        try await client.expect("354 End data with <CR><LF>.<CR><LF>", after: "DATA")

        let lines: [[UInt8]] = [
            Array("From: site@example.com".utf8), Array("Subject: dots".utf8), [],
            Array(".".utf8), Array("..".utf8), Array(".hidden line".utf8),
            Array("caf".utf8) + [0xC3, 0xA9] + Array(" and raw ".utf8) + [0xFF, 0xFE, 0x80] + Array(" bytes".utf8),
            Array("end".utf8),
        ]
        let wire = dataPhase(lines)
        // Two writes, split just before a stuffed line, so the decoder's state must carry across reads.
        let split = wire.count - 30
        try await client.send(bytes: Array(wire[..<split]))
        try await Task.sleep(for: .milliseconds(50))
        try await client.send(bytes: Array(wire[split...]))
        try await client.expect("250 2.0.0 Ok: queued as MEM1")

        let committed = try XCTUnwrap(server.backend.commits.value.first)
        XCTAssertEqual(committed.bytes, messageBytes(lines))
        XCTAssertEqual(committed.envelope.mailFrom, "site@example.com")
        XCTAssertEqual(committed.envelope.recipients, ["reader@example.org", "second@example.org"])
        XCTAssertEqual(committed.envelope.authenticatedUser, "site@example.com")
        // The login AUTH verified comes back with the message: the backend need not look it up again.
        XCTAssertEqual(committed.login, "site@example.com")
        XCTAssertEqual(committed.envelope.heloName, "cms.example.com")
        XCTAssertTrue(committed.envelope.eightBitMIME)
        XCTAssertFalse(committed.envelope.tls)
        XCTAssertEqual(committed.peer.address, "127.0.0.1")
        XCTAssertFalse(committed.peer.tls)
        XCTAssertEqual(server.backend.lastSpool?.fate, .committed)

        try await client.expect("221 2.0.0 relay.test Bye", after: "QUIT")
        await client.expectClosed()
    }

    func testBackendReplyIsPassedToTheClient() async throws {
        let backend = MemoryBackend()
        backend.knobs.withLock { $0.commitReply = SMTPReply(554, "5.7.1", "Sender not allowed for this account") }
        let server = try await startServer(backend: backend)
        let client = try await server.connect()
        try await client.login()
        try await client.beginMessage()
        try await client.send(bytes: dataPhase([Array("hello".utf8)]))
        try await client.expect("554 5.7.1 Sender not allowed for this account")
        // The transaction is over either way: a new one starts cleanly.
        try await client.expect("250 2.1.0 Ok", after: "MAIL FROM:<site@example.com>")
    }

    func testAuthNotOfferedWhenPlaintextAuthIsNotAllowed() async throws {
        let server = try await startServer(.test(plaintextAuthAllowed: { _ in false }))
        let client = try await server.connect()
        let ehlo = try await client.greetAndEHLO()
        XCTAssertFalse(ehlo.lines.contains { $0.contains("AUTH") }, "\(ehlo)")
        try await client.expect(
            "538 5.7.11 Encryption required for requested authentication mechanism",
            after: "AUTH PLAIN \(authPlain("site@example.com", "correct horse"))"
        )
        try await client.expect("530 5.7.0 Authentication required", after: "MAIL FROM:<site@example.com>")
        XCTAssertTrue(server.backend.authPeers.value.isEmpty, "the password must not even be checked")
    }

    func testPipelinedTransactionGetsRepliesInOrder() async throws {
        let server = try await startServer()
        let client = try await server.connect()
        try await client.login()

        try await client.send("MAIL FROM:<site@example.com>\r\nRCPT TO:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
        var replies: [String] = []
        for _ in 0..<4 { replies.append(try await client.readReply().last) }
        XCTAssertEqual(replies, ["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])

        try await client.send(bytes: Array("Subject: x\r\n\r\nbody\r\n".utf8) + Array(".\r\nQUIT\r\n".utf8))
        try await client.expect("250 2.0.0 Ok: queued as MEM1")
        try await client.expect("221 2.0.0 relay.test Bye")
        await client.expectClosed()
        XCTAssertEqual(server.backend.commits.value.first?.envelope.recipients, ["a@example.org", "b@example.org"])
        XCTAssertEqual(server.backend.commits.value.first?.bytes, Array("Subject: x\r\n\r\nbody\r\n".utf8))
    }

    func testWholeSessionInOneWrite() async throws {
        // AUTH and DATA both make the session wait for the glue; input behind them must be kept and
        // answered afterwards, in order.
        let server = try await startServer()
        let client = try await server.connect()
        try await client.expect("220")
        try await client.send(
            "EHLO cms.example.com\r\nAUTH PLAIN \(authPlain("site@example.com", "correct horse"))\r\n"
                + "MAIL FROM:<site@example.com>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n"
                + "Subject: one write\r\n\r\n..dot\r\n.\r\nNOOP\r\nQUIT\r\n"
        )
        var replies: [String] = []
        for _ in 0..<8 { replies.append(try await client.readReply().last) }
        XCTAssertEqual(replies, [
            "250 HELP", "235 2.7.0 Authentication successful", "250 2.1.0 Ok", "250 2.1.5 Ok",
            "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as MEM1", "250 2.0.0 Ok", "221 2.0.0 relay.test Bye",
        ])
        await client.expectClosed()
        XCTAssertEqual(server.backend.commits.value.first?.bytes, Array("Subject: one write\r\n\r\n.dot\r\n".utf8))
    }

    func testFailedAuthIsAnsweredAfterADelayThatGrowsPerAddress() async throws {
        let base = Duration.milliseconds(50)
        let server = try await startServer(.test(authFailureDelay: base))
        let clock = ContinuousClock()

        // Two connections from the same address: the delay belongs to the address, not the connection.
        var delays: [Duration] = []
        for _ in 0..<2 {
            let client = try await server.connect()
            try await client.greetAndEHLO()
            try await client.send("AUTH PLAIN \(authPlain("site@example.com", "wrong"))\r\n")
            let started = clock.now
            let reply = try await client.readReply()
            delays.append(clock.now - started)
            XCTAssertEqual(reply.last, "535 5.7.8 Authentication credentials invalid")
            await client.close()
        }
        XCTAssertGreaterThanOrEqual(delays[0], base, "\(delays)")
        XCTAssertGreaterThanOrEqual(delays[1], base * 2, "\(delays)")

        // The connection stays usable after a failure, and the right password still works.
        let client = try await server.connect()
        try await client.greetAndEHLO()
        try await client.expect("535", after: "AUTH PLAIN \(authPlain("site@example.com", "wrong"))")
        try await client.expect("235", after: "AUTH PLAIN \(authPlain("site@example.com", "correct horse"))")
    }

    func testOversizedMessageIsRefusedAfterTheDotAndTheConnectionStaysUsable() async throws {
        let server = try await startServer(.test(maxMessageBytes: 1000))
        let client = try await server.connect()
        try await client.login()
        try await client.beginMessage()
        let tooBig = (0..<40).map { _ in [UInt8](repeating: UInt8(ascii: "x"), count: 98) }  // 4000 bytes
        try await client.send(bytes: dataPhase(tooBig))
        try await client.expect("552 5.3.4 Message size exceeds fixed limit")
        XCTAssertEqual(server.backend.lastSpool?.fate, .abandoned)
        XCTAssertLessThanOrEqual(server.backend.lastSpool?.bytes.count ?? 0, 1000, "nothing past the limit is spooled")
        XCTAssertTrue(server.backend.commits.value.isEmpty)

        try await client.beginMessage()
        try await client.send(bytes: dataPhase([Array("small".utf8)]))
        try await client.expect("250 2.0.0 Ok: queued as MEM1")
        XCTAssertEqual(server.backend.commits.value.map(\.bytes), [Array("small\r\n".utf8)])
    }

    func testFullDiskAnswers452AfterTheDotWithoutCommitting() async throws {
        let backend = MemoryBackend()
        backend.knobs.withLock { $0.spoolWriteLimit = 100 }
        let server = try await startServer(backend: backend)
        let client = try await server.connect()
        try await client.login()
        try await client.beginMessage()
        let lines = (0..<10).map { _ in [UInt8](repeating: UInt8(ascii: "y"), count: 48) }  // 500 bytes
        let wire = dataPhase(lines)
        // Most of the message first: the server must not answer before the final dot.
        try await client.send(bytes: Array(wire.dropLast(3)))
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(client.inbox.unreadCount, 0, "answered before the end of data: \(client.inbox.unreadText)")
        try await client.send(".\r\n")
        try await client.expect("452 4.3.1 Insufficient system storage")
        XCTAssertEqual(backend.lastSpool?.fate, .abandoned)
        XCTAssertEqual(backend.commitsStarted.value, 0, "a message that was not fully spooled must not be committed")

        backend.knobs.withLock { $0.spoolWriteLimit = nil }
        try await client.beginMessage()
        try await client.send(bytes: wire)
        try await client.expect("250 2.0.0 Ok: queued as MEM1")
        XCTAssertEqual(backend.commits.value.map(\.bytes), [messageBytes(lines)])
        XCTAssertEqual(backend.spools.value.count, 2)
    }
}
