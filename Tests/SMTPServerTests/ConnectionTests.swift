import SMTPServer
import XCTest

/// Connection-level defences: the connection limit, time-outs, clients that vanish, HTTP on the SMTP port.
final class ConnectionTests: XCTestCase {
    func testConnectionsOverTheLimitAreRefusedWith421() async throws {
        let server = try await startServer(.test(maxConnections: 2))
        let first = try await server.connect()
        let second = try await server.connect()
        try await first.expect("220")
        try await second.expect("220")
        XCTAssertEqual(server.service.openConnections, 2)

        let third = try await server.connect()
        try await third.expect("421 4.7.0 relay.test Error: too many connections, try again later")
        await third.expectClosed()
        XCTAssertEqual(server.service.openConnections, 2)

        try await first.expect("221", after: "QUIT")
        await first.expectClosed()
        await assertEventually { server.service.openConnections == 1 }

        let fourth = try await server.connect()
        try await fourth.expect("220 relay.test ESMTP gmail-relay")
        try await fourth.expect("250 2.0.0 Ok", after: "NOOP")
    }

    func testIdleClientGetsTimeoutAndIsDisconnected() async throws {
        let timeout = Duration.milliseconds(300)
        let server = try await startServer(.test(commandTimeout: timeout))
        let client = try await server.connect()
        try await client.expect("220")
        let started = ContinuousClock.now
        try await client.expect("421 4.4.2 relay.test Error: timeout exceeded")
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, timeout * 0.5)
        await client.expectClosed()
        await assertEventually { server.service.openConnections == 0 }
    }

    func testEachCommandRestartsTheCommandTimer() async throws {
        let server = try await startServer(.test(commandTimeout: .milliseconds(500)))
        let client = try await server.connect()
        try await client.expect("220")
        // 1.2 s of activity in total, more than twice the timeout, but never 500 ms of silence.
        for _ in 0..<12 {
            try await Task.sleep(for: .milliseconds(100))
            try await client.expect("250 2.0.0 Ok", after: "NOOP")
        }
        try await client.expect("421 4.4.2 relay.test Error: timeout exceeded")
    }

    func testSlowCommitIsNotCountedAsClientIdleTime() async throws {
        let backend = MemoryBackend()
        backend.knobs.withLock { $0.commitDelay = .milliseconds(900) }
        let server = try await startServer(.test(commandTimeout: .milliseconds(300)), backend: backend)
        let client = try await server.connect()
        try await client.login()
        try await client.beginMessage()
        try await client.send(bytes: dataPhase([Array("slow disk".utf8)]))
        try await client.expect("250 2.0.0 Ok: queued as MEM1")
        // The client has the turn again: now its silence counts.
        try await client.expect("421 4.4.2 relay.test Error: timeout exceeded")
    }

    func testClientVanishingMidDataAbandonsTheSpool() async throws {
        let server = try await startServer()
        let client = try await server.connect()
        try await client.login()
        try await client.beginMessage()
        try await client.send("Subject: half a message\r\n\r\nfirst line\r\n")
        await assertEventually("the bytes reached the spool") { (server.backend.lastSpool?.bytes.count ?? 0) > 0 }
        XCTAssertEqual(server.service.openConnections, 1)

        await client.close()
        await assertEventually { server.backend.lastSpool?.fate == .abandoned }
        await assertEventually("open: \(server.service.openConnections)") { server.service.openConnections == 0 }
        XCTAssertEqual(server.backend.commitsStarted.value, 0)
        XCTAssertEqual(server.backend.lastSpool?.abandonCalls, 1)
    }

    func testHTTPRequestIsAnsweredAndClosed() async throws {
        let server = try await startServer()
        let client = try await server.connect()
        try await client.expect("220")
        try await client.send("GET / HTTP/1.1\r\nHost: relay.test\r\nUser-Agent: curl\r\n\r\n")
        try await client.expect("554 5.7.0 Error: this is an SMTP server, not a web server")
        await client.expectClosed()
        XCTAssertEqual(client.inbox.unreadText, "", "the header lines after the request line must not be answered")
    }
}
