import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol
import ServiceLifecycle

/// The SMTP listeners (submission with optional STARTTLS, and implicit TLS) as one service.
///
/// `run()` binds, serves until graceful shutdown is signalled, then stops accepting, lets sessions
/// finish the message they are receiving (up to the grace period) and returns.
public final class SMTPService: Service, Sendable {
    public struct Listener: Sendable {
        public var host: String
        public var port: Int
        public var implicitTLS: Bool
        public init(host: String, port: Int, implicitTLS: Bool) {
            self.host = host
            self.port = port
            self.implicitTLS = implicitTLS
        }
    }

    private let configuration: SMTPServerConfiguration
    private let listeners: [Listener]
    private let backend: any SubmissionBackend
    private let group: any EventLoopGroup
    private let logger: Logger
    private let registry = ConnectionRegistry()
    private let throttle: AuthFailureThrottle
    private let boundChannels = NIOLockedValueBox<[any Channel]>([])
    private let bound = NIOLockedValueBox<[SocketAddress]>([])
    private let boundWaiters = NIOLockedValueBox<[CheckedContinuation<[SocketAddress], Never>]>([])

    public init(
        configuration: SMTPServerConfiguration, listeners: [Listener], backend: some SubmissionBackend,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.configuration = configuration
        self.listeners = listeners
        self.backend = backend
        self.group = group
        self.logger = logger
        self.throttle = AuthFailureThrottle(base: configuration.authFailureDelay)
    }

    /// The addresses actually bound (port 0 becomes a real port), once `run()` has bound them.
    public func boundAddresses() async -> [SocketAddress] {
        await withCheckedContinuation { continuation in
            let ready: [SocketAddress]? = bound.withLockedValue { $0.count == listeners.count ? $0 : nil }
            if let ready { continuation.resume(returning: ready); return }
            boundWaiters.withLockedValue { $0.append(continuation) }
            // Re-check: run() may have finished binding in between.
            let late: [SocketAddress]? = bound.withLockedValue { $0.count == listeners.count ? $0 : nil }
            if let late {
                let waiters = boundWaiters.withLockedValue { waiters in defer { waiters = [] }; return waiters }
                for waiter in waiters { waiter.resume(returning: late) }
            }
        }
    }

    /// True once every listener is bound (a check that never waits, for readiness polling).
    public var isListening: Bool { bound.withLockedValue { $0.count == listeners.count } }

    public var openConnections: Int { registry.count }

    public func run() async throws {
        var boundSoFar: [any Channel] = []
        for listener in listeners {
            let channel = try await bind(listener)
            boundSoFar.append(channel)
            logger.info("smtp listening", metadata: ["smtp.listen": "\(channel.localAddress.map { "\($0)" } ?? "?")", "smtp.implicit_tls": "\(listener.implicitTLS)"])
        }
        let channels = boundSoFar
        boundChannels.withLockedValue { $0 = channels }
        let addresses = channels.compactMap(\.localAddress)
        bound.withLockedValue { $0 = addresses }
        let waiters = boundWaiters.withLockedValue { waiters in defer { waiters = [] }; return waiters }
        for waiter in waiters { waiter.resume(returning: addresses) }

        // Serve until shutdown is requested (or the task is cancelled).
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                for channel in channels { try? await channel.closeFuture.get() }
            } onCancel: {
                for channel in channels { channel.close(promise: nil) }
            }
        } onGracefulShutdown: {
            for channel in channels { channel.close(promise: nil) }
        }
        await drainSessions()
    }

    private func drainSessions() async {
        logger.info("smtp shutting down", metadata: ["smtp.open_sessions": "\(registry.count)"])
        registry.requestShutdown()
        let deadline = ContinuousClock.now + configuration.shutdownGracePeriod
        while registry.count > 0 && ContinuousClock.now < deadline {
            // Cancellation means stop now (ServiceGroup cancels once its own shutdown deadline passes).
            // It also makes Task.sleep return at once, so without this check the loop would spin.
            if Task.isCancelled { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        if registry.count > 0 {
            logger.warning("smtp sessions still open after the grace period; closing them", metadata: ["smtp.open_sessions": "\(registry.count)"])
            registry.closeAll()
        }
    }

    private func bind(_ listener: Listener) async throws -> any Channel {
        let configuration = self.configuration
        let backend = self.backend
        let registry = self.registry
        let throttle = self.throttle
        let logger = self.logger
        if listener.implicitTLS && configuration.certificate == nil {
            throw SMTPServerError.tlsListenerWithoutCertificate
        }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.initializeConnection(
                        channel: channel, implicitTLS: listener.implicitTLS, configuration: configuration,
                        backend: backend, registry: registry, throttle: throttle, logger: logger
                    )
                }
            }
        return try await bootstrap.bind(host: listener.host, port: listener.port).get()
    }

    private static func initializeConnection<Backend: SubmissionBackend>(
        channel: any Channel, implicitTLS: Bool, configuration: SMTPServerConfiguration,
        backend: Backend, registry: ConnectionRegistry, throttle: AuthFailureThrottle, logger: Logger
    ) throws {
        let sync = channel.pipeline.syncOperations
        let address = channel.remoteAddress?.ipAddress ?? "unknown"
        // Limits first, TLS after: a refused client gets its 421 in clear at once, instead of a TLS
        // handshake that a client holding every slot would never finish.
        let id: Int
        switch registry.reserve(address: address, limit: configuration.maxConnections, perAddressLimit: configuration.maxConnectionsPerAddress) {
        case .success(let admitted):
            id = admitted
        case .failure(let refusal):
            let reply: SMTPReply
            switch refusal {
            case .tooManyConnections:
                logger.warning("smtp connection refused: too many connections", metadata: ["smtp.max_connections": "\(configuration.maxConnections)"])
                reply = .tooManyConnections(configuration.hostname)
            case .tooManyFromAddress:
                logger.warning("smtp connection refused: too many connections from one address", metadata: [
                    "smtp.peer": "\(address)", "smtp.max_connections_per_address": "\(configuration.maxConnectionsPerAddress)",
                ])
                reply = .tooManyConnectionsFromAddress(configuration.hostname)
            }
            try sync.addHandler(RefuseConnectionHandler(reply: reply, closeAfter: configuration.refusedConnectionLinger))
            return
        }
        // Whatever ends the connection (a handler error included) gives its slot back.
        channel.closeFuture.whenComplete { _ in registry.remove(id) }
        // Read at each connection: a certificate reloaded by SIGHUP reaches the next handshake.
        if implicitTLS, let tlsContext = configuration.tlsContext {
            try sync.addHandler(NIOSSLServerHandler(context: tlsContext))
        }
        let peer = PeerInfo(address: address, port: channel.remoteAddress?.port, tls: implicitTLS)
        let sessionConfiguration = SMTPSessionConfiguration(
            hostname: configuration.hostname, maxMessageBytes: configuration.maxMessageBytes,
            maxRecipients: configuration.maxRecipients, maxLineLength: configuration.maxLineLength,
            maxErrors: configuration.maxErrors,
            startTLSAvailable: configuration.certificate != nil && !implicitTLS, tlsActive: implicitTLS,
            plaintextAuthAllowed: configuration.plaintextAuthAllowed(address), trustedPeer: configuration.trusted(address)
        )
        let handler = SMTPSessionHandler(
            sessionConfiguration: sessionConfiguration, peer: peer, backend: backend, configuration: configuration,
            throttle: throttle, registry: registry, connectionID: id, logger: logger
        )
        registry.add(id, channel: channel, handler: handler)
        try sync.addHandler(handler)
    }
}

public enum SMTPServerError: Error, CustomStringConvertible {
    case tlsListenerWithoutCertificate

    public var description: String {
        switch self {
        case .tlsListenerWithoutCertificate: "smtp.tls_listen is set but smtp.tls.cert / smtp.tls.key are not"
        }
    }
}

/// Answers 421 and closes: used when a connection limit is reached. The socket is closed once the reply
/// is written, and at the latest after `closeAfter`, so a refused client cannot keep a descriptor open.
final class RefuseConnectionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let reply: SMTPReply
    let closeAfter: TimeAmount

    init(reply: SMTPReply, closeAfter: TimeAmount) {
        self.reply = reply
        self.closeAfter = closeAfter
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        let timer = context.eventLoop.scheduleTask(in: closeAfter) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in timer.cancel() }
        let buffer = channel.allocator.buffer(string: reply.encoded())
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
