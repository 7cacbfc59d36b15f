import SMTPProtocol
import XCTest

/// Fixture table: command line -> what the parser makes of it.
final class CommandParserTests: XCTestCase {
    private static let syntaxMail = ParsedCommand.invalid(SMTPReply(501, "5.5.4", "Syntax: MAIL FROM:<address>"))
    private static let syntaxRcpt = ParsedCommand.invalid(SMTPReply(501, "5.5.4", "Syntax: RCPT TO:<address>"))
    private static let badParameters = ParsedCommand.invalid(SMTPReply(501, "5.5.4", "Syntax error in parameters"))
    private static let badSender = ParsedCommand.invalid(.badSender)
    private static let badRecipient = ParsedCommand.invalid(.badRecipient)

    private static func mail(_ path: String, _ parameters: [MailParameter] = []) -> ParsedCommand {
        .command(.mail(reversePath: path, parameters: parameters))
    }

    private static func rcpt(_ path: String, _ parameters: [MailParameter] = []) -> ParsedCommand {
        .command(.rcpt(forwardPath: path, parameters: parameters))
    }

    static let fixtures: [(String, ParsedCommand, UInt)] = [
        // HELO / EHLO
        ("EHLO client.example", .command(.ehlo("client.example")), #line),
        ("ehlo   client.example  ", .command(.ehlo("client.example")), #line),
        ("EHLO [192.0.2.1]", .command(.ehlo("[192.0.2.1]")), #line),
        ("HELO client", .command(.helo("client")), #line),
        ("EHLO", .invalid(SMTPReply(501, "5.5.4", "Syntax: EHLO hostname")), #line),
        ("HELO   ", .invalid(SMTPReply(501, "5.5.4", "Syntax: HELO hostname")), #line),

        // MAIL
        ("MAIL FROM:<a@b.example>", mail("a@b.example"), #line),
        ("mail from:<a@b.example>", mail("a@b.example"), #line),
        ("MAIL FROM: <a@b.example>", mail("a@b.example"), #line),
        ("MAIL FROM:a@b.example", mail("a@b.example"), #line),
        ("MAIL FROM:a@b.example SIZE=10", mail("a@b.example", [MailParameter("SIZE", "10")]), #line),
        ("MAIL FROM:<>", mail(""), #line),
        ("MAIL FROM:<> BODY=8BITMIME", mail("", [MailParameter("BODY", "8BITMIME")]), #line),
        ("MAIL FROM:<@relay1.example,@relay2.example:a@b.example>", mail("a@b.example"), #line),
        ("MAIL FROM:<\"john smith\"@example.com>", mail("\"john smith\"@example.com"), #line),
        ("MAIL FROM:<\"a@b\"@example.com>", mail("\"a@b\"@example.com"), #line),
        ("MAIL FROM:<\"a\\\"b c\"@example.com>", mail("\"a\\\"b c\"@example.com"), #line),
        ("MAIL FROM:<a@[192.0.2.1]>", mail("a@[192.0.2.1]"), #line),
        ("MAIL FROM:<jörg@exämple.de> SMTPUTF8", mail("jörg@exämple.de", [MailParameter("SMTPUTF8", nil)]), #line),
        ("MAIL FROM:<a@b.example> size=100 body=8bitmime smtputf8",
         mail("a@b.example", [MailParameter("SIZE", "100"), MailParameter("BODY", "8bitmime"), MailParameter("SMTPUTF8", nil)]), #line),
        ("MAIL FROM:<a@b.example>   SIZE=5  ", mail("a@b.example", [MailParameter("SIZE", "5")]), #line),
        ("MAIL FROM:<a@b.example> AUTH=<>", mail("a@b.example", [MailParameter("AUTH", "<>")]), #line),
        ("MAIL FROM:<a@b.example> X-VENDOR=a=b", mail("a@b.example", [MailParameter("X-VENDOR", "a=b")]), #line),
        ("MAIL FROM:<\(String(repeating: "l", count: 64))@b.example>", mail("\(String(repeating: "l", count: 64))@b.example"), #line),

        ("MAIL FROM:<a@b.example> SIZE=", badParameters, #line),
        ("MAIL FROM:<a@b.example>garbage", badParameters, #line),
        ("MAIL FROM:<a@b.example>> SIZE=1", badParameters, #line),
        ("MAIL FROM:<a@b.example> =5", badParameters, #line),
        ("MAIL FROM:<a@b.example> X_Y=1", badParameters, #line),
        ("MAIL FROM:<a@b.example> ÄX=1", badParameters, #line),
        ("MAIL FROM:<a@b.example", syntaxMail, #line),
        ("MAIL FROM:", syntaxMail, #line),
        ("MAIL FROM: ", syntaxMail, #line),
        ("MAIL", syntaxMail, #line),
        ("MAIL TO:<a@b.example>", syntaxMail, #line),
        ("MAIL FROM<a@b.example>", syntaxMail, #line),
        ("MAIL FROM:<ab.example>", badSender, #line),
        ("MAIL FROM:<a@>", badSender, #line),
        ("MAIL FROM:<@b.example>", badSender, #line),
        ("MAIL FROM:<@relay.example>", badSender, #line),
        ("MAIL FROM:<a b@c.example>", badSender, #line),
        ("MAIL FROM:<a,b@c.example>", badSender, #line),
        // An unbalanced quote swallows the closing bracket.
        ("MAIL FROM:<a\"b@c.example>", syntaxMail, #line),
        ("MAIL FROM:a\"b@c.example", badSender, #line),
        ("MAIL FROM:<a@b c.example>", badSender, #line),
        ("MAIL FROM:<a@b,c.example>", badSender, #line),
        ("MAIL FROM:<a@b..example>", badSender, #line),
        ("MAIL FROM:<a@.example>", badSender, #line),
        ("MAIL FROM:<a@example.>", badSender, #line),
        ("MAIL FROM:<a@[192.0.2.1>", badSender, #line),
        ("MAIL FROM:<\"a>b\"@example.com>", badSender, #line),
        ("MAIL FROM:<a@b\tc.example>", badSender, #line),
        ("MAIL FROM:<\(String(repeating: "l", count: 65))@b.example>", badSender, #line),
        ("MAIL FROM:<a@\(String(repeating: "d", count: 256))>", badSender, #line),

        // RCPT
        ("RCPT TO:<x@y.example>", rcpt("x@y.example"), #line),
        ("rcpt to: <x@y.example>", rcpt("x@y.example"), #line),
        ("RCPT TO:x@y.example", rcpt("x@y.example"), #line),
        ("RCPT TO:<@hop.example:x@y.example>", rcpt("x@y.example"), #line),
        ("RCPT TO:<x@y.example> NOTIFY=NEVER", rcpt("x@y.example", [MailParameter("NOTIFY", "NEVER")]), #line),
        ("RCPT TO:<>", badRecipient, #line),
        ("RCPT TO:<x>", badRecipient, #line),
        ("RCPT TO:", syntaxRcpt, #line),
        ("RCPT FROM:<x@y.example>", syntaxRcpt, #line),
        ("RCPT TO:<x@y.example>junk", badParameters, #line),

        // Verbs without arguments
        ("DATA", .command(.data), #line),
        ("data  ", .command(.data), #line),
        ("DATA now", .invalid(SMTPReply(501, "5.5.4", "Syntax: DATA")), #line),
        ("RSET", .command(.rset), #line),
        ("NOOP", .command(.noop), #line),
        ("NOOP ignored argument", .command(.noop), #line),
        ("QUIT", .command(.quit), #line),
        ("HELP", .command(.help), #line),
        ("HELP MAIL", .command(.help), #line),
        ("VRFY postmaster", .command(.vrfy("postmaster")), #line),
        ("VRFY", .invalid(SMTPReply(501, "5.5.4", "Syntax: VRFY address")), #line),
        ("STARTTLS", .command(.startTLS), #line),
        ("starttls", .command(.startTLS), #line),

        // AUTH
        ("AUTH PLAIN", .command(.auth(mechanism: "PLAIN", initialResponse: nil)), #line),
        ("auth login dXNlcg==", .command(.auth(mechanism: "LOGIN", initialResponse: "dXNlcg==")), #line),
        ("AUTH PLAIN =", .command(.auth(mechanism: "PLAIN", initialResponse: "=")), #line),
        ("AUTH  PLAIN   AGEAYg==", .command(.auth(mechanism: "PLAIN", initialResponse: "AGEAYg==")), #line),
        ("AUTH", .invalid(SMTPReply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")), #line),
        ("AUTH PLAIN a b", .invalid(SMTPReply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]")), #line),

        // Known verbs not offered, unknown verbs
        ("EXPN staff", .notImplemented, #line),
        ("ETRN example.com", .notImplemented, #line),
        ("BDAT 100 LAST", .notImplemented, #line),
        ("TURN", .notImplemented, #line),
        ("XYZZY", .unrecognized, #line),
        ("", .unrecognized, #line),
        (" NOOP", .unrecognized, #line),
        ("MAIL\tFROM:<a@b.example>", .unrecognized, #line),

        // HTTP spoken to the SMTP port
        ("GET / HTTP/1.1", .httpRequest, #line),
        ("post /login HTTP/1.1", .httpRequest, #line),
        ("CONNECT example.com:443 HTTP/1.1", .httpRequest, #line),
        ("OPTIONS * HTTP/1.1", .httpRequest, #line),
        ("Host: relay.test", .httpRequest, #line),
        ("User-Agent: curl/8", .httpRequest, #line),
    ]

    func testFixtures() {
        for (line, expected, sourceLine) in Self.fixtures {
            XCTAssertEqual(SMTPCommandParser.parse(bytes(line)), expected, line, line: sourceLine)
        }
    }

    func testInvalidUTF8IsUnrecognized() {
        XCTAssertEqual(SMTPCommandParser.parse([0xFF, 0xFE]), .unrecognized)
        XCTAssertEqual(SMTPCommandParser.parse(bytes("MAIL FROM:<a") + [0xC3] + bytes("@b.example>")), .unrecognized)
    }

    func testControlCharactersInAnAddressAreRefused() {
        for control: UInt8 in [0, 1, 9, 0x1B, 0x7F] {
            let line = bytes("MAIL FROM:<a") + [control] + bytes("@b.example>")
            XCTAssertEqual(SMTPCommandParser.parse(line), .invalid(.badSender), "byte \(control)")
        }
    }
}
