import NIOCore
import SMTPServer
import XCTest

/// A client that sends faster than the server can act must be slowed down by TCP, not buffered in memory.
final class BackPressureTests: XCTestCase {
    func testServerStopsReadingWhileTheCommitIsSlow() async throws {
        let backend = MemoryBackend()
        backend.knobs.withLock { $0.commitDelay = .seconds(1) }
        let server = try await startServer(.test(maxMessageBytes: 64 << 20), backend: backend)
        let client = try await SMTPTestClient.connect(port: server.port)
        try await client.login()
        try await client.beginMessage()

        // The first message's end, then a second, 24 MiB message pipelined right behind it.
        let line = [UInt8](repeating: UInt8(ascii: "z"), count: 1022) + [13, 10]
        let linesPerChunk = 64
        let chunks = 384  // 384 x 64 KiB = 24 MiB, several times what loopback socket buffers hold
        client.writeTracked(Array("first\r\n.\r\nMAIL FROM:<site@example.com>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n".utf8))
        let chunk = Array((0..<linesPerChunk).map { _ in line }.joined())
        for _ in 0..<chunks { client.writeTracked(chunk) }
        client.writeTracked(Array(".\r\nQUIT\r\n".utf8))
        let total = client.queuedBytes.value

        await assertEventually { backend.commitsStarted.value == 1 }
        try await Task.sleep(for: .milliseconds(500))
        let takenDuringCommit = client.writtenBytes.value
        let commitStillRunning = backend.commits.value.isEmpty
        if commitStillRunning {
            // What the kernel's socket buffers hold, not what we sent: far below the total.
            XCTAssertLessThan(takenDuringCommit, total / 2, "the server kept reading while the commit ran")
        }

        try await client.expect("250 2.0.0 Ok: queued as MEM1")
        try await client.expect("250 2.1.0 Ok")
        try await client.expect("250 2.1.5 Ok")
        try await client.expect("354")
        try await client.expect("250 2.0.0 Ok: queued as MEM1", timeout: .seconds(8))
        try await client.expect("221 2.0.0 relay.test Bye")
        let commits = backend.commits.value
        XCTAssertEqual(commits.count, 2)
        XCTAssertEqual(commits.first?.bytes, Array("first\r\n".utf8))
        XCTAssertEqual(commits.last?.bytes.count, chunks * chunk.count)
        XCTAssertTrue(commits.last?.bytes.allSatisfy { $0 == UInt8(ascii: "z") || $0 == 13 || $0 == 10 } ?? false)
    }

    func testClientThatNeverReadsRepliesIsNotReadFromEither() async throws {
        let server = try await startServer()
        // Small client-side buffers, so that what is still queued when the server stops reading (and must be
        // answered afterwards) stays small.
        let client = try await SMTPTestClient.connect(port: server.port, sendBufferSize: 4096)
        let linesPerEHLO = try await client.greetAndEHLO().lines.count
        // The client stops reading: replies fill the kernel's buffers, then whatever the server keeps.
        try await client.channel.setOption(.autoRead, value: false).get()

        let command = Array("EHLO c\r\n".utf8)  // 8 bytes in, ~150 bytes out
        let chunk = Array(repeatElement(command, count: 1024).joined())
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(8)
        var lastWritten = 0
        var lastProgress = clock.now
        var stalled = false
        while clock.now < deadline {
            let written = client.writtenBytes.value
            if written != lastWritten {
                lastWritten = written
                lastProgress = clock.now
            } else if clock.now - lastProgress > .seconds(1) {
                stalled = true
                break
            }
            if client.queuedBytes.value - written < 16 << 10 {
                client.writeTracked(chunk)
            } else {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        XCTAssertTrue(stalled, "the server kept reading commands although nobody read its replies (\(lastWritten) bytes taken)")

        // Once the client reads again, every command queued so far is answered, in order.
        let commands = client.queuedBytes.value / command.count
        client.writeTracked(Array("QUIT\r\n".utf8))
        try await client.channel.setOption(.autoRead, value: true).get()
        var lines = 0
        var last: String?
        let expected = commands * linesPerEHLO + 1
        let readDeadline = clock.now + .seconds(8)
        while lines < expected && clock.now < readDeadline && !(client.inbox.isClosed && client.inbox.unreadCount == 0) {
            let (count, line) = client.inbox.consumeLines()
            lines += count
            last = line ?? last
            if count == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        XCTAssertEqual(lines, expected, "\(commands) EHLOs and a QUIT")
        XCTAssertEqual(last, "221 2.0.0 relay.test Bye")
    }
}
