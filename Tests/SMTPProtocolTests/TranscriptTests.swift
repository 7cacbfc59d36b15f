@testable import SMTPProtocol
import XCTest

/// Whole dialogues, written as the client and the server would see them on the wire.
final class TranscriptTests: XCTestCase {
    // MARK: - A full submission

    func testSubmissionWithAuthPlainDeliversEnvelopeAndMessage() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            S: 235 2.7.0 Authentication successful
            C: MAIL FROM:<site@example.org>
            S: 250 2.1.0 Ok
            C: RCPT TO:<alice@example.com>
            S: 250 2.1.5 Ok
            C: RCPT TO:<bob@example.net>
            S: 250 2.1.5 Ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: Subject: hello
            C:
            C: ..leading dot
            C: .
            S: 250 2.0.0 Ok: queued as 1
            C: QUIT
            S: 221 2.0.0 relay.test Bye
            !closed
            """)
        XCTAssertEqual(driver.messages.count, 1)
        XCTAssertEqual(driver.messages.first?.envelope, Envelope(
            heloName: "client.example", mailFrom: "site@example.org", recipients: ["alice@example.com", "bob@example.net"],
            authenticatedUser: "cms", tls: false, eightBitMIME: false, smtpUTF8: false
        ))
        XCTAssertEqual(driver.messages.first?.data, bytes("Subject: hello\r\n\r\n.leading dot\r\n"))
        XCTAssertEqual(driver.authAttempts, [.init(username: "cms", password: "secret")])
        XCTAssertEqual(driver.session.authenticatedUser, "cms")
    }

    func testTwoMessagesInOneSessionAndTheTransactionResetsBetweenThem() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            S: 235 2.7.0 Authentication successful
            C: MAIL FROM:<a@example.org> BODY=8BITMIME
            S: 250 2.1.0 Ok
            C: RCPT TO:<x@example.com>
            S: 250 2.1.5 Ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: one
            C: .
            S: 250 2.0.0 Ok: queued as 1
            # The recipients of the first message must not leak into the second.
            C: RCPT TO:<y@example.com>
            S: 503 5.5.1 Error: need MAIL command
            C: MAIL FROM:<>
            S: 250 2.1.0 Ok
            C: RCPT TO:<y@example.com>
            S: 250 2.1.5 Ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: two
            C: .
            S: 250 2.0.0 Ok: queued as 1
            """)
        XCTAssertEqual(driver.messages.map(\.envelope.recipients), [["x@example.com"], ["y@example.com"]])
        XCTAssertEqual(driver.messages.map(\.envelope.mailFrom), ["a@example.org", ""])
        XCTAssertEqual(driver.messages.map(\.envelope.eightBitMIME), [true, false])
        XCTAssertEqual(driver.messages.map(\.data), [bytes("one\r\n"), bytes("two\r\n")])
    }

    func testCommitReplyFromTheGlueIsPassedThrough() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            S: 235 2.7.0 Authentication successful
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<x@example.com>
            C: DATA
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 354 End data with <CR><LF>.<CR><LF>
            C: text
            C: .
            S: 554 5.7.1 Rejected by Gmail:  550 bad recipient
            C: NOOP
            S: 250 2.0.0 Ok
            """, commitReply: SMTPReply(554, "5.7.1", "Rejected by Gmail:\r\n550 bad recipient"))
        XCTAssertEqual(driver.messages.count, 1)
    }

    func testSpoolFailureAnswers452AndEndsTheTransaction() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            S: 235 2.7.0 Authentication successful
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<x@example.com>
            C: DATA
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 452 4.3.1 Insufficient system storage
            C: RCPT TO:<x@example.com>
            S: 503 5.5.1 Error: need MAIL command
            """, beginMessageSucceeds: false)
        XCTAssertEqual(driver.messages.count, 0)
        XCTAssertEqual(driver.events.filter { $0 == .beginMessage }.count, 1)
        XCTAssertFalse(driver.events.contains(.messageData))
    }

    // MARK: - Sequencing

    func testMailBeforeEHLO() {
        runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: MAIL FROM:<a@example.org>
            S: 503 5.5.1 Error: send HELO/EHLO first
            """)
    }

    func testRcptBeforeMailDataWithoutMailAndDataWithoutRcpt() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("RCPT TO:<x@example.com>"), ["503 5.5.1 Error: need MAIL command"])
        XCTAssertEqual(driver.exchange("DATA"), ["503 5.5.1 Error: need MAIL command"])
        let fresh = SessionDriver.authenticated()
        XCTAssertEqual(fresh.exchange("MAIL FROM:<a@example.org>"), ["250 2.1.0 Ok"])
        XCTAssertEqual(fresh.exchange("DATA"), ["554 5.5.1 Error: no valid recipients"])
        XCTAssertFalse(fresh.events.contains(.beginMessage))
    }

    func testNestedMail() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>", "MAIL FROM:<b@example.org>"),
                       ["250 2.1.0 Ok", "503 5.5.1 Error: nested MAIL command"])
        XCTAssertEqual(driver.exchange("RCPT TO:<x@example.com>", "DATA"), ["250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])
        XCTAssertEqual(driver.exchange("."), ["250 2.0.0 Ok: queued as 1"])
        XCTAssertEqual(driver.messages.first?.envelope.mailFrom, "a@example.org", "the first MAIL stays")
    }

    func testEHLOAgainResetsTheTransactionButKeepsTheLogin() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>", "RCPT TO:<x@example.com>"), ["250 2.1.0 Ok", "250 2.1.5 Ok"])
        let ehlo = driver.exchange("EHLO again.example")
        XCTAssertEqual(ehlo.first, "250-relay.test")
        XCTAssertFalse(ehlo.contains("250-AUTH PLAIN LOGIN"), "AUTH is not offered to a session that is logged in")
        XCTAssertEqual(driver.exchange("DATA"), ["503 5.5.1 Error: need MAIL command"])
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>"), ["250 2.1.0 Ok"], "still authenticated")
    }

    func testRSETClearsTheTransaction() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>", "RCPT TO:<x@example.com>", "RSET"),
                       ["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok"])
        XCTAssertEqual(driver.exchange("RCPT TO:<y@example.com>"), ["503 5.5.1 Error: need MAIL command"])
        XCTAssertEqual(driver.exchange("MAIL FROM:<b@example.org>", "RCPT TO:<y@example.com>", "DATA"),
                       ["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])
        XCTAssertEqual(driver.exchange("."), ["250 2.0.0 Ok: queued as 1"])
        XCTAssertEqual(driver.messages.first?.envelope.recipients, ["y@example.com"])
        XCTAssertEqual(driver.messages.first?.envelope.mailFrom, "b@example.org")
        XCTAssertEqual(driver.exchange("RSET now"), ["501 5.5.4 Syntax: RSET"])
    }

    // MARK: - Who may send

    func testMailBeforeAuthIs530() {
        runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: MAIL FROM:<a@example.org>
            S: 530 5.7.0 Authentication required
            C: RCPT TO:<x@example.com>
            S: 503 5.5.1 Error: need MAIL command
            """)
    }

    func testTrustedPeerMaySubmitWithoutAuth() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: HELO printer.lan
            S: 250 relay.test
            C: MAIL FROM:<printer@lan.example>
            S: 250 2.1.0 Ok
            C: RCPT TO:<office@example.com>
            S: 250 2.1.5 Ok
            C: DATA
            S: 354 End data with <CR><LF>.<CR><LF>
            C: scan
            C: .
            S: 250 2.0.0 Ok: queued as 1
            """, configuration: .test(plaintextAuthAllowed: false, trustedPeer: true))
        XCTAssertEqual(driver.messages.first?.envelope.authenticatedUser, nil)
        XCTAssertEqual(driver.messages.first?.envelope.heloName, "printer.lan")
    }

    func testAuthWithoutTLSIsRefusedAndNotAdvertised() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250 HELP
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            S: 538 5.7.11 Encryption required for requested authentication mechanism
            C: AUTH LOGIN
            S: 538 5.7.11 Encryption required for requested authentication mechanism
            C: MAIL FROM:<a@example.org>
            S: 530 5.7.0 Authentication required
            S: 421 4.7.0 Error: too many errors
            !closed
            """, configuration: .test(plaintextAuthAllowed: false))
        XCTAssertTrue(driver.authAttempts.isEmpty, "the password must not even be checked")
    }

    func testAuthOnImplicitTLSIsAdvertisedAndEnvelopeSaysTLS() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            S: 235 2.7.0 Authentication successful
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<x@example.com>
            C: DATA
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 354 End data with <CR><LF>.<CR><LF>
            C: .
            S: 250 2.0.0 Ok: queued as 1
            """, configuration: .test(startTLSAvailable: true, tlsActive: true, plaintextAuthAllowed: false))
        XCTAssertEqual(driver.messages.first?.envelope.tls, true)
        XCTAssertEqual(driver.messages.first?.data, [], "an empty message is allowed")
    }

    func testAuthPlainWithoutInitialResponse() {
        runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH PLAIN
            S: 334<SP>
            C: AGNtcwBzZWNyZXQ=
            S: 235 2.7.0 Authentication successful
            C: AUTH PLAIN
            S: 503 5.5.1 Error: already authenticated
            """)
    }

    func testAuthPlainAcceptsAuthzidEqualToAuthcidAndLowercaseMechanism() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("auth plain Y21zAGNtcwBzZWNyZXQ="), ["235 2.7.0 Authentication successful"])
        XCTAssertEqual(driver.authAttempts, [.init(username: "cms", password: "secret")])
    }

    func testAuthPlainRejectsAnotherAuthorizationIdentity() {
        let driver = SessionDriver.greeted()
        // "other\0cms\0secret": valid password, but it asks to act as someone else.
        XCTAssertEqual(driver.exchange("AUTH PLAIN b3RoZXIAY21zAHNlY3JldA=="), ["535 5.7.8 Authentication credentials invalid"])
        XCTAssertTrue(driver.authAttempts.isEmpty)
        XCTAssertNil(driver.session.authenticatedUser)
    }

    func testAuthPlainEmptyResponse() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH PLAIN ="), ["535 5.7.8 Authentication credentials invalid"])
        XCTAssertEqual(driver.exchange("AUTH PLAIN", "="), ["334 ", "535 5.7.8 Authentication credentials invalid"])
        XCTAssertTrue(driver.authAttempts.isEmpty)
    }

    func testAuthPlainMissingPasswordFieldOrEmptyUser() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH PLAIN AGNtcw=="), ["535 5.7.8 Authentication credentials invalid"])  // "\0cms"
        XCTAssertEqual(driver.exchange("AUTH PLAIN AABzZWNyZXQ="), ["535 5.7.8 Authentication credentials invalid"])  // "\0\0secret"
        XCTAssertTrue(driver.authAttempts.isEmpty)
    }

    func testAuthLoginWithoutInitialResponse() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH LOGIN
            S: 334 VXNlcm5hbWU6
            C: Y21z
            S: 334 UGFzc3dvcmQ6
            C: c2VjcmV0
            S: 235 2.7.0 Authentication successful
            """)
        XCTAssertEqual(driver.authAttempts, [.init(username: "cms", password: "secret")])
    }

    func testAuthLoginWithInitialResponseAndEmptyPassword() {
        let driver = SessionDriver(configuration: .test(), users: ["nopass": ""])
        driver.send("EHLO client.example\r\n")
        _ = driver.takeReplyLines()
        XCTAssertEqual(driver.exchange("AUTH LOGIN bm9wYXNz"), ["334 UGFzc3dvcmQ6"])
        XCTAssertEqual(driver.exchange("="), ["235 2.7.0 Authentication successful"])
        XCTAssertEqual(driver.authAttempts, [.init(username: "nopass", password: "")])
    }

    func testAuthLoginEmptyUsernameIsRefused() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH LOGIN ="), ["501 5.5.2 Cannot decode response"])
        XCTAssertTrue(driver.authAttempts.isEmpty)
    }

    func testAuthCancelledWithStar() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH PLAIN"), ["334 "])
        XCTAssertEqual(driver.exchange("*"), ["501 5.0.0 Authentication aborted"])
        XCTAssertEqual(driver.exchange("AUTH LOGIN", "Y21z"), ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"])
        XCTAssertEqual(driver.exchange("*"), ["501 5.0.0 Authentication aborted"])
        XCTAssertTrue(driver.authAttempts.isEmpty)
        // After a cancel the next line is a command again, not a response.
        XCTAssertEqual(driver.exchange("NOOP"), ["250 2.0.0 Ok"])
    }

    func testAuthBadBase64() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH PLAIN !!!!"), ["501 5.5.2 Cannot decode response"])
        XCTAssertEqual(driver.exchange("AUTH LOGIN", "Y21"), ["334 VXNlcm5hbWU6", "501 5.5.2 Cannot decode response"])
        XCTAssertTrue(driver.authAttempts.isEmpty)
    }

    func testAuthLoginPasswordBadBase64() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH LOGIN Y21z", "c2Vj=mV0"), ["334 UGFzc3dvcmQ6", "501 5.5.2 Cannot decode response"])
        XCTAssertTrue(driver.authAttempts.isEmpty)
    }

    func testWrongPasswordIs535AndThirdFailureCloses() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: AUTH PLAIN AGNtcwB3cm9uZw==
            S: 535 5.7.8 Authentication credentials invalid
            C: AUTH LOGIN Y21z
            S: 334 UGFzc3dvcmQ6
            C: d3Jvbmc=
            S: 535 5.7.8 Authentication credentials invalid
            C: AUTH PLAIN AGNtcwB3cm9uZw==
            S: 535 5.7.8 Authentication credentials invalid
            S: 421 4.7.0 Error: too many errors
            !closed
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            !silent
            """)
        XCTAssertEqual(driver.authAttempts.map(\.password), ["wrong", "wrong", "wrong"])
        XCTAssertNil(driver.session.authenticatedUser)
    }

    func testWrongPasswordThenRightOne() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH PLAIN AGNtcwB3cm9uZw=="), ["535 5.7.8 Authentication credentials invalid"])
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>"), ["530 5.7.0 Authentication required"])
        XCTAssertEqual(driver.exchange("AUTH PLAIN AGNtcwBzZWNyZXQ="), ["235 2.7.0 Authentication successful"])
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>"), ["250 2.1.0 Ok"])
    }

    func testAuthOtherRules() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH CRAM-MD5"), ["504 5.5.4 Unrecognized authentication type"])
        XCTAssertEqual(driver.exchange("AUTH"), ["501 5.5.4 Syntax: AUTH mechanism [initial-response]"])
        let helo = SessionDriver(configuration: .test())
        XCTAssertEqual(helo.exchange("HELO client.example"), [greeting, "250 relay.test"])
        XCTAssertEqual(helo.exchange("AUTH PLAIN AGNtcwBzZWNyZXQ="), ["503 5.5.1 Error: send EHLO first"])
        let noHello = SessionDriver(configuration: .test())
        XCTAssertEqual(noHello.exchange("AUTH PLAIN AGNtcwBzZWNyZXQ="), [greeting, "503 5.5.1 Error: send EHLO first"])
        XCTAssertTrue(helo.authAttempts.isEmpty && noHello.authAttempts.isEmpty)
    }

    func testAuthDuringTransactionIsRefused() {
        let driver = SessionDriver.greeted(configuration: .test(trustedPeer: true))
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>", "AUTH PLAIN AGNtcwBzZWNyZXQ="),
                       ["250 2.1.0 Ok", "503 5.5.1 Error: MAIL transaction in progress"])
    }

    func testOverlongAuthResponseEndsTheExchange() {
        // The client got a final reply (500) for its response; its next line is a command again.
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH PLAIN"), ["334 "])
        XCTAssertEqual(driver.exchange(String(repeating: "A", count: 600)), ["500 5.5.2 Error: line too long"])
        XCTAssertEqual(driver.exchange("NOOP"), ["250 2.0.0 Ok"])
    }

    // MARK: - STARTTLS

    func testSTARTTLSAdvertisedOnlyWhenAvailableAndNotActive() {
        func ehloLines(_ configuration: SMTPSessionConfiguration) -> [String] {
            let driver = SessionDriver(configuration: configuration)
            return driver.exchange("EHLO client.example")
        }
        let available = ehloLines(.test(startTLSAvailable: true, plaintextAuthAllowed: false))
        XCTAssertEqual(available, [
            greeting, "250-relay.test", "250-PIPELINING", "250-SIZE 10000", "250-8BITMIME", "250-SMTPUTF8",
            "250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250 HELP",
        ])
        let active = ehloLines(.test(startTLSAvailable: true, tlsActive: true, plaintextAuthAllowed: false))
        XCTAssertFalse(active.contains("250-STARTTLS"))
        XCTAssertTrue(active.contains("250-AUTH PLAIN LOGIN"))
        let unavailable = ehloLines(.test(startTLSAvailable: false, plaintextAuthAllowed: true))
        XCTAssertFalse(unavailable.contains("250-STARTTLS"))

        let noTLS = SessionDriver.greeted(configuration: .test())
        XCTAssertEqual(noTLS.exchange("STARTTLS"), ["502 5.5.1 Error: command not implemented"])
        XCTAssertEqual(noTLS.tlsHandshakes, 0)
        let already = SessionDriver.greeted(configuration: .test(startTLSAvailable: true, tlsActive: true))
        XCTAssertEqual(already.exchange("STARTTLS"), ["503 5.5.1 Error: TLS already active"])
        XCTAssertEqual(already.tlsHandshakes, 0)
        let withArgument = SessionDriver.greeted(configuration: .test(startTLSAvailable: true))
        XCTAssertEqual(withArgument.exchange("STARTTLS now"), ["501 5.5.4 Syntax: STARTTLS"])
    }

    func testSTARTTLSDiscardsPipelinedPlaintextAndResetsTheSession() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-STARTTLS
            S: 250 HELP
            # An attacker in the middle appends commands to the plaintext STARTTLS: none may run.
            C: STARTTLS
            C: MAIL FROM:<x@y.example>
            C: RCPT TO:<victim@example.com>
            S: 220 2.0.0 Ready to start TLS
            # Now inside TLS: HELO state is gone, and AUTH is offered.
            C: MAIL FROM:<a@example.org>
            S: 503 5.5.1 Error: send HELO/EHLO first
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: MAIL FROM:<a@example.org>
            S: 530 5.7.0 Authentication required
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            S: 235 2.7.0 Authentication successful
            C: MAIL FROM:<a@example.org>
            C: RCPT TO:<x@example.com>
            C: DATA
            S: 250 2.1.0 Ok
            S: 250 2.1.5 Ok
            S: 354 End data with <CR><LF>.<CR><LF>
            C: .
            S: 250 2.0.0 Ok: queued as 1
            # Third protocol error since the handshake (503, 530, 503).
            C: STARTTLS
            S: 503 5.5.1 Error: TLS already active
            S: 421 4.7.0 Error: too many errors
            !closed
            """, configuration: .test(startTLSAvailable: true, plaintextAuthAllowed: false))
        XCTAssertEqual(driver.tlsHandshakes, 1)
        XCTAssertEqual(driver.messages.first?.envelope.tls, true)
        XCTAssertEqual(driver.messages.first?.envelope.recipients, ["x@example.com"])
    }

    func testSTARTTLSForgetsLoginTransactionAndHalfLine() {
        let driver = SessionDriver.authenticated(configuration: .test(startTLSAvailable: true, plaintextAuthAllowed: true))
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>"), ["250 2.1.0 Ok"])
        // A partial line after STARTTLS in the same chunk must not prefix the first encrypted line.
        driver.send("STARTTLS\r\nMAIL FR")
        XCTAssertEqual(driver.takeReplyLines(), ["220 2.0.0 Ready to start TLS"])
        XCTAssertEqual(driver.tlsHandshakes, 1)
        XCTAssertNil(driver.session.authenticatedUser)
        XCTAssertEqual(driver.session.pendingInputCount, 0)
        let ehlo = driver.exchange("EHLO client.example")
        XCTAssertEqual(ehlo.first, "250-relay.test")
        XCTAssertTrue(ehlo.contains("250-AUTH PLAIN LOGIN"), "login again")
        XCTAssertEqual(driver.exchange("RCPT TO:<x@example.com>"), ["503 5.5.1 Error: need MAIL command"])
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>"), ["530 5.7.0 Authentication required"])
    }

    func testSTARTTLSResetsTheErrorCount() {
        let driver = SessionDriver.greeted(configuration: .test(startTLSAvailable: true))
        XCTAssertEqual(driver.exchange("BOGUS", "BOGUS"), ["500 5.5.2 Error: command not recognized", "500 5.5.2 Error: command not recognized"])
        XCTAssertEqual(driver.exchange("STARTTLS"), ["220 2.0.0 Ready to start TLS"])
        XCTAssertEqual(driver.exchange("BOGUS", "BOGUS"), ["500 5.5.2 Error: command not recognized", "500 5.5.2 Error: command not recognized"])
        XCTAssertFalse(driver.closed)
    }

    // MARK: - MAIL parameters

    func testSizeParameter() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> SIZE=10001"), ["552 5.3.4 Message size exceeds fixed limit"])
        XCTAssertEqual(driver.exchange("RCPT TO:<x@example.com>"), ["503 5.5.1 Error: need MAIL command"], "no transaction was opened")
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> SIZE=99999999999999999999"), ["552 5.3.4 Message size exceeds fixed limit"],
                       "20 digits are valid syntax (RFC 1870) even beyond Int.max")
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> SIZE=10000"), ["250 2.1.0 Ok"])
        let bad = SessionDriver.authenticated()
        XCTAssertEqual(bad.exchange("MAIL FROM:<a@example.org> SIZE=abc"), ["501 5.5.4 Bad SIZE parameter"])
        XCTAssertEqual(bad.exchange("MAIL FROM:<a@example.org> SIZE=123456789012345678901"), ["501 5.5.4 Bad SIZE parameter"], "21 digits")
        XCTAssertEqual(bad.exchange("MAIL FROM:<a@example.org> SIZE"), ["501 5.5.4 Bad SIZE parameter", "421 4.7.0 Error: too many errors"])
        let negative = SessionDriver.authenticated()
        XCTAssertEqual(negative.exchange("MAIL FROM:<a@example.org> SIZE=-1", "MAIL FROM:<a@example.org> SIZE=1e3", "MAIL FROM:<a@example.org> SIZE=\u{0661}"),
                       ["501 5.5.4 Bad SIZE parameter", "501 5.5.4 Bad SIZE parameter", "501 5.5.4 Bad SIZE parameter", "421 4.7.0 Error: too many errors"])
    }

    func testSizeAnnouncedTooBigIsNotAProtocolError() {
        let driver = SessionDriver.authenticated()
        for _ in 0..<5 {
            XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> SIZE=999999"), ["552 5.3.4 Message size exceeds fixed limit"])
        }
        XCTAssertFalse(driver.closed)
    }

    func testBodyParameter() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> BODY=BINARYMIME"), ["555 5.5.4 Unsupported BODY type"])
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> body=8bitmime", "RCPT TO:<x@example.com>", "DATA"),
                       ["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])
        driver.send([0xC3, 0xA9, 0xFF, 0x00, 13, 10] + bytes(".\r\n"))
        XCTAssertEqual(driver.takeReplyLines(), ["250 2.0.0 Ok: queued as 1"])
        XCTAssertEqual(driver.messages.last?.envelope.eightBitMIME, true)
        XCTAssertEqual(driver.messages.last?.data, [0xC3, 0xA9, 0xFF, 0x00, 13, 10])
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> BODY=7BIT", "RCPT TO:<x@example.com>", "DATA", "."),
                       ["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1"])
        XCTAssertEqual(driver.messages.last?.envelope.eightBitMIME, false)
    }

    func testSMTPUTF8AndNonASCIIAddresses() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("MAIL FROM:<jörg@exämple.de>"), ["553 5.6.7 Non-ASCII address requires SMTPUTF8"])
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>", "RCPT TO:<zoë@example.com>"),
                       ["250 2.1.0 Ok", "553 5.6.7 Non-ASCII address requires SMTPUTF8"])

        let utf8 = SessionDriver.authenticated()
        XCTAssertEqual(utf8.exchange("MAIL FROM:<jörg@exämple.de> SMTPUTF8", "RCPT TO:<zoë@example.com>", "DATA", "Subject: café", "."),
                       ["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1"])
        XCTAssertEqual(utf8.messages.first?.envelope.mailFrom, "jörg@exämple.de")
        XCTAssertEqual(utf8.messages.first?.envelope.recipients, ["zoë@example.com"])
        XCTAssertEqual(utf8.messages.first?.envelope.smtpUTF8, true)
        XCTAssertEqual(utf8.messages.first?.data, bytes("Subject: café\r\n"))
        XCTAssertEqual(utf8.exchange("MAIL FROM:<a@example.org> SMTPUTF8=yes"), ["555 5.5.4 SMTPUTF8 takes no value"])
    }

    func testInvalidUTF8CommandIsUnrecognized() {
        let driver = SessionDriver.authenticated()
        driver.send(bytes("MAIL FROM:<j") + [0xFF] + bytes("@example.org> SMTPUTF8\r\n"))
        XCTAssertEqual(driver.takeReplyLines(), ["500 5.5.2 Error: command not recognized"])
    }

    func testUnknownParametersAndAuthParameter() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> RET=HDRS"), ["555 5.5.4 Unsupported option: RET"])
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org> AUTH=<>", "RCPT TO:<x@example.com> NOTIFY=NEVER"),
                       ["250 2.1.0 Ok", "555 5.5.4 Unsupported option: NOTIFY"])
    }

    func testHELOHasNoExtensions() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: HELO client.example
            S: 250 relay.test
            C: AUTH PLAIN AGNtcwBzZWNyZXQ=
            S: 503 5.5.1 Error: send EHLO first
            """)
        XCTAssertTrue(driver.authAttempts.isEmpty)
        let trusted = SessionDriver(configuration: .test(trustedPeer: true))
        XCTAssertEqual(trusted.exchange("HELO client.example", "MAIL FROM:<a@example.org> SIZE=10", "MAIL FROM:<a@example.org> BODY=8BITMIME",
                                        "MAIL FROM:<a@example.org>"),
                       [greeting, "250 relay.test", "555 5.5.4 Unsupported option: SIZE", "555 5.5.4 Unsupported option: BODY", "250 2.1.0 Ok"])
        XCTAssertEqual(trusted.exchange("EHLO"), ["501 5.5.4 Syntax: EHLO hostname", "421 4.7.0 Error: too many errors"])
    }

    // MARK: - Limits

    func testRecipientLimit() {
        let driver = SessionDriver.authenticated(configuration: .test(maxRecipients: 100))
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>"), ["250 2.1.0 Ok"])
        let lines = (1...100).map { "RCPT TO:<r\($0)@example.com>" }
        driver.send(lines.map { $0 + "\r\n" }.joined())
        XCTAssertEqual(driver.takeReplyLines(), Array(repeating: "250 2.1.5 Ok", count: 100))
        XCTAssertEqual(driver.exchange("RCPT TO:<r101@example.com>"), ["452 4.5.3 Error: too many recipients"])
        XCTAssertEqual(driver.exchange("RCPT TO:<r102@example.com>"), ["452 4.5.3 Error: too many recipients"])
        XCTAssertEqual(driver.exchange("RCPT TO:<R7@EXAMPLE.COM>"), ["250 2.1.5 Ok"], "a duplicate adds nothing, so it fits")
        XCTAssertEqual(driver.exchange("RCPT TO:<r103@example.com>"), ["452 4.5.3 Error: too many recipients"])
        XCTAssertFalse(driver.closed, "452 is not a protocol error")
        XCTAssertEqual(driver.exchange("DATA", "."), ["354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1"])
        XCTAssertEqual(driver.messages.first?.envelope.recipients, (1...100).map { "r\($0)@example.com" })
    }

    func testDuplicateRecipientsAreStoredOnce() {
        let driver = SessionDriver.authenticated()
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>", "RCPT TO:<x@example.com>", "RCPT TO:<X@Example.COM>",
                                       "RCPT TO: <x@example.com>", "RCPT TO:<y@example.com>", "DATA", "."),
                       ["250 2.1.0 Ok"] + Array(repeating: "250 2.1.5 Ok", count: 4) + ["354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1"])
        XCTAssertEqual(driver.messages.first?.envelope.recipients, ["x@example.com", "y@example.com"])
    }

    func testMessageOverTheLimitIsRefusedOnlyAfterTheFinalDot() {
        let driver = SessionDriver.authenticated(configuration: .test(maxMessageBytes: 100))
        XCTAssertEqual(driver.exchange("MAIL FROM:<a@example.org>", "RCPT TO:<x@example.com>", "DATA"),
                       ["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"])
        let line = String(repeating: "x", count: 38) + "\r\n"  // 40 bytes
        driver.send(line + line)
        driver.send(line)  // 120 bytes: over the limit
        driver.send(line + ".")
        XCTAssertEqual(driver.takeReplyLines(), [], "the client is not listening before the final dot")
        XCTAssertTrue(driver.session.isReceivingData)
        driver.send("\r\nNOOP\r\n")
        XCTAssertEqual(driver.takeReplyLines(), ["552 5.3.4 Message size exceeds fixed limit", "250 2.0.0 Ok"])
        XCTAssertEqual(driver.aborted, 1)
        XCTAssertEqual(driver.messages.count, 0)
        XCTAssertLessThanOrEqual(driver.largestSpool, 100, "the glue never holds more than the limit")
        let tail = Array(driver.events.suffix(3))
        XCTAssertEqual(tail, [.abortMessage, .reply("552 5.3.4 Message size exceeds fixed limit\r\n"), .reply("250 2.0.0 Ok\r\n")])
        // The transaction is over; the session goes on.
        XCTAssertEqual(driver.exchange("RCPT TO:<x@example.com>"), ["503 5.5.1 Error: need MAIL command"])
        XCTAssertFalse(driver.closed)
    }

    func testMessageExactlyAtTheLimitIsAccepted() {
        for (size, accepted) in [(100, true), (101, false)] {
            let driver = SessionDriver.authenticated(configuration: .test(maxMessageBytes: 100))
            _ = driver.exchange("MAIL FROM:<a@example.org>", "RCPT TO:<x@example.com>", "DATA")
            // The limit counts decoded bytes: the stuffed line ".." is the 3 message bytes ".\r\n".
            let body = bytes("..\r\n") + Array(repeating: UInt8(ascii: "y"), count: size - 5) + bytes("\r\n")
            driver.send(body + bytes(".\r\n"))
            if accepted {
                XCTAssertEqual(driver.takeReplyLines(), ["250 2.0.0 Ok: queued as 1"], "size \(size)")
                XCTAssertEqual(driver.messages.first?.data.count, size)
            } else {
                XCTAssertEqual(driver.takeReplyLines(), ["552 5.3.4 Message size exceeds fixed limit"], "size \(size)")
                XCTAssertEqual(driver.aborted, 1)
            }
        }
    }

    func testThreeErrorsThen421AndClose() {
        let driver = runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: EHLO client.example
            S: 250-relay.test
            S: 250-PIPELINING
            S: 250-SIZE 10000
            S: 250-8BITMIME
            S: 250-SMTPUTF8
            S: 250-ENHANCEDSTATUSCODES
            S: 250-AUTH PLAIN LOGIN
            S: 250 HELP
            C: FOO
            S: 500 5.5.2 Error: command not recognized
            C: NOOP
            S: 250 2.0.0 Ok
            C: EXPN staff
            S: 502 5.5.1 Error: command not implemented
            C: RCPT TO:<x@example.com>
            C: NOOP
            C: QUIT
            S: 503 5.5.1 Error: need MAIL command
            S: 421 4.7.0 Error: too many errors
            !closed
            """)
        XCTAssertTrue(driver.session.isClosed)
        driver.send("NOOP\r\n")  // the harness fails the test on any action after close
        XCTAssertEqual(driver.takeReplyLines(), [])
        driver.timedOut()
        driver.shutDown()
        XCTAssertEqual(driver.takeReplyLines(), [])
    }

    func testHTTPRequestsAreAnsweredAndClosed() {
        for request in ["GET / HTTP/1.1", "POST /wp-login.php HTTP/1.1", "CONNECT example.com:443 HTTP/1.1", "Host: relay.test", "get / HTTP/1.0"] {
            let driver = SessionDriver()
            driver.send(request + "\r\nHost: relay.test\r\n\r\n")
            XCTAssertEqual(driver.takeReplyLines(), [greeting, "554 5.7.0 Error: this is an SMTP server, not a web server"], request)
            XCTAssertTrue(driver.closed, request)
        }
        let later = SessionDriver.authenticated()
        XCTAssertEqual(later.exchange("POST / HTTP/1.1"), ["554 5.7.0 Error: this is an SMTP server, not a web server"])
        XCTAssertTrue(later.closed)
    }

    func testOtherVerbs() {
        runTranscript("""
            S: 220 relay.test ESMTP gmail-relay
            C: NOOP
            S: 250 2.0.0 Ok
            C: NOOP with an argument
            S: 250 2.0.0 Ok
            C: VRFY postmaster
            S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
            C: HELP
            S: 214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT VRFY HELP
            C: XYZZY
            S: 500 5.5.2 Error: command not recognized
            C: EXPN staff
            S: 502 5.5.1 Error: command not implemented
            C: QUIT
            C: NOOP
            S: 221 2.0.0 relay.test Bye
            !closed
            """)
        let withTLS = SessionDriver(configuration: .test(startTLSAvailable: true))
        XCTAssertEqual(withTLS.exchange("HELP"), [greeting, "214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS"])
        XCTAssertEqual(withTLS.exchange("VRFY"), ["501 5.5.4 Syntax: VRFY address"])
    }

    func testCommandsWithBareLFAndMixedCase() {
        let driver = SessionDriver()
        driver.send("ehlo client.example\nnoop\r\n")
        let lines = driver.takeReplyLines()
        XCTAssertEqual(lines.first, greeting)
        XCTAssertEqual(lines.last, "250 2.0.0 Ok")
        XCTAssertEqual(lines.count, 1 + 8 + 1)
    }

    func testLongLineIs500AndTheSessionContinues() {
        let driver = SessionDriver.greeted()
        driver.send("NOOP " + String(repeating: "x", count: 2000) + "\r\nNOOP\r\n")
        XCTAssertEqual(driver.takeReplyLines(), ["500 5.5.2 Error: line too long", "250 2.0.0 Ok"])
        XCTAssertFalse(driver.closed)
    }

    func testLineLengthLimitIsTheSameForCRLFAndBareLF() {
        // maxLineLength counts the line without its ending, whichever ending the client uses.
        for ending in ["\r\n", "\n"] {
            let driver = SessionDriver.greeted(configuration: .test(maxLineLength: 512))
            let fits = "NOOP " + String(repeating: "x", count: 507)  // 512 bytes
            driver.send(fits + ending)
            XCTAssertEqual(driver.takeReplyLines(), ["250 2.0.0 Ok"], ending.debugDescription)
            driver.send(fits + "x" + ending)
            XCTAssertEqual(driver.takeReplyLines(), ["500 5.5.2 Error: line too long"], ending.debugDescription)
        }
    }

    func testTimeoutAndShutdown() {
        let driver = SessionDriver.greeted()
        driver.timedOut()
        XCTAssertEqual(driver.takeReplyLines(), ["421 4.4.2 relay.test Error: timeout exceeded"])
        XCTAssertTrue(driver.closed)
        let other = SessionDriver.greeted()
        XCTAssertTrue(other.session.isIdle)
        other.shutDown()
        XCTAssertEqual(other.takeReplyLines(), ["421 4.3.2 relay.test Service shutting down, closing connection"])
        XCTAssertTrue(other.closed)
    }

    func testIsIdleOnlyWithoutTransactionOrPendingInput() {
        let driver = SessionDriver.authenticated()
        XCTAssertTrue(driver.session.isIdle)
        _ = driver.exchange("MAIL FROM:<a@example.org>")
        XCTAssertFalse(driver.session.isIdle)
        _ = driver.exchange("RSET")
        XCTAssertTrue(driver.session.isIdle)
        driver.send("NOO")
        XCTAssertFalse(driver.session.isIdle, "half a command is pending")
        XCTAssertEqual(driver.session.pendingInputCount, 3)
    }
}
