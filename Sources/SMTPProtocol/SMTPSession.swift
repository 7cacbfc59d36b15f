/// Per-connection settings the session needs. The glue fills it from the configuration and the peer.
public struct SMTPSessionConfiguration: Sendable {
    public var hostname: String
    public var maxMessageBytes: Int
    public var maxRecipients: Int
    public var maxLineLength: Int
    /// Protocol errors tolerated before the session answers 421 and closes.
    public var maxErrors: Int
    /// A certificate is configured, so STARTTLS can be offered.
    public var startTLSAvailable: Bool
    /// The connection is already encrypted (implicit TLS listener).
    public var tlsActive: Bool
    /// The peer may AUTH without TLS (smtp.plaintext_auth_networks).
    public var plaintextAuthAllowed: Bool
    /// The peer may submit without AUTH (smtp.trusted_networks).
    public var trustedPeer: Bool

    public init(
        hostname: String, maxMessageBytes: Int = 36_700_160, maxRecipients: Int = 100, maxLineLength: Int = 4096,
        maxErrors: Int = 3, startTLSAvailable: Bool = false, tlsActive: Bool = false,
        plaintextAuthAllowed: Bool = false, trustedPeer: Bool = false
    ) {
        self.hostname = hostname
        self.maxMessageBytes = maxMessageBytes
        self.maxRecipients = maxRecipients
        self.maxLineLength = maxLineLength
        self.maxErrors = maxErrors
        self.startTLSAvailable = startTLSAvailable
        self.tlsActive = tlsActive
        self.plaintextAuthAllowed = plaintextAuthAllowed
        self.trustedPeer = trustedPeer
    }
}

/// What one accepted transaction carries to the store.
public struct Envelope: Sendable, Equatable {
    public var heloName: String
    public var mailFrom: String
    public var recipients: [String]
    public var authenticatedUser: String?
    public var tls: Bool
    public var eightBitMIME = false
    public var smtpUTF8 = false
}

/// What the session asks the glue to do. The glue performs actions in order.
public enum SMTPAction: Sendable, Equatable {
    case reply(SMTPReply)
    /// Send nothing more in plaintext: install TLS now (the 220 was the action before), then call `tlsEstablished()`.
    case startTLS
    /// Check credentials, then call `authenticationFinished(success:)`. The session waits meanwhile.
    case authenticate(username: String, password: String)
    /// Ask whether the login may start a message now (a per-login limit), then call
    /// `senderChecked(refusal:)`. Only when the glue set `checksSender`. The session waits meanwhile.
    case checkSender(mailFrom: String)
    /// Open a spool file for a message, then call `messageBegan(success:)`. The session waits meanwhile.
    case beginMessage
    /// Message bytes, already unstuffed, to append to the spool.
    case messageData([UInt8])
    /// The message is complete: make it durable, then call `messageFinished(reply:)`. The session waits meanwhile.
    case endMessage(Envelope)
    /// The message is refused (too big): throw away what was spooled.
    case abortMessage
    /// Close the connection after writing what came before.
    case close
}

/// The ESMTP server side of one connection as a state machine: bytes and results in, actions out.
/// No I/O, no clock, no globals; the NIO glue in SMTPServer moves bytes and performs actions.
public struct SMTPSession: Sendable {
    enum Phase: Sendable, Equatable {
        case command
        case authPlainResponse
        case authLoginUsername
        case authLoginPassword(username: String)
        case data
        /// Waiting for the glue to answer an action.
        case waiting(Awaiting)
        case closed
    }

    enum Awaiting: Sendable, Equatable {
        case authentication(username: String)
        case sender
        case spool
        case commit
        case tls
    }

    public private(set) var configuration: SMTPSessionConfiguration
    var phase: Phase = .command
    var heloName: String?
    var spokeEHLO = false
    public private(set) var authenticatedUser: String?
    /// Set by the glue after AUTH when the login's MAIL FROM must be checked (`checkSender`); cleared
    /// with the login at STARTTLS.
    public var checksSender = false
    var mailFrom: String?
    var recipients: [String] = []
    var eightBitMIME = false
    var smtpUTF8 = false
    var errorCount = 0
    var messageTooBig = false

    private var input: [UInt8] = []
    private var inputOffset = 0
    private var framer: LineFramer
    private var decoder = DataDecoder()

    public init(configuration: SMTPSessionConfiguration) {
        self.configuration = configuration
        self.framer = LineFramer(maxLineLength: configuration.maxLineLength)
    }

    // MARK: - Inputs from the glue

    public mutating func start() -> [SMTPAction] {
        [.reply(.greeting(configuration.hostname))]
    }

    /// Adds bytes read from the connection. Call `process()` afterwards.
    public mutating func receive<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        guard phase != .closed else { return }
        if inputOffset == input.count {
            input.removeAll(keepingCapacity: true)
            inputOffset = 0
        }
        input.append(contentsOf: bytes)
    }

    /// True while the session waits for the glue; the glue should stop reading from the socket meanwhile.
    public var isWaiting: Bool { if case .waiting = phase { return true } else { return false } }
    public var isClosed: Bool { phase == .closed }
    /// True between DATA's 354 and the final dot.
    public var isReceivingData: Bool { phase == .data }
    /// Input held but not yet processed (while waiting), for the glue's back-pressure.
    public var pendingInputCount: Int { input.count - inputOffset + framer.bufferedByteCount }
    /// True when nothing is half-done: no transaction, no pending input. Used for graceful shutdown.
    public var isIdle: Bool { phase == .command && mailFrom == nil && pendingInputCount == 0 }

    /// Runs the protocol over buffered input until it is used up or the session must wait for the glue.
    public mutating func process() -> [SMTPAction] {
        var actions: [SMTPAction] = []
        while true {
            switch phase {
            case .closed, .waiting:
                compactInput()
                return actions
            case .data:
                guard inputOffset < input.count else { compactInput(); return actions }
                processData(into: &actions)
            case .command, .authPlainResponse, .authLoginUsername, .authLoginPassword:
                guard inputOffset < input.count else { compactInput(); return actions }
                let (event, consumed) = input.withUnsafeBytes { framer.next(in: $0, from: inputOffset) }
                inputOffset += consumed
                guard let event else { continue }
                switch event {
                case .tooLong:
                    // The 500 is a final reply: an AUTH exchange in progress is over, the next line is a command.
                    phase = .command
                    actions += fail(.lineTooLong)
                case .line(let line): actions += handleLine(line)
                }
            }
        }
    }

    public mutating func authenticationFinished(success: Bool) -> [SMTPAction] {
        guard case .waiting(.authentication(let username)) = phase else { return [] }
        phase = .command
        if success {
            authenticatedUser = username
            return [.reply(.authSucceeded)] + process()
        }
        return fail(.authFailed) + process()
    }

    /// The credentials could not be checked now (the relay is busy or its store is down): 454, not an
    /// error of the client's, so it does not count towards `maxErrors`.
    public mutating func authenticationUnavailable() -> [SMTPAction] {
        guard case .waiting(.authentication) = phase else { return [] }
        phase = .command
        return [.reply(.authTemporaryFailure)] + process()
    }

    /// The answer to `checkSender`: nil lets the transaction start (250), a reply refuses it (the
    /// backend's words; not counted as a protocol error).
    public mutating func senderChecked(refusal: SMTPReply?) -> [SMTPAction] {
        guard phase == .waiting(.sender) else { return [] }
        phase = .command
        guard let refusal else { return [.reply(.senderOk)] + process() }
        resetTransaction()
        return [.reply(refusal)] + process()
    }

    public mutating func messageBegan(success: Bool) -> [SMTPAction] {
        guard phase == .waiting(.spool) else { return [] }
        if success {
            phase = .data
            decoder.reset()
            messageTooBig = false
            return [.reply(.startData)] + process()
        }
        phase = .command
        resetTransaction()
        return [.reply(.insufficientStorage)] + process()
    }

    public mutating func messageFinished(reply: SMTPReply) -> [SMTPAction] {
        guard phase == .waiting(.commit) else { return [] }
        phase = .command
        resetTransaction()
        return [.reply(reply)] + process()
    }

    /// After STARTTLS: the handshake is done; the client starts over with EHLO.
    public mutating func tlsEstablished() -> [SMTPAction] {
        guard phase == .waiting(.tls) else { return [] }
        configuration.tlsActive = true
        phase = .command
        return process()
    }

    public mutating func timedOut() -> [SMTPAction] {
        guard phase != .closed else { return [] }
        phase = .closed
        return [.reply(.timeout(configuration.hostname)), .close]
    }

    public mutating func shutDown() -> [SMTPAction] {
        guard phase != .closed else { return [] }
        phase = .closed
        return [.reply(.shuttingDown(configuration.hostname)), .close]
    }

    // MARK: - Internals

    private mutating func compactInput() {
        if inputOffset == input.count {
            input.removeAll(keepingCapacity: input.capacity <= 1 << 16)
            inputOffset = 0
        } else if inputOffset > 1 << 16 {
            input.removeFirst(inputOffset)
            inputOffset = 0
        }
    }

    private mutating func processData(into actions: inout [SMTPAction]) {
        var chunk: [UInt8] = []
        let start = inputOffset
        let result = input.withUnsafeBytes { buffer in
            decoder.decode(UnsafeRawBufferPointer(rebasing: buffer[start...]), into: &chunk)
        }
        switch result {
        case .needMore: inputOffset = input.count
        case .finished(let consumed): inputOffset = start + consumed
        }
        if !messageTooBig && decoder.decodedByteCount > configuration.maxMessageBytes {
            // Keep reading to the final dot (the client will not listen before), but keep nothing.
            messageTooBig = true
        }
        if !messageTooBig && !chunk.isEmpty { actions.append(.messageData(chunk)) }
        if case .finished = result {
            if messageTooBig {
                phase = .command
                resetTransaction()
                actions += [.abortMessage, .reply(.messageTooBig)]
            } else {
                phase = .waiting(.commit)
                actions.append(.endMessage(currentEnvelope()))
            }
        }
    }

    private func currentEnvelope() -> Envelope {
        Envelope(
            heloName: heloName ?? "", mailFrom: mailFrom ?? "", recipients: recipients,
            authenticatedUser: authenticatedUser, tls: configuration.tlsActive,
            eightBitMIME: eightBitMIME, smtpUTF8: smtpUTF8
        )
    }

    mutating func resetTransaction() {
        mailFrom = nil
        recipients = []
        eightBitMIME = false
        smtpUTF8 = false
        messageTooBig = false
    }

    /// A protocol error: the reply, and after too many of them 421 and close.
    mutating func fail(_ reply: SMTPReply) -> [SMTPAction] {
        errorCount += 1
        if errorCount >= configuration.maxErrors {
            phase = .closed
            return [.reply(reply), .reply(.tooManyErrors), .close]
        }
        return [.reply(reply)]
    }

    mutating func wait(for awaiting: Awaiting) {
        phase = .waiting(awaiting)
    }

    mutating func close(with reply: SMTPReply) -> [SMTPAction] {
        phase = .closed
        return [.reply(reply), .close]
    }

    /// Pipelined plaintext after STARTTLS must not be trusted (RFC 3207 section 4.2, CVE-2011-0411).
    mutating func discardBufferedInput() {
        input.removeAll()
        inputOffset = 0
        framer.reset()
    }

    mutating func setPhase(_ newPhase: Phase) { phase = newPhase }

    mutating func resetForNewTLSSession() {
        heloName = nil
        spokeEHLO = false
        authenticatedUser = nil
        checksSender = false
        errorCount = 0
        resetTransaction()
    }
}
