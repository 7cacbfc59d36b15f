/// One function per verb, each returning the actions for one command line.
extension SMTPSession {
    mutating func handleLine(_ line: [UInt8]) -> [SMTPAction] {
        switch phase {
        case .authPlainResponse, .authLoginUsername, .authLoginPassword:
            return handleAuthResponse(line)
        default:
            break
        }
        switch SMTPCommandParser.parse(line) {
        case .command(let command): return handle(command)
        case .invalid(let reply): return fail(reply)
        case .notImplemented: return fail(.commandNotImplemented)
        case .unrecognized: return fail(.commandUnrecognized)
        case .httpRequest: return close(with: .notHTTP)
        }
    }

    mutating func handle(_ command: SMTPCommand) -> [SMTPAction] {
        switch command {
        case .ehlo(let name): return ehlo(name)
        case .helo(let name): return helo(name)
        case .mail(let path, let parameters): return mail(path, parameters)
        case .rcpt(let path, let parameters): return rcpt(path, parameters)
        case .data: return data()
        case .rset:
            resetTransaction()
            return [.reply(.ok)]
        case .noop: return [.reply(.ok)]
        case .quit: return close(with: .closing(configuration.hostname))
        case .vrfy: return [.reply(.cannotVerify)]
        case .help:
            return [.reply(SMTPReply(214, "2.0.0", "Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT VRFY HELP\(configuration.startTLSAvailable ? " STARTTLS" : "")"))]
        case .startTLS: return startTLS()
        case .auth(let mechanism, let initialResponse): return auth(mechanism, initialResponse)
        }
    }

    /// AUTH is offered only where the password cannot be sniffed: on TLS, or from configured networks.
    var authAvailable: Bool { configuration.tlsActive || configuration.plaintextAuthAllowed }

    mutating func ehlo(_ name: String) -> [SMTPAction] {
        resetTransaction()
        heloName = name
        spokeEHLO = true
        var lines = [
            "\(configuration.hostname)",
            "PIPELINING",
            "SIZE \(configuration.maxMessageBytes)",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",
        ]
        if configuration.startTLSAvailable && !configuration.tlsActive { lines.append("STARTTLS") }
        if authAvailable && authenticatedUser == nil { lines.append("AUTH PLAIN LOGIN") }
        lines.append("HELP")
        return [.reply(SMTPReply(250, nil, lines))]
    }

    mutating func helo(_ name: String) -> [SMTPAction] {
        resetTransaction()
        heloName = name
        spokeEHLO = false
        return [.reply(SMTPReply(250, nil, configuration.hostname))]
    }

    mutating func mail(_ path: String, _ parameters: [MailParameter]) -> [SMTPAction] {
        guard heloName != nil else { return fail(.heloFirst) }
        guard authenticatedUser != nil || configuration.trustedPeer else { return fail(.authRequired) }
        guard mailFrom == nil else { return fail(.nestedMail) }
        if !spokeEHLO && !parameters.isEmpty { return fail(SMTPReply(555, "5.5.4", "Unsupported option: \(parameters[0].keyword)")) }
        var eightBit = false
        var utf8 = false
        for parameter in parameters {
            switch parameter.keyword {
            case "SIZE":
                guard let value = parameter.value, !value.isEmpty, value.count <= 20, value.allSatisfy(\.isASCIIDigit) else {
                    return fail(SMTPReply(501, "5.5.4", "Bad SIZE parameter"))
                }
                // RFC 1870 allows 20 digits, more than Int holds: such a size is simply too big.
                let size = Int(value) ?? Int.max
                // A client that announces too much gets the size refusal now, before it sends anything.
                if size > configuration.maxMessageBytes { return [.reply(.messageTooBig)] }
            case "BODY":
                switch parameter.value?.uppercased() {
                case "7BIT": eightBit = false
                case "8BITMIME": eightBit = true
                default: return fail(SMTPReply(555, "5.5.4", "Unsupported BODY type"))
                }
            case "SMTPUTF8":
                guard parameter.value == nil else { return fail(SMTPReply(555, "5.5.4", "SMTPUTF8 takes no value")) }
                utf8 = true
            case "AUTH":
                break  // RFC 4954 section 5: the submitter's identity as the client sees it; informational only.
            default:
                return fail(SMTPReply(555, "5.5.4", "Unsupported option: \(parameter.keyword)"))
            }
        }
        if !utf8 && !path.allSatisfy(\.isASCII) { return fail(.smtpUTF8Required) }
        mailFrom = path
        eightBitMIME = eightBit
        smtpUTF8 = utf8
        if checksSender && authenticatedUser != nil {
            wait(for: .sender)
            return [.checkSender(mailFrom: path)]
        }
        return [.reply(.senderOk)]
    }

    mutating func rcpt(_ path: String, _ parameters: [MailParameter]) -> [SMTPAction] {
        guard mailFrom != nil else { return fail(.needMail) }
        if let parameter = parameters.first { return fail(SMTPReply(555, "5.5.4", "Unsupported option: \(parameter.keyword)")) }
        if !smtpUTF8 && !path.allSatisfy(\.isASCII) { return fail(.smtpUTF8Required) }
        let lowered = path.lowercased()
        if recipients.contains(where: { $0.lowercased() == lowered }) { return [.reply(.recipientOk)] }
        guard recipients.count < configuration.maxRecipients else { return [.reply(.tooManyRecipients)] }
        recipients.append(path)
        return [.reply(.recipientOk)]
    }

    mutating func data() -> [SMTPAction] {
        guard mailFrom != nil else { return fail(.needMail) }
        guard !recipients.isEmpty else { return fail(.needRecipients) }
        wait(for: .spool)
        return [.beginMessage]
    }

    mutating func startTLS() -> [SMTPAction] {
        guard !configuration.tlsActive else { return fail(.tlsAlreadyActive) }
        guard configuration.startTLSAvailable else { return fail(.commandNotImplemented) }
        discardBufferedInput()
        resetForNewTLSSession()
        wait(for: .tls)
        return [.reply(.readyToStartTLS), .startTLS]
    }

    mutating func auth(_ mechanism: String, _ initialResponse: String?) -> [SMTPAction] {
        guard authenticatedUser == nil else { return fail(.alreadyAuthenticated) }
        guard heloName != nil && spokeEHLO else { return fail(SMTPReply(503, "5.5.1", "Error: send EHLO first")) }
        guard mailFrom == nil else { return fail(.authDuringTransaction) }
        guard authAvailable else { return fail(.encryptionRequired) }
        switch mechanism {
        case "PLAIN":
            guard let initialResponse else {
                setPhase(.authPlainResponse)
                return [.reply(SMTPReply(334, nil, ""))]
            }
            return finishPlain(initialResponse)
        case "LOGIN":
            guard let initialResponse else {
                setPhase(.authLoginUsername)
                return [.reply(SMTPReply(334, nil, Base64.encode(Array("Username:".utf8))))]
            }
            return loginUsername(initialResponse)
        default:
            return fail(.unsupportedMechanism)
        }
    }

    mutating func handleAuthResponse(_ line: [UInt8]) -> [SMTPAction] {
        let text = String(decoding: line, as: UTF8.self).trimmingSpaces()
        let current = phase
        setPhase(.command)
        if text == "*" { return fail(.authAborted) }
        switch current {
        case .authPlainResponse: return finishPlain(text)
        case .authLoginUsername: return loginUsername(text)
        case .authLoginPassword(let username):
            guard let decoded = SASL.decodeResponse(text), let password = String(validating: decoded, as: UTF8.self) else {
                return fail(.badBase64)
            }
            return requestAuthentication(username: username, password: password)
        default: return []
        }
    }

    private mutating func finishPlain(_ response: String) -> [SMTPAction] {
        guard let decoded = SASL.decodeResponse(response) else { return fail(.badBase64) }
        guard let (username, password) = SASL.parsePlain(decoded) else { return fail(.authFailed) }
        return requestAuthentication(username: username, password: password)
    }

    private mutating func loginUsername(_ response: String) -> [SMTPAction] {
        guard let decoded = SASL.decodeResponse(response), let username = String(validating: decoded, as: UTF8.self), !username.isEmpty else {
            return fail(.badBase64)
        }
        setPhase(.authLoginPassword(username: username))
        return [.reply(SMTPReply(334, nil, Base64.encode(Array("Password:".utf8))))]
    }

    private mutating func requestAuthentication(username: String, password: String) -> [SMTPAction] {
        wait(for: .authentication(username: username))
        return [.authenticate(username: username, password: password)]
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
