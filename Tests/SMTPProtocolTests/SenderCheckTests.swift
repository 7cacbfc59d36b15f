import Testing
@testable import SMTPProtocol

/// MAIL FROM waits for the glue when `checksSender` is set (a login with a daily limit).
@Suite struct SenderCheckTests {
    static let login = "AUTH PLAIN AGNtcwBzZWNyZXQ=\r\n"  // \0cms\0secret

    /// Greets, EHLO, AUTH (answered at once), with `checksSender` set as the glue does after AUTH.
    static func session(checksSender: Bool) -> SMTPSession {
        var session = SMTPSession(configuration: .test())
        _ = session.start()
        session.receive(Array("EHLO c\r\n\(login)".utf8))
        _ = session.process()
        session.checksSender = checksSender
        _ = session.authenticationFinished(success: true)
        return session
    }

    static func replies(_ actions: [SMTPAction]) -> [String] {
        actions.compactMap { if case .reply(let reply) = $0 { "\(reply.code) \(reply.enhancedCode ?? "")" } else { nil } }
    }

    @Test func aRefusedSenderEndsTheTransactionAndPipelinedCommandsFollowIt() {
        var session = Self.session(checksSender: true)
        session.receive(Array("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@b.example>\r\nDATA\r\n".utf8))
        let first = session.process()
        #expect(first == [.checkSender(mailFrom: "a@b.example")])
        #expect(session.isWaiting, "nothing after MAIL is read before the answer")
        let after = session.senderChecked(refusal: SMTPReply(452, "4.5.3", "Daily limit reached"))
        #expect(Self.replies(after) == ["452 4.5.3", "503 5.5.1", "503 5.5.1"])
        #expect(!after.contains(.beginMessage))
        #expect(session.isIdle)
    }

    @Test func anAdmittedSenderGoesOn() {
        var session = Self.session(checksSender: true)
        session.receive(Array("MAIL FROM:<a@b.example>\r\nRCPT TO:<r@b.example>\r\nDATA\r\n".utf8))
        _ = session.process()
        let after = session.senderChecked(refusal: nil)
        #expect(Self.replies(after) == ["250 2.1.0", "250 2.1.5"])
        #expect(after.last == .beginMessage)
    }

    @Test func withoutTheFlagMailIsAnsweredAtOnceAndStartTLSClearsIt() {
        var plain = Self.session(checksSender: false)
        plain.receive(Array("MAIL FROM:<a@b.example>\r\n".utf8))
        #expect(Self.replies(plain.process()) == ["250 2.1.0"])

        var session = SMTPSession(configuration: .test(startTLSAvailable: true))
        session.checksSender = true
        session.receive(Array("EHLO c\r\nSTARTTLS\r\n".utf8))
        _ = session.process()
        _ = session.tlsEstablished()
        #expect(!session.checksSender, "the login and its check go with STARTTLS")
        // An answer nobody asked for changes nothing.
        #expect(session.senderChecked(refusal: nil).isEmpty)
    }
}
