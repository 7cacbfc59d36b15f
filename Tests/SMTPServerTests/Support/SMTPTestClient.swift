#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import NIOCore
import NIOPosix
import NIOSSL

/// One server reply as read off the wire: `250-a` / `250 b` gives code 250 and both lines.
struct WireReply: CustomStringConvertible, Sendable {
    var lines: [String]
    var code: Int { Int(lines.last!.prefix(3)) ?? 0 }
    /// The last line, e.g. `250 2.0.0 Ok`.
    var last: String { lines.last! }
    /// Line texts without the `250-` / `250 ` prefix.
    var texts: [String] { lines.map { String($0.dropFirst(4)) } }
    var description: String { lines.joined(separator: " | ") }
}

enum ClientError: Error, CustomStringConvertible {
    case timeout(waitingFor: String, buffered: String)
    case closed(waitingFor: String, buffered: String)
    case failed(any Error)

    var description: String {
        switch self {
        case .timeout(let what, let buffered): "timed out waiting for \(what); buffered: \(buffered.debugDescription)"
        case .closed(let what, let buffered): "connection closed while waiting for \(what); buffered: \(buffered.debugDescription)"
        case .failed(let error): "connection failed: \(error)"
        }
    }
}

/// Bytes received on a client connection, plus whether it has closed.
final class Inbox: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var readIndex = 0
        var closed = false
        var error: (any Error)?
    }

    private let state = Locked(State())

    func append(_ bytes: [UInt8]) {
        state.withLock { state in
            if state.readIndex > 1 << 20 {
                state.bytes.removeFirst(state.readIndex)
                state.readIndex = 0
            }
            state.bytes += bytes
        }
    }

    func close() { state.withLock { $0.closed = true } }
    func fail(_ error: any Error) { state.withLock { if $0.error == nil { $0.error = error } } }

    var isClosed: Bool { state.withLock { $0.closed } }
    var unreadCount: Int { state.withLock { $0.bytes.count - $0.readIndex } }

    enum Poll { case line(String), nothingYet, closed(String), failed(any Error) }

    func takeLine() -> Poll {
        state.withLock { state in
            if let newline = state.bytes[state.readIndex...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > state.readIndex && state.bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: state.bytes[state.readIndex..<end], as: UTF8.self)
                state.readIndex = newline + 1
                return .line(line)
            }
            let rest = String(decoding: state.bytes[state.readIndex...], as: UTF8.self)
            if let error = state.error { return .failed(error) }
            if state.closed { return .closed(rest) }
            return .nothingYet
        }
    }

    /// Consumes every complete line received so far: how many, and the last one. For bulk replies.
    func consumeLines() -> (count: Int, last: String?) {
        state.withLock { state in
            let start = state.readIndex
            var count = 0
            var lastLine: Range<Int>?
            var next = start
            state.bytes.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                while next < buffer.count, let found = memchr(base + next, 10, buffer.count - next) {
                    let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    lastLine = next..<(newline > next && buffer[newline - 1] == 13 ? newline - 1 : newline)
                    count += 1
                    next = newline + 1
                }
            }
            state.readIndex = next
            return (count, lastLine.map { String(decoding: state.bytes[$0], as: UTF8.self) })
        }
    }

    var unreadText: String { state.withLock { String(decoding: $0.bytes[$0.readIndex...], as: UTF8.self) } }
}

final class InboxHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let inbox: Inbox

    init(inbox: Inbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        inbox.append(Array(buffer.readableBytesView))
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        inbox.fail(error)
        context.close(promise: nil)
    }
}

/// A small SMTP client over a real socket, for talking to the server like a CMS would.
/// Every read has a deadline, so a server that stays silent fails the test instead of hanging it.
final class SMTPTestClient: Sendable {
    let channel: any Channel
    let inbox: Inbox
    /// Bytes of `writeTracked` calls that the kernel has accepted, and those queued in total.
    let writtenBytes = Locked(0)
    let queuedBytes = Locked(0)

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Connects to 127.0.0.1. `tls` wraps the connection from the first byte (implicit TLS).
    static func connect(
        port: Int, tls: NIOSSLContext? = nil, sendBufferSize: Int? = nil, autoRead: Bool = true
    ) async throws -> SMTPTestClient {
        let inbox = Inbox()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelOption(.autoRead, value: autoRead)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox))
                }
            }
        if let sendBufferSize {
            bootstrap = bootstrap.channelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(sendBufferSize))
        }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        return SMTPTestClient(channel: channel, inbox: inbox)
    }

    static func clientTLSContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try NIOSSLContext(configuration: configuration)
    }

    // MARK: Sending

    func send(_ text: String) async throws {
        try await send(bytes: Array(text.utf8))
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    /// Queues bytes without waiting for the kernel to take them; `writtenBytes` grows as it does.
    func writeTracked(_ bytes: [UInt8]) {
        let count = bytes.count
        queuedBytes.withLock { $0 += count }
        let written = writtenBytes
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).whenSuccess { written.withLock { $0 += count } }
    }

    /// Sends one command line and reads its reply.
    func command(_ line: String, timeout: Duration = .seconds(5)) async throws -> WireReply {
        try await send(line + "\r\n")
        return try await readReply(timeout: timeout)
    }

    // MARK: Receiving

    func readLine(timeout: Duration = .seconds(5)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            switch inbox.takeLine() {
            case .line(let line): return line
            case .closed(let rest): throw ClientError.closed(waitingFor: "a line", buffered: rest)
            case .failed(let error): throw ClientError.failed(error)
            case .nothingYet:
                if ContinuousClock.now >= deadline { throw ClientError.timeout(waitingFor: "a line", buffered: inbox.unreadText) }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    /// Reads one (possibly multi-line) reply: lines up to the one with a space after the code.
    func readReply(timeout: Duration = .seconds(5)) async throws -> WireReply {
        var lines: [String] = []
        while true {
            let line = try await readLine(timeout: timeout)
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { return WireReply(lines: lines) }
        }
    }

    /// Waits for the server to close the connection; true when it did within `timeout`.
    func waitForClose(timeout: Duration = .seconds(5)) async -> Bool {
        await eventually(timeout: timeout) { inbox.isClosed }
    }

    /// Upgrades the connection in place (after `220 2.0.0 Ready to start TLS`).
    func startTLS(_ context: NIOSSLContext) async throws {
        let channel = self.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil), position: .first)
        }.get()
    }

    func close() async {
        try? await channel.close()
    }
}
