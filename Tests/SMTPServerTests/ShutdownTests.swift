import SMTPServer
import XCTest

/// Graceful shutdown through swift-service-lifecycle, and cancellation.
final class ShutdownTests: XCTestCase {
    func testGracefulShutdownLetsTheMessageInHandFinish() async throws {
        let server = try await startServer(.test(shutdownGracePeriod: .seconds(8)), inServiceGroup: true)
        let group = try XCTUnwrap(server.group)

        let idle = try await server.connect()
        try await idle.greetAndEHLO()
        let sending = try await server.connect()
        try await sending.login()
        try await sending.beginMessage()
        let lines = [Array("Subject: in flight".utf8), [], Array("first half".utf8)]
        try await sending.send(bytes: messageBytes(lines))
        await assertEventually { (server.backend.lastSpool?.bytes.count ?? 0) > 0 }

        await group.triggerGracefulShutdown()

        try await idle.expect("421 4.3.2 relay.test Service shutting down, closing connection")
        await idle.expectClosed()
        do {
            let late = try await server.connect()
            let reply = try? await late.readReply(timeout: .seconds(1))
            XCTFail("a new connection was accepted during shutdown: \(reply.map(\.description) ?? "no reply")")
        } catch {
            // Refused: the listener is closed.
        }
        XCTAssertFalse(server.hasFinished, "run() must wait for the message in hand")
        XCTAssertFalse(sending.inbox.isClosed)

        try await sending.send(bytes: dataPhase([Array("second half".utf8)]))
        try await sending.expect("250 2.0.0 Ok: queued as MEM1")
        try await sending.expect("421 4.3.2 relay.test Service shutting down, closing connection")
        await sending.expectClosed()
        XCTAssertEqual(server.backend.commits.value.map(\.bytes), [messageBytes(lines + [Array("second half".utf8)])])

        await assertEventually("run() did not return") { server.hasFinished }
        if case .failure(let error) = server.finished.value { XCTFail("the group failed: \(error)") }
        XCTAssertEqual(server.service.openConnections, 0)
    }

    func testGracefulShutdownClosesSessionsThatOutstayTheGracePeriod() async throws {
        let server = try await startServer(.test(shutdownGracePeriod: .milliseconds(500)), inServiceGroup: true)
        let sending = try await server.connect()
        try await sending.login()
        try await sending.beginMessage()
        try await sending.send("Subject: never finished\r\n")
        await assertEventually { (server.backend.lastSpool?.bytes.count ?? 0) > 0 }

        await server.group?.triggerGracefulShutdown()
        await sending.expectClosed()
        await assertEventually { server.hasFinished }
        XCTAssertEqual(server.backend.lastSpool?.fate, .abandoned)
        XCTAssertEqual(server.backend.commitsStarted.value, 0)
    }

    func testCancellingRunClosesSessionsWithoutWaitingForTheGracePeriod() async throws {
        // Grace period and command timeout far longer than the test may take: cancellation must not wait for either.
        let server = try await startServer(.test(commandTimeout: .seconds(60), shutdownGracePeriod: .seconds(60)))
        let idle = try await server.connect()
        try await idle.greetAndEHLO()
        let sending = try await server.connect()
        try await sending.login()
        try await sending.beginMessage()
        try await sending.send("Subject: cut off\r\n")
        await assertEventually { (server.backend.lastSpool?.bytes.count ?? 0) > 0 }

        await server.stop()
        XCTAssertTrue(server.hasFinished, "run() did not return within 10 s of cancellation")
        await sending.expectClosed()
        await idle.expectClosed()
        XCTAssertEqual(server.backend.lastSpool?.fate, .abandoned)
        XCTAssertEqual(server.backend.commitsStarted.value, 0)
        XCTAssertEqual(server.service.openConnections, 0)
    }
}
