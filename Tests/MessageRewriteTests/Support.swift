import Foundation
import MessageRewrite
import XCTest

/// 2026-11-22 18:29:48 UTC.
let fixedNow = Date(timeIntervalSince1970: 1_795_372_188)
let fixedDate = "Sun, 22 Nov 2026 18:29:48 +0000"
let fixedMessageID = "relay-1@gmail-relay.test"
let owner = "owner@gmail.com"

/// Writes a header block with CRLF line ends from lines (no blank line at the end).
func crlf(_ lines: String...) -> [UInt8] {
    crlf(lines)
}

func crlf(_ lines: [String]) -> [UInt8] {
    Array(lines.map { $0 + "\r\n" }.joined().utf8)
}

func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// The rewrite with a fixed clock and Message-ID; the account is owner@gmail.com unless told.
func rewrite(
    _ header: [UInt8],
    recipients: [String] = [],
    accounts: [String] = [owner]
) -> RewriteResult {
    rewriteHeader(header, envelopeRecipients: recipients, accountAddresses: accounts, now: fixedNow, newMessageID: fixedMessageID)
}

/// The values of the fields called `name` in the result (unfolded).
func values(_ name: String, in result: RewriteResult) -> [String] {
    result.block.fields(named: name).map(\.value)
}

/// Every line of `bytes` ends in CRLF and there is no bare CR or LF anywhere.
func assertCRLFOnly(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
    guard !bytes.isEmpty else { return }
    XCTAssertEqual(Array(bytes.suffix(2)), [0x0D, 0x0A], "last line must end in CRLF", file: file, line: line)
    for (index, byte) in bytes.enumerated() {
        if byte == 0x0A {
            XCTAssertTrue(index > 0 && bytes[index - 1] == 0x0D, "bare LF at \(index)", file: file, line: line)
        }
        if byte == 0x0D {
            XCTAssertTrue(index + 1 < bytes.count && bytes[index + 1] == 0x0A, "bare CR at \(index)", file: file, line: line)
        }
    }
}

/// The header of a PHPMailer 6 message as WordPress sends it through SMTP (createHeader order:
/// Date, To, From, Cc, Reply-To, Subject, Message-ID, X-Mailer, MIME-Version, Content-Type with the
/// boundary on a folded line). PHPMailer never writes Bcc when it talks SMTP.
let phpMailerHeader = crlf(
    "Date: Sun, 22 Nov 2026 18:20:01 +0000",
    "To: Jane Customer <jane@example.com>",
    "From: My Shop <wordpress@shop.example.org>",
    "Cc: orders@shop.example.org",
    "Reply-To: My Shop <support@shop.example.org>",
    "Subject: =?UTF-8?Q?Your_order_=E2=84=96_1042_has_shipped?=",
    "Message-ID: <Qx7pK2dV0aE9mT1YwRbZs3nLcUfH4gJ6iO8@shop.example.org>",
    "X-Mailer: PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)",
    "MIME-Version: 1.0",
    "Content-Type: multipart/alternative;",
    " boundary=\"b1=_Qx7pK2dV0aE9mT1YwRbZs3nLcUfH4gJ6iO8\""
)
