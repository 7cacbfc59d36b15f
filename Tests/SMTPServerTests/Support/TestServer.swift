import Foundation
import Logging
import NIOCore
import NIOSSL
import SMTPServer
import ServiceLifecycle
import XCTest

/// Silent unless SMTP_TEST_LOG=1; never touches the global logging system.
let testLogger: Logger = {
    if ProcessInfo.processInfo.environment["SMTP_TEST_LOG"] == "1" {
        var logger = Logger(label: "smtp-test", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .trace
        return logger
    }
    return Logger(label: "smtp-test", factory: { _ in SwiftLogNoOpLogHandler() })
}()

extension SMTPServerConfiguration {
    /// Settings for tests: short timeouts, plaintext AUTH allowed from loopback.
    static func test(
        maxMessageBytes: Int = 1_000_000, maxConnections: Int = 50, commandTimeout: Duration = .seconds(5),
        tlsContext: NIOSSLContext? = nil,
        plaintextAuthAllowed: @escaping @Sendable (String) -> Bool = { $0 == "127.0.0.1" },
        authFailureDelay: Duration = .milliseconds(50), shutdownGracePeriod: Duration = .seconds(3)
    ) -> SMTPServerConfiguration {
        SMTPServerConfiguration(
            hostname: "relay.test", maxMessageBytes: maxMessageBytes, maxConnections: maxConnections,
            commandTimeout: commandTimeout, sessionTimeout: .seconds(60), tlsContext: tlsContext,
            plaintextAuthAllowed: plaintextAuthAllowed, authFailureDelay: authFailureDelay,
            shutdownGracePeriod: shutdownGracePeriod
        )
    }
}

/// An `SMTPService` running on 127.0.0.1 with ephemeral ports, either as a bare task or inside a `ServiceGroup`.
struct RunningServer: Sendable {
    let service: SMTPService
    let backend: MemoryBackend
    let ports: [Int]
    let group: ServiceGroup?
    private let task: Task<Void, any Error>
    /// Set when run() (or the group) has returned, with its error if any.
    let finished: Locked<Result<Void, any Error>?>

    var port: Int { ports[0] }

    static func start(
        _ configuration: SMTPServerConfiguration = .test(), backend: MemoryBackend = MemoryBackend(),
        implicitTLSListener: Bool = false, inServiceGroup: Bool = false
    ) async throws -> RunningServer {
        var listeners = [SMTPService.Listener(host: "127.0.0.1", port: 0, implicitTLS: false)]
        if implicitTLSListener { listeners.append(.init(host: "127.0.0.1", port: 0, implicitTLS: true)) }
        let service = SMTPService(configuration: configuration, listeners: listeners, backend: backend, logger: testLogger)
        let finished = Locked<Result<Void, any Error>?>(nil)
        let group = inServiceGroup ? ServiceGroup(configuration: .init(services: [service], logger: testLogger)) : nil
        let task = Task {
            do {
                if let group { try await group.run() } else { try await service.run() }
                finished.withLock { $0 = .success(()) }
            } catch {
                finished.withLock { $0 = .failure(error) }
                throw error
            }
        }
        let addresses = await service.boundAddresses()
        return RunningServer(
            service: service, backend: backend, ports: addresses.compactMap(\.port), group: group, task: task, finished: finished
        )
    }

    var hasFinished: Bool { finished.value != nil }

    /// Cancels run() and waits (bounded) for it to return.
    func stop() async {
        task.cancel()
        _ = await eventually(timeout: .seconds(10)) { hasFinished }
    }

    func connect(tls: NIOSSLContext? = nil, port: Int? = nil) async throws -> SMTPTestClient {
        try await SMTPTestClient.connect(port: port ?? self.port, tls: tls)
    }
}

extension XCTestCase {
    /// Starts a server that is stopped when the test ends.
    func startServer(
        _ configuration: SMTPServerConfiguration = .test(), backend: MemoryBackend = MemoryBackend(),
        implicitTLSListener: Bool = false, inServiceGroup: Bool = false
    ) async throws -> RunningServer {
        let server = try await RunningServer.start(
            configuration, backend: backend, implicitTLSListener: implicitTLSListener, inServiceGroup: inServiceGroup
        )
        addTeardownBlock { await server.stop() }
        return server
    }
}

// MARK: - Dialogue helpers

extension SMTPTestClient {
    /// Reads the greeting and says EHLO; returns the EHLO reply.
    @discardableResult
    func greetAndEHLO(file: StaticString = #filePath, line: UInt = #line) async throws -> WireReply {
        let greeting = try await readReply()
        XCTAssertEqual(greeting.last, "220 relay.test ESMTP gmail-relay", file: file, line: line)
        let ehlo = try await command("EHLO cms.example.com")
        XCTAssertEqual(ehlo.code, 250, "\(ehlo)", file: file, line: line)
        return ehlo
    }

    /// Greets and logs in with AUTH PLAIN.
    func login(
        user: String = "site@example.com", password: String = "correct horse", file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        try await greetAndEHLO(file: file, line: line)
        try await expect("235 2.7.0 Authentication successful", after: "AUTH PLAIN \(authPlain(user, password))", file: file, line: line)
    }

    /// MAIL, RCPT, DATA one by one, expecting success up to the 354.
    func beginMessage(
        from: String = "site@example.com", to: [String] = ["reader@example.org"], file: StaticString = #filePath, line: UInt = #line
    ) async throws {
        try await expect("250 2.1.0 Ok", after: "MAIL FROM:<\(from)>", file: file, line: line)
        for recipient in to {
            try await expect("250 2.1.5 Ok", after: "RCPT TO:<\(recipient)>", file: file, line: line)
        }
        try await expect("354", after: "DATA", file: file, line: line)
    }
}

func authPlain(_ user: String, _ password: String) -> String {
    Data(([0] + Array(user.utf8) + [0] + Array(password.utf8))).base64EncodedString()
}

/// The wire form of message content lines: dot-stuffed, CRLF-terminated, then the end marker.
func dataPhase(_ lines: [[UInt8]]) -> [UInt8] {
    var wire: [UInt8] = []
    for line in lines {
        if line.first == UInt8(ascii: ".") { wire.append(UInt8(ascii: ".")) }
        wire += line + [13, 10]
    }
    return wire + Array(".\r\n".utf8)
}

/// What the backend should receive for those lines: the lines with CRLF, unstuffed.
func messageBytes(_ lines: [[UInt8]]) -> [UInt8] {
    lines.flatMap { $0 + [13, 10] }
}

// MARK: - A certificate made at test time

enum TestCertificate {
    /// A self-signed certificate for "localhost", made once per test run with the openssl tool.
    static let paths: Result<(cert: String, key: String), any Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-server-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem",
            "-days", "1", "-subj", "/CN=localhost",
        ]
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CertificateError.opensslFailed(process.terminationStatus) }
        return (directory.appendingPathComponent("c.pem").path, directory.appendingPathComponent("k.pem").path)
    }

    enum CertificateError: Error { case opensslFailed(Int32) }

    static func serverContext() throws -> NIOSSLContext {
        let (cert, key) = try paths.get()
        return try SMTPServerConfiguration.makeTLSContext(certificatePath: cert, keyPath: key)
    }
}

// MARK: - Async expectations (XCTAssert's autoclosures cannot await)

extension SMTPTestClient {
    /// `C: line` (if given), then `S: expected`: the reply's last line, or only its code when `expected` is three digits.
    @discardableResult
    func expect(
        _ expected: String, after command: String? = nil, timeout: Duration = .seconds(5),
        file: StaticString = #filePath, line: UInt = #line
    ) async throws -> WireReply {
        if let command { try await send(command + "\r\n") }
        let reply = try await readReply(timeout: timeout)
        if expected.count == 3, let code = Int(expected) {
            XCTAssertEqual(reply.code, code, "after \(command ?? "(nothing)"): \(reply)", file: file, line: line)
        } else {
            XCTAssertEqual(reply.last, expected, "after \(command ?? "(nothing)"): \(reply)", file: file, line: line)
        }
        return reply
    }

    /// The server closes the connection (within 5 s).
    func expectClosed(file: StaticString = #filePath, line: UInt = #line) async {
        let closed = await waitForClose()
        XCTAssertTrue(closed, "the server did not close the connection; unread: \(inbox.unreadText.debugDescription)", file: file, line: line)
    }
}

func assertEventually(
    _ message: @autoclosure () -> String = "", timeout: Duration = .seconds(5),
    file: StaticString = #filePath, line: UInt = #line, _ condition: () -> Bool
) async {
    let held = await eventually(timeout: timeout, condition)
    XCTAssertTrue(held, "condition did not hold within \(timeout). \(message())", file: file, line: line)
}
