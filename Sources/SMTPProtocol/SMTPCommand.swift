/// The client commands the relay understands, with their arguments already split.
public enum SMTPCommand: Sendable, Equatable {
    case ehlo(String)
    case helo(String)
    /// `reversePath` is the address without angle brackets; "" is the null sender `<>`.
    case mail(reversePath: String, parameters: [MailParameter])
    case rcpt(forwardPath: String, parameters: [MailParameter])
    case data
    case rset
    case noop
    case quit
    case vrfy(String)
    case help
    case startTLS
    /// `initialResponse` is the raw base64 text after the mechanism ("=" for an empty one), if any.
    case auth(mechanism: String, initialResponse: String?)
}

/// An ESMTP parameter on MAIL or RCPT: `SIZE=1234`, `SMTPUTF8`.
public struct MailParameter: Sendable, Equatable {
    /// Upper-cased keyword.
    public var keyword: String
    public var value: String?
    public init(_ keyword: String, _ value: String?) {
        self.keyword = keyword
        self.value = value
    }
}

/// What the parser makes of one command line.
public enum ParsedCommand: Sendable, Equatable {
    case command(SMTPCommand)
    /// A known verb with bad arguments: the reply to send.
    case invalid(SMTPReply)
    /// A verb we know but do not offer (EXPN, ETRN, BDAT, TURN...).
    case notImplemented
    case unrecognized
    /// Someone speaks HTTP to the SMTP port (cross-protocol attacks, confused scanners).
    case httpRequest
}

/// Parses command lines. Lenient where real clients are sloppy (a space after `FROM:`, an address
/// without angle brackets), strict where it matters (addresses must have a domain, parameters must be known).
public enum SMTPCommandParser {
    static let httpMethods: Set<String> = ["GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE", "PATCH", "TRACE"]
    static let notImplementedVerbs: Set<String> = ["EXPN", "ETRN", "TURN", "ATRN", "BDAT", "SEND", "SOML", "SAML"]

    /// `line` is the command line without its CRLF.
    public static func parse(_ line: [UInt8]) -> ParsedCommand {
        // Commands are ASCII; the only place a client may put UTF-8 is an address (SMTPUTF8).
        guard let text = String(validating: line, as: UTF8.self) else { return .unrecognized }
        let (verbPart, rest) = splitVerb(text)
        let verb = verbPart.uppercased()
        // No SMTP verb is an HTTP method or ends in a colon: "GET / HTTP/1.1", "CONNECT x:443", "Host: x".
        if httpMethods.contains(verb) || isHTTPHeaderName(verb) { return .httpRequest }
        switch verb {
        case "EHLO", "HELO":
            let name = rest.trimmingSpaces()
            guard !name.isEmpty else { return .invalid(SMTPReply(501, "5.5.4", "Syntax: \(verb) hostname")) }
            return .command(verb == "EHLO" ? .ehlo(name) : .helo(name))
        case "MAIL":
            return parsePath(rest, verb: verb, keyword: "FROM:", allowNull: true, badAddress: .badSender, SMTPCommand.mail)
        case "RCPT":
            return parsePath(rest, verb: verb, keyword: "TO:", allowNull: false, badAddress: .badRecipient, SMTPCommand.rcpt)
        case "DATA":
            return rest.trimmingSpaces().isEmpty ? .command(.data) : .invalid(SMTPReply(501, "5.5.4", "Syntax: DATA"))
        case "RSET":
            return rest.trimmingSpaces().isEmpty ? .command(.rset) : .invalid(SMTPReply(501, "5.5.4", "Syntax: RSET"))
        case "NOOP":
            return .command(.noop)  // RFC 5321 4.1.1.9: a parameter may be given and is ignored.
        case "QUIT":
            return .command(.quit)
        case "VRFY":
            let argument = rest.trimmingSpaces()
            return argument.isEmpty ? .invalid(SMTPReply(501, "5.5.4", "Syntax: VRFY address")) : .command(.vrfy(argument))
        case "HELP":
            return .command(.help)
        case "STARTTLS":
            return rest.trimmingSpaces().isEmpty ? .command(.startTLS) : .invalid(SMTPReply(501, "5.5.4", "Syntax: STARTTLS"))
        case "AUTH":
            let words = rest.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard words.count == 1 || words.count == 2 else { return .invalid(SMTPReply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")) }
            return .command(.auth(mechanism: words[0].uppercased(), initialResponse: words.count == 2 ? words[1] : nil))
        default:
            if notImplementedVerbs.contains(verb) { return .notImplemented }
            return .unrecognized
        }
    }

    private static func isHTTPHeaderName(_ verb: String) -> Bool {
        ["HOST:", "USER-AGENT:", "ACCEPT:", "CONTENT-TYPE:", "CONTENT-LENGTH:", "CONNECTION:", "ACCEPT-ENCODING:", "COOKIE:"].contains(verb)
    }

    private static func splitVerb(_ text: String) -> (String, String) {
        guard let space = text.firstIndex(of: " ") else { return (text, "") }
        return (String(text[..<space]), String(text[text.index(after: space)...]))
    }

    /// `MAIL FROM:<path> params` and `RCPT TO:<path> params` share one grammar; only MAIL may give the
    /// null path `<>`, and each has its own reply for a bad address.
    private static func parsePath(
        _ rest: String, verb: String, keyword: String, allowNull: Bool, badAddress: SMTPReply,
        _ command: (String, [MailParameter]) -> SMTPCommand
    ) -> ParsedCommand {
        guard let (path, parameters) = splitPathArgument(rest, keyword: keyword) else {
            return .invalid(SMTPReply(501, "5.5.4", "Syntax: \(verb) \(keyword)<address>"))
        }
        guard let parameters else { return .invalid(SMTPReply(501, "5.5.4", "Syntax error in parameters")) }
        guard let address = parseAddress(path, allowNull: allowNull) else { return .invalid(badAddress) }
        return .command(command(address, parameters))
    }

    /// Splits `FROM:<a@b> SIZE=10` into the path text and its parameters. The inner optional is nil for
    /// malformed parameters.
    private static func splitPathArgument(_ rest: String, keyword: String) -> (String, [MailParameter]?)? {
        guard rest.uppercased().hasPrefix(keyword) else { return nil }
        var remainder = Substring(rest.dropFirst(keyword.count))
        while remainder.first == " " { remainder = remainder.dropFirst() }  // "FROM: <a@b>" is common
        let path: Substring
        if remainder.first == "<" {
            // The path may contain spaces inside a quoted local part; it ends at the matching '>'.
            guard let close = closingBracket(in: remainder) else { return nil }
            path = remainder[...close]
            remainder = remainder[remainder.index(after: close)...]
        } else {
            let end = remainder.firstIndex(of: " ") ?? remainder.endIndex
            path = remainder[..<end]
            remainder = remainder[end...]
        }
        guard !path.isEmpty else { return nil }
        if !remainder.isEmpty && remainder.first != " " { return (String(path), nil) }
        var parameters: [MailParameter] = []
        for word in remainder.split(separator: " ", omittingEmptySubsequences: true) {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let keyword = parts[0].uppercased()
            guard !keyword.isEmpty, keyword.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }), keyword.first!.isASCII else {
                return (String(path), nil)
            }
            if parts.count == 2 {
                guard !parts[1].isEmpty else { return (String(path), nil) }
                parameters.append(MailParameter(keyword, String(parts[1])))
            } else {
                parameters.append(MailParameter(keyword, nil))
            }
        }
        return (String(path), parameters)
    }

    private static func closingBracket(in text: Substring) -> Substring.Index? {
        var inQuotes = false
        var escaped = false
        for index in text.indices {
            let character = text[index]
            if escaped { escaped = false; continue }
            if character == "\\" && inQuotes { escaped = true; continue }
            if character == "\"" { inQuotes.toggle(); continue }
            if character == ">" && !inQuotes { return index }
        }
        return nil
    }

    /// Returns the mailbox without angle brackets and source route, or nil when it is not an address
    /// we can deliver to. `<>` is allowed only as a reverse path.
    static func parseAddress(_ path: String, allowNull: Bool) -> String? {
        var text = Substring(path)
        if text.first == "<" {
            guard text.last == ">" else { return nil }
            text = text.dropFirst().dropLast()
        }
        if text.isEmpty { return allowNull ? "" : nil }
        // Obsolete source route: <@relay1,@relay2:user@domain>. RFC 5321 says to ignore it.
        if text.first == "@" {
            guard let colon = text.firstIndex(of: ":") else { return nil }
            text = text[text.index(after: colon)...]
        }
        let address = String(text)
        guard let at = address.lastIndex(of: "@") else { return nil }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty, local.utf8.count <= 64, domain.utf8.count <= 255 else { return nil }
        // No spaces or controls outside a quoted local part; no angle brackets anywhere.
        let localIsQuoted = local.first == "\"" && local.last == "\"" && local.count >= 2
        for scalar in address.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F || scalar == "<" || scalar == ">" {
            _ = scalar
            return nil
        }
        if !localIsQuoted && local.contains(where: { $0 == " " || $0 == "," || $0 == "\"" }) { return nil }
        if domain.contains(where: { $0 == " " || $0 == "," || $0 == "@" || $0 == "\"" }) { return nil }
        if domain.hasPrefix(".") || domain.hasSuffix(".") || domain.contains("..") { return nil }
        if domain.first == "[" && domain.last != "]" { return nil }
        return address
    }
}

extension String {
    func trimmingSpaces() -> String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view = view.dropFirst() }
        while view.last == " " || view.last == "\t" { view = view.dropLast() }
        return String(view)
    }
}
