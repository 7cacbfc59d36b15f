import Logging
import NIOCore
import NIOSSL
import SMTPProtocol

/// Moves bytes between one connection and its `SMTPSession`, and performs the session's actions.
///
/// Everything here runs on the channel's event loop. Slow work (password hashing, the durable commit,
/// a synchronous delivery attempt) runs elsewhere; while it does, the handler stops reading from the
/// socket so a pipelining client cannot make us buffer without bound.
final class SMTPSessionHandler<Backend: SubmissionBackend>: ChannelDuplexHandler, RemovableChannelHandler, ShutdownRequestable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: SMTPSession
    private let backend: Backend
    private let configuration: SMTPServerConfiguration
    private let throttle: AuthFailureThrottle
    private let registry: ConnectionRegistry
    private var logger: Logger
    private var peer: PeerInfo

    /// What AUTH proved, kept for the connection's messages (cleared when STARTTLS resets the session).
    private var login: Backend.Login?
    private var spool: Backend.Spool?
    private var spoolFailed = false
    private var readHeld = false
    private var closing = false
    private var shutdownRequested = false
    private var commandTimer: Scheduled<Void>?
    private var sessionTimer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    /// Made at the first message (see `loopExecutor`).
    private var taskExecutor: EventLoopTaskExecutor?
    let connectionID: Int

    init(
        sessionConfiguration: SMTPSessionConfiguration, peer: PeerInfo, backend: Backend,
        configuration: SMTPServerConfiguration, throttle: AuthFailureThrottle, registry: ConnectionRegistry,
        connectionID: Int, logger: Logger
    ) {
        self.session = SMTPSession(configuration: sessionConfiguration)
        self.peer = peer
        self.backend = backend
        self.configuration = configuration
        self.throttle = throttle
        self.registry = registry
        self.connectionID = connectionID
        self.logger = logger
        self.logger[metadataKey: "smtp.session"] = "\(connectionID)"
        self.logger[metadataKey: "smtp.peer"] = "\(peer)"
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        logger.debug("smtp session opened")
        let loop = context.eventLoop.assumeIsolated()
        sessionTimer = loop.scheduleTask(in: TimeAmount(configuration.sessionTimeout)) { [self] in
            logger.info("smtp session time limit reached")
            perform(session.timedOut())
        }
        armCommandTimer()
        perform(session.start())
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        commandTimer?.cancel()
        sessionTimer?.cancel()
        if let spool {
            // The client went away mid-DATA (or before our answer): nothing was acknowledged.
            spool.abandon()
            self.spool = nil
        }
        registry.remove(connectionID)
        logger.debug("smtp session closed")
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { session.receive($0) }
        armCommandTimer()
        perform(session.process())
    }

    func read(context: ChannelHandlerContext) {
        // Back-pressure: no new reads while the session waits for slow work, nor while our replies
        // cannot be sent (a client that pipelines commands but never reads would make us queue replies
        // in memory without bound).
        if session.isWaiting || closing || !context.channel.isWritable {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        resumeReadingIfPossible()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let sslError = error as? NIOSSLError {
            logger.info("smtp tls error", metadata: ["error": "\(sslError)"])
        } else {
            logger.debug("smtp connection error", metadata: ["error": "\(error)"])
        }
        closeNow()
    }

    // MARK: Actions

    /// Performs the session's actions in order, writing replies as one batch (PIPELINING).
    private func perform(_ actions: [SMTPAction]) {
        guard let context, !actions.isEmpty else { return }
        var output = context.channel.allocator.buffer(capacity: 256)
        var closeAfterWrite = false
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            switch action {
            case .reply(let reply):
                output.writeString(reply.encoded())
            case .startTLS:
                flush(&output)
                startTLS()
                perform(session.tlsEstablished())
                return
            case .authenticate(let username, let password):
                flush(&output)
                authenticate(username: username, password: password)
            case .checkSender(let mailFrom):
                flush(&output)
                checkSender(mailFrom: mailFrom)
            case .beginMessage:
                // beginMessage() answers (354 or 452) through a nested perform(): send the replies
                // before it first, or a pipelined MAIL/RCPT/DATA group gets its 354 ahead of its 250s.
                flush(&output)
                beginMessage()
            case .messageData(let bytes):
                writeToSpool(bytes)
            case .endMessage(let envelope):
                flush(&output)
                endMessage(envelope)
            case .abortMessage:
                spool?.abandon()
                spool = nil
                spoolFailed = false
                logger.notice("smtp message refused: too big")
            case .close:
                closeAfterWrite = true
            }
        }
        if closeAfterWrite {
            closing = true
            commandTimer?.cancel()
            context.writeAndFlush(wrapOutboundOut(output)).assumeIsolated().whenComplete { [self] _ in closeNow() }
            return
        }
        flush(&output)
        resumeReadingIfPossible()
        if shutdownRequested && session.isIdle { perform(session.shutDown()) }
    }

    private func flush(_ output: inout ByteBuffer) {
        guard let context else { return }
        if output.readableBytes > 0 {
            context.writeAndFlush(wrapOutboundOut(output), promise: nil)
            output = context.channel.allocator.buffer(capacity: 256)
        }
    }

    private func startTLS() {
        guard let context, let tlsContext = configuration.tlsContext else { return closeNow() }
        // Installed in the same event-loop tick as the 220 was flushed, so no plaintext byte the client
        // sends after it can be read as a command; pipelined plaintext was discarded by the session.
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
            peer.tls = true
            login = nil  // the session forgets its AUTH state at STARTTLS (RFC 3207 §4.2); so do we
            logger.debug("smtp starttls")
        } catch {
            logger.error("smtp starttls failed", metadata: ["error": "\(error)"])
            closeNow()
        }
    }

    private func authenticate(username: String, password: String) {
        guard let context else { return }
        let backend = self.backend
        let peer = self.peer
        let promise = context.eventLoop.makePromise(of: AuthenticationResult<Backend.Login>.self)
        promise.completeWithTask { await backend.authenticate(username: username, password: password, peer: peer) }
        promise.futureResult.assumeIsolated().whenSuccess { [self] result in
            guard !closing else { return }
            switch result {
            case .accepted(let verified):
                login = verified
                session.checksSender = backend.checksSender(for: verified)
                throttle.succeeded(peer: peer.address)
                logger.info("smtp auth succeeded", metadata: ["smtp.user": "\(username)"])
                perform(session.authenticationFinished(success: true))
                return
            case .temporarilyUnavailable:
                logger.warning("smtp auth not checked: too busy or store unavailable", metadata: ["smtp.user": "\(username)"])
                // Answered after the base delay, so a flood that is turned away cannot spin on it.
                context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(configuration.authFailureDelay)) { [self] in
                    guard !closing else { return }
                    perform(session.authenticationUnavailable())
                }
                return
            case .rejected:
                break
            }
            let delay = throttle.failed(peer: peer.address, username: username)
            logger.notice("smtp auth failed", metadata: ["smtp.user": "\(username)", "delay_ms": "\(delay.milliseconds)"])
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
                guard !closing else { return }
                perform(session.authenticationFinished(success: false))
            }
        }
    }

    private func checkSender(mailFrom: String) {
        guard let context, let login else { return perform(session.senderChecked(refusal: nil)) }
        let backend = self.backend
        let peer = self.peer
        let promise = context.eventLoop.makePromise(of: SMTPReply?.self)
        promise.completeWithTask { await backend.admitSender(login: login, mailFrom: mailFrom, peer: peer) }
        promise.futureResult.assumeIsolated().whenSuccess { [self] refusal in
            guard !closing else { return }
            if let refusal {
                logger.notice("smtp sender refused", metadata: ["smtp.reply": "\(refusal.code) \(refusal.enhancedCode ?? "")"])
            }
            perform(session.senderChecked(refusal: refusal))
        }
    }

    private func beginMessage() {
        do {
            spool = try backend.openSpool()
            spoolFailed = false
            perform(session.messageBegan(success: true))
        } catch {
            logger.error("smtp spool open failed", metadata: ["error": "\(error)"])
            perform(session.messageBegan(success: false))
        }
    }

    private func writeToSpool(_ bytes: [UInt8]) {
        guard let spool, !spoolFailed else { return }
        do {
            try spool.write(bytes)
        } catch {
            // Keep reading to the final dot, then answer 452: the client keeps its copy.
            spoolFailed = true
            logger.error("smtp spool write failed", metadata: ["error": "\(error)"])
        }
    }

    private func endMessage(_ envelope: Envelope) {
        guard let context, let spool else {
            perform(session.messageFinished(reply: .localError))
            return
        }
        self.spool = nil
        if spoolFailed {
            spool.abandon()
            spoolFailed = false
            perform(session.messageFinished(reply: .insufficientStorage))
            return
        }
        commandTimer?.cancel()  // the wait is ours, not the client's
        let backend = self.backend
        let peer = self.peer
        // A trusted peer that never logged in sends without a login.
        let login = envelope.authenticatedUser == nil ? nil : self.login
        let promise = context.eventLoop.makePromise(of: SMTPReply.self)
        // On this connection's loop (EventLoopTaskExecutor): the commit starts and ends here.
        Task(executorPreference: loopExecutor(context.eventLoop)) {
            promise.succeed(await backend.commit(envelope: envelope, login: login, spool: spool, peer: peer))
        }
        promise.futureResult.assumeIsolated().whenSuccess { [self] reply in
            logger.info(
                "smtp message answered",
                metadata: ["smtp.reply": "\(reply.code) \(reply.enhancedCode ?? "")", "smtp.recipients": "\(envelope.recipients.count)"]
            )
            armCommandTimer()
            perform(session.messageFinished(reply: reply))
        }
    }

    /// The task executor on this connection's event loop, for the commits of its messages.
    private func loopExecutor(_ loop: any EventLoop) -> EventLoopTaskExecutor {
        if let taskExecutor { return taskExecutor }
        let executor = EventLoopTaskExecutor(loop)
        taskExecutor = executor
        return executor
    }

    private func resumeReadingIfPossible() {
        guard let context, readHeld, !session.isWaiting, !closing, context.channel.isWritable else { return }
        readHeld = false
        context.read()
    }

    private func armCommandTimer() {
        guard let context, !closing else { return }
        commandTimer?.cancel()
        commandTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(configuration.commandTimeout)) { [self] in
            guard !session.isWaiting else { return armCommandTimer() }
            logger.info("smtp command timeout")
            perform(session.timedOut())
        }
    }

    private func closeNow() {
        guard let context else { return }
        closing = true
        context.close(promise: nil)
    }

    /// Graceful shutdown: idle sessions get 421 now; a session in the middle of a message finishes it first.
    func requestShutdown() {
        shutdownRequested = true
        if session.isIdle && !session.isWaiting { perform(session.shutDown()) }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
