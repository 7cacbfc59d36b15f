// libFuzzer target for the SMTP protocol core. Build and run with scripts/fuzz.sh.
//
// It is compiled in one module with Sources/SMTPProtocol/*.swift (no import). Each input is used three ways:
//  - as bytes from a client to an SMTPSession driven by a permissive glue, sent whole, split at a position
//    taken from the first byte, and one byte at a time; the three runs must agree;
//  - as DATA content for the DataDecoder, and as a message to dot-stuff and decode back;
//  - as command lines for the parser and as base64 / SASL PLAIN text.
// Any broken invariant traps, which libFuzzer reports as a crash with the input saved.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let control = input.first else { return 0 }
    let body = Array(input.dropFirst())
    fuzzSession(control: control, body: body)
    fuzzDecoder(control: control, body: body)
    fuzzParser(body)
    return 0
}

private func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(message())") }
}

// MARK: - Session

/// What a client could observe, to compare runs.
private struct Observed: Equatable {
    var wire: [UInt8] = []
    var messages: [[UInt8]] = []
    var envelopes: [Envelope] = []
    var closed = false
}

/// A permissive glue: AUTH succeeds (unless the control byte says otherwise), spooling works, every
/// message is answered 250. It checks the action contract while it performs the actions.
private struct FuzzGlue {
    var session: SMTPSession
    let configuration: SMTPSessionConfiguration
    let authSucceeds: Bool
    /// The glue asks for a MAIL FROM check after AUTH (a login with a daily limit).
    let checksSender: Bool
    var senderChecks = 0
    var observed = Observed()
    var spool: [UInt8]?
    var tlsDone = false
    var inputBytes = 0

    init(configuration: SMTPSessionConfiguration, authSucceeds: Bool, checksSender: Bool) {
        self.configuration = configuration
        self.session = SMTPSession(configuration: configuration)
        self.authSucceeds = authSucceeds
        self.checksSender = checksSender
        perform(session.start())
    }

    mutating func send(_ bytes: ArraySlice<UInt8>) {
        inputBytes += bytes.count
        session.receive(bytes)
        perform(session.process())
        if !session.isClosed && !session.isWaiting && !session.isReceivingData {
            check(session.pendingInputCount <= configuration.maxLineLength + 1, "pending input \(session.pendingInputCount) over the line limit")
        }
        if session.isReceivingData {
            check(session.pendingInputCount == 0, "data left unread in the DATA phase")
        }
    }

    mutating func finish() {
        // After close nothing may happen any more, whatever the glue calls.
        if observed.closed {
            perform(session.process())
            perform(session.timedOut())
            perform(session.shutDown())
            perform(session.authenticationFinished(success: true))
            perform(session.senderChecked(refusal: nil))
            perform(session.messageBegan(success: true))
            perform(session.messageFinished(reply: .ok))
            perform(session.tlsEstablished())
        } else {
            check(!session.isWaiting, "the glue answered every wait")
            perform(session.timedOut())
            check(observed.closed, "a timeout closes")
        }
        let decoded = observed.messages.reduce(0) { $0 + $1.count }
        check(decoded <= inputBytes, "decoded more message bytes than were sent")
    }

    mutating func perform(_ actions: [SMTPAction]) {
        for (index, action) in actions.enumerated() {
            check(!observed.closed, "action after close: \(action)")
            let isLast = index == actions.count - 1
            switch action {
            case .reply(let reply):
                check((200...599).contains(reply.code), "reply code \(reply.code)")
                let encoded = Array(reply.encoded().utf8)
                check(encoded.count >= 6 && encoded.suffix(2) == [13, 10], "reply not CRLF-terminated")
                let lines = encoded.split(separator: 10, omittingEmptySubsequences: false).dropLast()
                for line in lines {
                    check(line.last == 13, "bare LF in a reply")
                    check(line.dropLast().allSatisfy { $0 != 13 && $0 != 0 }, "CR or NUL inside a reply line")
                    check(Array(line.prefix(3)) == Array(String(reply.code).utf8), "reply line without its code")
                }
                observed.wire += encoded
            case .startTLS:
                check(isLast, "startTLS not last")
                check(configuration.startTLSAvailable && !configuration.tlsActive && !tlsDone, "STARTTLS where it was not offered")
                tlsDone = true
                check(session.pendingInputCount == 0, "plaintext kept across STARTTLS")
                perform(session.tlsEstablished())
            case .authenticate:
                check(isLast, "authenticate not last")
                check(configuration.plaintextAuthAllowed || configuration.tlsActive || tlsDone, "AUTH over plaintext")
                if authSucceeds && checksSender { session.checksSender = true }
                perform(session.authenticationFinished(success: authSucceeds))
            case .checkSender:
                check(isLast, "checkSender not last")
                check(session.checksSender, "checkSender without checksSender")
                // Every other check refuses, so both answers are explored.
                senderChecks += 1
                perform(session.senderChecked(refusal: senderChecks % 2 == 0 ? SMTPReply(452, "4.5.3", "Daily limit reached") : nil))
            case .beginMessage:
                check(isLast, "beginMessage not last")
                check(spool == nil, "nested beginMessage")
                spool = []
                perform(session.messageBegan(success: true))
            case .messageData(let bytes):
                check(spool != nil, "messageData outside a message")
                check(!bytes.isEmpty, "empty messageData")
                spool! += bytes
                check(spool!.count <= configuration.maxMessageBytes, "the glue was asked to keep more than the limit")
            case .endMessage(let envelope):
                check(isLast, "endMessage not last")
                check(spool != nil, "endMessage outside a message")
                check(envelope.authenticatedUser != nil || configuration.trustedPeer, "open relay: a message without AUTH")
                check(!envelope.recipients.isEmpty && envelope.recipients.count <= configuration.maxRecipients, "recipients \(envelope.recipients.count)")
                check(envelope.smtpUTF8 || (envelope.mailFrom + envelope.recipients.joined()).utf8.allSatisfy { $0 < 0x80 }, "non-ASCII address without SMTPUTF8")
                check(envelope.tls == (configuration.tlsActive || tlsDone), "envelope TLS flag")
                observed.messages.append(spool!)
                observed.envelopes.append(envelope)
                spool = nil
                perform(session.messageFinished(reply: SMTPReply(250, "2.0.0", "Ok: queued")))
            case .abortMessage:
                check(spool != nil, "abortMessage outside a message")
                spool = nil
            case .close:
                check(isLast, "close not last")
                check(session.isClosed, "close while the session is open")
                observed.closed = true
            }
        }
    }
}

private func fuzzSession(control: UInt8, body: [UInt8]) {
    let configuration = SMTPSessionConfiguration(
        hostname: "fuzz.test",
        maxMessageBytes: control & 0x01 != 0 ? 64 : 4096,
        maxRecipients: 3,
        maxLineLength: control & 0x02 != 0 ? 24 : 512,
        maxErrors: 3,
        startTLSAvailable: control & 0x04 != 0,
        tlsActive: control & 0x08 != 0,
        plaintextAuthAllowed: control & 0x10 != 0,
        trustedPeer: control & 0x20 != 0
    )
    let authSucceeds = control & 0x40 == 0
    let checksSender = control & 0x80 != 0

    var whole = FuzzGlue(configuration: configuration, authSucceeds: authSucceeds, checksSender: checksSender)
    whole.send(body[...])
    whole.finish()

    // STARTTLS throws away what was pipelined behind it in the same read, so only sessions where it
    // cannot succeed are expected to be independent of how the bytes were cut.
    let splitsMustAgree = !configuration.startTLSAvailable || configuration.tlsActive

    let position = body.isEmpty ? 0 : Int(control) * 7919 % (body.count + 1)
    var split = FuzzGlue(configuration: configuration, authSucceeds: authSucceeds, checksSender: checksSender)
    split.send(body[..<position])
    split.send(body[position...])
    split.finish()
    if splitsMustAgree {
        check(split.observed == whole.observed, "split at \(position) changed the conversation")
    }

    if splitsMustAgree && body.count <= 2048 {
        var bytewise = FuzzGlue(configuration: configuration, authSucceeds: authSucceeds, checksSender: checksSender)
        for index in body.indices { bytewise.send(body[index...index]) }
        bytewise.finish()
        check(bytewise.observed == whole.observed, "one byte at a time changed the conversation")
    }
}

// MARK: - DATA decoder

private func decode(_ chunks: [ArraySlice<UInt8>]) -> (output: [UInt8], end: Int?) {
    var decoder = DataDecoder()
    var output: [UInt8] = []
    var offset = 0
    for chunk in chunks {
        let result = chunk.withUnsafeBytes { decoder.decode($0, into: &output) }
        // A held "." or ".\r" is emitted with a later chunk, so only the running total is bounded.
        check(output.count <= offset + chunk.count, "decoded more bytes than were read")
        if case .finished(let consumed) = result {
            check(consumed >= 1 && consumed <= chunk.count, "consumed \(consumed) of \(chunk.count)")
            check(decoder.decodedByteCount == output.count, "decodedByteCount")
            return (output, offset + consumed)
        }
        offset += chunk.count
    }
    check(decoder.decodedByteCount == output.count, "decodedByteCount")
    return (output, nil)
}

private func fuzzDecoder(control: UInt8, body: [UInt8]) {
    let whole = decode([body[...]])
    check(whole.output.count <= body.count, "decoded size over input size")
    if let end = whole.end {
        check(end >= 3 && Array(body[end - 3..<end]) == [46, 13, 10], "the end is not at CRLF.CRLF")
        check(end == 3 || (end >= 5 && Array(body[end - 5..<end - 3]) == [13, 10]), "the final dot is not at a line start")
    }
    let position = body.isEmpty ? 0 : Int(control) % (body.count + 1)
    let split = decode([body[..<position], body[position...]])
    check(split.output == whole.output && split.end == whole.end, "decoder result depends on the split")

    // Round trip: the input as a message (ended with CRLF), stuffed as a client would, decodes back exactly.
    var message = body
    if !(message.isEmpty || message.suffix(2) == [13, 10]) { message += [13, 10] }
    var wire: [UInt8] = []
    var atLineStart = true
    var previous: UInt8 = 0
    for byte in message {
        if atLineStart && byte == 46 { wire.append(46) }
        wire.append(byte)
        atLineStart = previous == 13 && byte == 10
        previous = byte
    }
    wire += [46, 13, 10]
    let roundTrip = decode([wire[...], [81, 85, 73, 84, 13, 10]])
    check(roundTrip.output == message, "dot-stuffing round trip lost bytes")
    check(roundTrip.end == wire.count, "round trip ended at \(String(describing: roundTrip.end)), not \(wire.count)")
}

// MARK: - Parser, base64, SASL

private func fuzzParser(_ body: [UInt8]) {
    for line in body.split(separator: 10, omittingEmptySubsequences: false) {
        let parsed = SMTPCommandParser.parse(Array(line))
        guard case .command(let command) = parsed else { continue }
        switch command {
        case .mail(let path, let parameters), .rcpt(let path, let parameters):
            check(!path.unicodeScalars.contains { $0.value < 0x20 || $0 == "<" || $0 == ">" || $0.value == 0x7F }, "bad byte in an accepted address")
            if case .rcpt = command { check(!path.isEmpty, "empty forward path") }
            if !path.isEmpty { check(path.contains("@"), "accepted address without @") }
            for parameter in parameters {
                check(!parameter.keyword.isEmpty && parameter.keyword == parameter.keyword.uppercased(), "parameter keyword")
                check(parameter.value.map { !$0.isEmpty && !$0.contains(" ") } ?? true, "parameter value")
            }
        case .ehlo(let name), .helo(let name):
            check(!name.isEmpty && name.first != " " && name.last != " ", "hello name")
        case .auth(let mechanism, let initialResponse):
            check(!mechanism.isEmpty && mechanism == mechanism.uppercased() && !mechanism.contains(" "), "mechanism")
            check(initialResponse.map { !$0.isEmpty && !$0.contains(" ") } ?? true, "initial response")
        default:
            break
        }
    }

    check(Base64.decode(Base64.encode(body)) == body, "base64 round trip")
    let text = String(decoding: body, as: UTF8.self)
    if let decoded = Base64.decode(text) {
        check(text.utf8.count % 4 == 0 && decoded.count <= text.utf8.count / 4 * 3, "base64 decoded length")
        check(Base64.decode(Base64.encode(decoded)) == decoded, "base64 re-encode")
    }
    if let (username, _) = SASL.parsePlain(body) {
        check(!username.isEmpty && !username.utf8.contains(0), "PLAIN username")
    }
}
