import NIOSSL
import SMTPServer
import XCTest

/// STARTTLS and the implicit-TLS listener, with a certificate made at test time.
final class TLSTests: XCTestCase {
    private func tlsConfiguration() throws -> SMTPServerConfiguration {
        // AUTH only on TLS: the loopback address is not a plaintext-AUTH network here.
        .test(tlsContext: try TestCertificate.serverContext(), plaintextAuthAllowed: { _ in false })
    }

    func testStartTLSUpgradesTheSessionAndEnablesAuth() async throws {
        let server = try await startServer(try tlsConfiguration())
        let client = try await server.connect()

        let plainEHLO = try await client.greetAndEHLO()
        XCTAssertTrue(plainEHLO.texts.contains("STARTTLS"), "\(plainEHLO)")
        XCTAssertFalse(plainEHLO.lines.contains { $0.contains("AUTH") }, "\(plainEHLO)")
        try await client.expect("538", after: "AUTH PLAIN \(authPlain("site@example.com", "correct horse"))")

        try await client.expect("220 2.0.0 Ready to start TLS", after: "STARTTLS")
        try await client.startTLS(try SMTPTestClient.clientTLSContext())

        // The session starts over: EHLO again, this time over TLS.
        let tlsEHLO = try await client.command("EHLO cms.example.com")
        XCTAssertEqual(tlsEHLO.code, 250)
        XCTAssertFalse(tlsEHLO.texts.contains("STARTTLS"), "\(tlsEHLO)")
        XCTAssertTrue(tlsEHLO.texts.contains("AUTH PLAIN LOGIN"), "\(tlsEHLO)")
        try await client.expect("503 5.5.1 Error: TLS already active", after: "STARTTLS")

        try await client.expect("235", after: "AUTH PLAIN \(authPlain("site@example.com", "correct horse"))")
        try await client.beginMessage()
        try await client.send(bytes: dataPhase([Array("over tls".utf8)]))
        try await client.expect("250 2.0.0 Ok: queued as MEM1")
        let committed = try XCTUnwrap(server.backend.commits.value.first)
        XCTAssertTrue(committed.envelope.tls)
        XCTAssertTrue(committed.peer.tls)
        XCTAssertTrue(server.backend.authPeers.value.allSatisfy(\.tls))
        try await client.expect("221", after: "QUIT")
        await client.expectClosed()
    }

    func testCommandPipelinedAfterStartTLSIsNeverAnswered() async throws {
        let server = try await startServer(try tlsConfiguration())
        let client = try await server.connect()
        try await client.greetAndEHLO()

        // CVE-2011-0411: plaintext injected behind STARTTLS must not be executed after the upgrade.
        try await client.send("STARTTLS\r\nNOOP\r\nHELP\r\n")
        try await client.expect("220 2.0.0 Ready to start TLS")
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(client.inbox.unreadText, "", "answered in plaintext after the 220")

        try await client.startTLS(try SMTPTestClient.clientTLSContext())
        let first = try await client.command("EHLO cms.example.com")
        XCTAssertEqual(first.texts.first, "relay.test", "the first reply over TLS must be our EHLO's: \(first)")
        try await client.expect("250 2.0.0 Ok", after: "RSET")
        try await Task.sleep(for: .milliseconds(100))
        XCTAssertEqual(client.inbox.unreadText, "")
    }

    func testImplicitTLSListenerGreetsOverTLS() async throws {
        let server = try await startServer(try tlsConfiguration(), implicitTLSListener: true)
        XCTAssertEqual(server.ports.count, 2)
        let client = try await server.connect(tls: try SMTPTestClient.clientTLSContext(), port: server.ports[1])
        let ehlo = try await client.greetAndEHLO()
        XCTAssertFalse(ehlo.texts.contains("STARTTLS"), "\(ehlo)")
        XCTAssertTrue(ehlo.texts.contains("AUTH PLAIN LOGIN"), "\(ehlo)")
        try await client.expect("235", after: "AUTH PLAIN \(authPlain("site@example.com", "correct horse"))")
        try await client.beginMessage()
        try await client.send(bytes: dataPhase([Array("implicit".utf8)]))
        try await client.expect("250")
        XCTAssertEqual(server.backend.commits.value.first?.envelope.tls, true)
    }

    func testPlaintextClientOnImplicitTLSPortGetsNoGreeting() async throws {
        let server = try await startServer(try tlsConfiguration(), implicitTLSListener: true)
        let client = try await server.connect(port: server.ports[1])
        try await client.send("EHLO cms.example.com\r\n")
        // Not a TLS ClientHello: the handshake fails and the connection closes without a plaintext word.
        await client.expectClosed()
        XCTAssertFalse(client.inbox.unreadText.contains("220"), client.inbox.unreadText)
        await assertEventually { server.service.openConnections == 0 }
    }
}
