/// One SMTP reply: a three-digit code, an RFC 3463 enhanced status code and one or more text lines.
///
/// Replies are values so that the session core can return them and tests can compare them;
/// the wire form is produced only by `encoded()`.
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    /// RFC 3463 enhanced status code, e.g. "5.7.0". Nil for replies that never carry one (220, 221 greeting forms, 334, 354).
    public var enhancedCode: String?
    public var lines: [String]

    public init(_ code: Int, _ enhancedCode: String?, _ lines: [String]) {
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.isEmpty ? [""] : lines
    }

    public init(_ code: Int, _ enhancedCode: String?, _ text: String) {
        self.init(code, enhancedCode, [text])
    }

    public var isPositive: Bool { code < 400 }
    public var isPermanentFailure: Bool { code >= 500 }

    /// The reply on the wire: `250-first`, `250-second`, `250 last`, each ending CRLF.
    /// The enhanced code is written on every line, as RFC 2034 asks.
    public func encoded() -> String {
        var out = ""
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            out += "\(code)\(separator)"
            if let enhancedCode { out += enhancedCode + (line.isEmpty ? "" : " ") }
            out += Self.sanitized(line)
            out += "\r\n"
        }
        return out
    }

    public var description: String {
        lines.enumerated().map { index, line in
            "\(code)\(index == lines.count - 1 ? " " : "-")\(enhancedCode.map { $0 + " " } ?? "")\(line)"
        }.joined(separator: "\n")
    }

    /// Reply text may come from elsewhere (Gmail's message, a problem title): never let it break the framing.
    static func sanitized(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar == "\r" || scalar == "\n" { result.append(" ") } else if scalar.value < 0x20 || scalar.value == 0x7F { continue } else { result.unicodeScalars.append(scalar) }
        }
        return result
    }
}

/// The replies the session uses more than once, in one place so their wording stays consistent.
extension SMTPReply {
    public static func greeting(_ hostname: String) -> SMTPReply { SMTPReply(220, nil, "\(hostname) ESMTP gmail-relay") }
    public static func closing(_ hostname: String) -> SMTPReply { SMTPReply(221, "2.0.0", "\(hostname) Bye") }
    public static let ok = SMTPReply(250, "2.0.0", "Ok")
    public static let senderOk = SMTPReply(250, "2.1.0", "Ok")
    public static let recipientOk = SMTPReply(250, "2.1.5", "Ok")
    public static let startData = SMTPReply(354, nil, "End data with <CR><LF>.<CR><LF>")
    public static let readyToStartTLS = SMTPReply(220, "2.0.0", "Ready to start TLS")
    public static let authSucceeded = SMTPReply(235, "2.7.0", "Authentication successful")
    public static let cannotVerify = SMTPReply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")

    public static let commandUnrecognized = SMTPReply(500, "5.5.2", "Error: command not recognized")
    public static let lineTooLong = SMTPReply(500, "5.5.2", "Error: line too long")
    public static let commandNotImplemented = SMTPReply(502, "5.5.1", "Error: command not implemented")
    public static let heloFirst = SMTPReply(503, "5.5.1", "Error: send HELO/EHLO first")
    public static let nestedMail = SMTPReply(503, "5.5.1", "Error: nested MAIL command")
    public static let needMail = SMTPReply(503, "5.5.1", "Error: need MAIL command")
    public static let needRecipients = SMTPReply(554, "5.5.1", "Error: no valid recipients")
    public static let alreadyAuthenticated = SMTPReply(503, "5.5.1", "Error: already authenticated")
    public static let authDuringTransaction = SMTPReply(503, "5.5.1", "Error: MAIL transaction in progress")
    public static let tlsAlreadyActive = SMTPReply(503, "5.5.1", "Error: TLS already active")
    public static let authRequired = SMTPReply(530, "5.7.0", "Authentication required")
    public static let encryptionRequired = SMTPReply(538, "5.7.11", "Encryption required for requested authentication mechanism")
    public static let authFailed = SMTPReply(535, "5.7.8", "Authentication credentials invalid")
    /// RFC 4954: the server cannot check credentials now; the client should try again later.
    public static let authTemporaryFailure = SMTPReply(454, "4.7.0", "Temporary authentication failure, try again later")
    public static let authAborted = SMTPReply(501, "5.0.0", "Authentication aborted")
    public static let authNotAvailable = SMTPReply(503, "5.5.1", "Error: authentication not enabled")
    public static let unsupportedMechanism = SMTPReply(504, "5.5.4", "Unrecognized authentication type")
    public static let badBase64 = SMTPReply(501, "5.5.2", "Cannot decode response")
    public static let badSender = SMTPReply(501, "5.1.7", "Bad sender address syntax")
    public static let badRecipient = SMTPReply(501, "5.1.3", "Bad recipient address syntax")
    public static let smtpUTF8Required = SMTPReply(553, "5.6.7", "Non-ASCII address requires SMTPUTF8")
    public static let tooManyRecipients = SMTPReply(452, "4.5.3", "Error: too many recipients")
    public static let messageTooBig = SMTPReply(552, "5.3.4", "Message size exceeds fixed limit")
    public static let insufficientStorage = SMTPReply(452, "4.3.1", "Insufficient system storage")
    public static let localError = SMTPReply(451, "4.3.0", "Error: queue file write error")
    public static let tooManyErrors = SMTPReply(421, "4.7.0", "Error: too many errors")
    public static let notHTTP = SMTPReply(554, "5.7.0", "Error: this is an SMTP server, not a web server")
    public static func timeout(_ hostname: String) -> SMTPReply { SMTPReply(421, "4.4.2", "\(hostname) Error: timeout exceeded") }
    public static func tooManyConnections(_ hostname: String) -> SMTPReply { SMTPReply(421, "4.7.0", "\(hostname) Error: too many connections, try again later") }
    public static func tooManyConnectionsFromAddress(_ hostname: String) -> SMTPReply {
        SMTPReply(421, "4.7.0", "\(hostname) Error: too many connections from your address, try again later")
    }
    public static func shuttingDown(_ hostname: String) -> SMTPReply { SMTPReply(421, "4.3.2", "\(hostname) Service shutting down, closing connection") }
}
