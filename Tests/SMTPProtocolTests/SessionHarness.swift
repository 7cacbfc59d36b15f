@testable import SMTPProtocol
import XCTest

extension SMTPSessionConfiguration {
    /// The configuration the transcripts assume unless a test says otherwise.
    static func test(
        maxMessageBytes: Int = 10_000, maxRecipients: Int = 100, maxLineLength: Int = 512,
        startTLSAvailable: Bool = false, tlsActive: Bool = false,
        plaintextAuthAllowed: Bool = true, trustedPeer: Bool = false
    ) -> SMTPSessionConfiguration {
        SMTPSessionConfiguration(
            hostname: "relay.test", maxMessageBytes: maxMessageBytes, maxRecipients: maxRecipients,
            maxLineLength: maxLineLength, maxErrors: 3, startTLSAvailable: startTLSAvailable,
            tlsActive: tlsActive, plaintextAuthAllowed: plaintextAuthAllowed, trustedPeer: trustedPeer
        )
    }
}

/// A scripted glue around one `SMTPSession`: performs every action the way SMTPServer does (in order,
/// answering waits at once) and records what it saw. It fails the test when the session breaks the
/// action contract: an action after `close`, a waiting action that is not the last of its batch,
/// message data outside a message.
final class SessionDriver {
    /// What an observer of the connection can see; equal summaries mean equal behaviour.
    struct Summary: Equatable {
        var wire: String
        var messages: [Message]
        var aborted: Int
        var authAttempts: [Credentials]
        var tlsHandshakes: Int
        var closed: Bool
    }

    struct Message: Equatable {
        var envelope: Envelope
        var data: [UInt8]
    }

    struct Credentials: Equatable {
        var username: String
        var password: String
    }

    /// A simplified log of actions, for tests about their order.
    enum Event: Equatable {
        case reply(String)
        case startTLS
        case authenticate(String)
        case checkSender(String)
        case beginMessage
        case messageData
        case endMessage
        case abortMessage
        case close
    }

    private(set) var session: SMTPSession
    let users: [String: String]
    var beginMessageSucceeds: Bool
    var commitReply: SMTPReply
    /// What `checkSender` answers (nil: the sender may go on).
    var senderRefusal: SMTPReply?

    private(set) var wire = ""
    private var unread = ""
    private(set) var events: [Event] = []
    /// The spool of the message being received; nil outside a message.
    private(set) var spool: [UInt8]?
    /// The largest the spool ever was (the glue must never be asked to keep more than the limit).
    private(set) var largestSpool = 0
    private(set) var messages: [Message] = []
    private(set) var aborted = 0
    private(set) var authAttempts: [Credentials] = []
    private(set) var tlsHandshakes = 0
    private(set) var closed = false
    private let file: StaticString
    private let line: UInt

    init(
        configuration: SMTPSessionConfiguration = .test(), users: [String: String] = ["cms": "secret"],
        beginMessageSucceeds: Bool = true, commitReply: SMTPReply = SMTPReply(250, "2.0.0", "Ok: queued as 1"),
        greet: Bool = true, file: StaticString = #filePath, line: UInt = #line
    ) {
        self.session = SMTPSession(configuration: configuration)
        self.users = users
        self.beginMessageSucceeds = beginMessageSucceeds
        self.commitReply = commitReply
        self.file = file
        self.line = line
        if greet { perform(session.start()) }
    }

    var summary: Summary {
        Summary(wire: wire, messages: messages, aborted: aborted, authAttempts: authAttempts, tlsHandshakes: tlsHandshakes, closed: closed)
    }

    func send(_ bytes: [UInt8]) {
        session.receive(bytes)
        perform(session.process())
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Sends each chunk with its own receive/process round.
    func send(chunks: [[UInt8]]) {
        for chunk in chunks { send(chunk) }
    }

    /// Replies written since the last call, as wire lines without CRLF.
    func takeReplyLines() -> [String] {
        defer { unread = "" }
        guard !unread.isEmpty else { return [] }
        var lines = unread.components(separatedBy: "\r\n")
        XCTAssertEqual(lines.last, "", "replies must end in CRLF", file: file, line: line)
        lines.removeLast()
        return lines
    }

    func timedOut() { perform(session.timedOut()) }
    func shutDown() { perform(session.shutDown()) }

    func perform(_ batch: [SMTPAction]) {
        for (index, action) in batch.enumerated() {
            guard !closed else {
                XCTFail("action after close: \(action)", file: file, line: line)
                continue
            }
            let isLast = index == batch.count - 1
            func mustBeLast() {
                if !isLast { XCTFail("\(action) must end its batch (the session waits for it)", file: file, line: line) }
            }
            switch action {
            case .reply(let reply):
                let encoded = reply.encoded()
                wire += encoded
                unread += encoded
                events.append(.reply(encoded))
            case .startTLS:
                mustBeLast()
                events.append(.startTLS)
                tlsHandshakes += 1
                XCTAssertTrue(session.isWaiting, file: file, line: line)
                perform(session.tlsEstablished())
            case .authenticate(let username, let password):
                mustBeLast()
                events.append(.authenticate(username))
                authAttempts.append(Credentials(username: username, password: password))
                XCTAssertTrue(session.isWaiting, file: file, line: line)
                perform(session.authenticationFinished(success: users[username] == password))
            case .checkSender(let mailFrom):
                mustBeLast()
                events.append(.checkSender(mailFrom))
                XCTAssertTrue(session.isWaiting, file: file, line: line)
                perform(session.senderChecked(refusal: senderRefusal))
            case .beginMessage:
                mustBeLast()
                events.append(.beginMessage)
                if spool != nil { XCTFail("beginMessage while a message is open", file: file, line: line) }
                if beginMessageSucceeds { spool = [] }
                perform(session.messageBegan(success: beginMessageSucceeds))
            case .messageData(let bytes):
                events.append(.messageData)
                if bytes.isEmpty { XCTFail("empty messageData", file: file, line: line) }
                guard spool != nil else {
                    XCTFail("messageData outside a message", file: file, line: line)
                    continue
                }
                spool! += bytes
                largestSpool = max(largestSpool, spool!.count)
            case .endMessage(let envelope):
                mustBeLast()
                events.append(.endMessage)
                guard let data = spool else {
                    XCTFail("endMessage outside a message", file: file, line: line)
                    continue
                }
                messages.append(Message(envelope: envelope, data: data))
                spool = nil
                perform(session.messageFinished(reply: commitReply))
            case .abortMessage:
                events.append(.abortMessage)
                if spool == nil { XCTFail("abortMessage outside a message", file: file, line: line) }
                spool = nil
                aborted += 1
            case .close:
                events.append(.close)
                closed = true
                if !isLast { XCTFail("close must be the last action", file: file, line: line) }
                XCTAssertTrue(session.isClosed, file: file, line: line)
            }
        }
    }
}

/// Runs a dialogue written as
///
///     S: 220 relay.test ESMTP gmail-relay
///     C: EHLO client.example
///     S: 250-relay.test
///
/// Consecutive `C:` lines are sent together in one chunk (each with CRLF), which is how pipelining is
/// written; the `S:` lines that follow must be exactly the replies produced by that chunk.
/// `!closed` asserts the glue was told to close, `!silent` that the client lines before it got no reply;
/// `#` starts a comment; a trailing `<SP>` in an `S:` line stands for a space. Returns the driver so the test
/// can look at what the glue received.
@discardableResult
func runTranscript(
    _ transcript: String, configuration: SMTPSessionConfiguration = .test(), users: [String: String] = ["cms": "secret"],
    beginMessageSucceeds: Bool = true, commitReply: SMTPReply = SMTPReply(250, "2.0.0", "Ok: queued as 1"),
    file: StaticString = #filePath, line: UInt = #line
) -> SessionDriver {
    let driver = SessionDriver(
        configuration: configuration, users: users, beginMessageSucceeds: beginMessageSucceeds,
        commitReply: commitReply, file: file, line: line
    )
    var client: [UInt8] = []
    var expected: [String] = []
    var clientLineNumbers: [Int] = []
    var sawServerSinceClient = true

    func flush() {
        if !client.isEmpty { driver.send(client) }
        let actual = driver.takeReplyLines()
        if actual != expected {
            let at = clientLineNumbers.map(String.init).joined(separator: ",")
            XCTFail(
                "after transcript line(s) \(at.isEmpty ? "start" : at):\nexpected:\n\(expected.joined(separator: "\n"))\nactual:\n\(actual.joined(separator: "\n"))",
                file: file, line: line
            )
        }
        client = []
        expected = []
        clientLineNumbers = []
    }

    for (number, rawLine) in transcript.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let text = String(rawLine)
        if text.isEmpty || text.hasPrefix("#") { continue }
        if text.hasPrefix("C:") {
            if sawServerSinceClient { flush() }
            sawServerSinceClient = false
            let content = text.dropFirst(2).hasPrefix(" ") ? String(text.dropFirst(3)) : String(text.dropFirst(2))
            client += Array(content.utf8) + [13, 10]
            clientLineNumbers.append(number + 1)
        } else if text.hasPrefix("S:") {
            sawServerSinceClient = true
            var reply = text.dropFirst(2).hasPrefix(" ") ? String(text.dropFirst(3)) : String(text.dropFirst(2))
            // A reply line that ends in a space ("334 ") is written "334<SP>" so no editor strips it.
            if reply.hasSuffix("<SP>") { reply = String(reply.dropLast(4)) + " " }
            expected.append(reply)
        } else if text == "!closed" {
            flush()
            sawServerSinceClient = true
            XCTAssertTrue(driver.closed, "transcript line \(number + 1): the session should have closed", file: file, line: line)
        } else if text == "!silent" {
            // The client lines so far get no reply at all.
            flush()
            sawServerSinceClient = true
        } else {
            XCTFail("transcript line \(number + 1) is not C:, S:, !closed, !silent or a comment: \(text)", file: file, line: line)
        }
    }
    flush()
    return driver
}

/// SplitMix64: a small seeded generator so random tests repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Dot-stuffing as a client does it (RFC 5321 4.5.2): every line that starts with "." gets another ".";
/// the message is then ended with CRLF "." CRLF. `message` must be empty or end with CRLF.
func dotStuffed(_ message: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    var atLineStart = true
    var previous: UInt8 = 0
    for byte in message {
        if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
        out.append(byte)
        atLineStart = previous == 13 && byte == 10
        previous = byte
    }
    return out + Array(".\r\n".utf8)
}

/// Layered starting points, like a client would reach them: greeted (EHLO answered), authenticated.
extension SessionDriver {
    static func greeted(
        configuration: SMTPSessionConfiguration = .test(), file: StaticString = #filePath, line: UInt = #line
    ) -> SessionDriver {
        let driver = SessionDriver(configuration: configuration, file: file, line: line)
        driver.send("EHLO client.example\r\n")
        let replies = driver.takeReplyLines()
        XCTAssertEqual(replies.first, "220 relay.test ESMTP gmail-relay", file: file, line: line)
        XCTAssertEqual(replies.last, "250 HELP", file: file, line: line)
        return driver
    }

    static func authenticated(
        configuration: SMTPSessionConfiguration = .test(), file: StaticString = #filePath, line: UInt = #line
    ) -> SessionDriver {
        let driver = greeted(configuration: configuration, file: file, line: line)
        driver.send("AUTH PLAIN AGNtcwBzZWNyZXQ=\r\n")  // \0cms\0secret
        XCTAssertEqual(driver.takeReplyLines(), ["235 2.7.0 Authentication successful"], file: file, line: line)
        return driver
    }

    /// Sends the lines (CRLF added) in one chunk and returns the reply lines they produced.
    func exchange(_ lines: String...) -> [String] {
        send(lines.map { $0 + "\r\n" }.joined())
        return takeReplyLines()
    }
}

let greeting = "220 relay.test ESMTP gmail-relay"
