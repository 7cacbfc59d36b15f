import Foundation
import MessageRewrite
import XCTest

/// Random header blocks built from header-like pieces and junk: the rewrite must never crash and its
/// output must hold to its promises whatever the input.
final class PropertyTests: XCTestCase {
    /// SplitMix64: a fixed seed makes a failure reproducible.
    private struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private let pieces: [String] = [
        "From", "To", "Cc", "Bcc", "bcc", "Sender", "Reply-To", "Return-Path", "Date", "Message-ID", "Subject",
        ":", ": ", ";", ",", " ", "\t", "\r\n", "\n", "\r", "\r\n ", "\n\t", "<", ">", "@", "\"", "\\", "(", ")",
        "[", "]", "a@example.com", "Name", "=?UTF-8?Q?x=C3=A9?=", "=?", "?=", "Grüße", "用户", "\u{0}", "\u{7F}",
        "undisclosed-recipients:;", "owner@gmail.com", ".", "..",
    ]

    private func randomHeader(_ generator: inout SeededGenerator) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<Int.random(in: 0...60, using: &generator) {
            if Int.random(in: 0..<10, using: &generator) == 0 {
                bytes.append(UInt8.random(in: 0...255, using: &generator))
            } else {
                bytes += Array(pieces.randomElement(using: &generator)!.utf8)
            }
        }
        return bytes
    }

    func testRandomHeadersKeepTheOutputPromises() {
        var generator = SeededGenerator(state: 0x5EED_2026)
        let accounts = [["owner@gmail.com"], [], ["owner@gmail.com", "alias@example.com"]]
        for round in 0..<3_000 {
            let header = randomHeader(&generator)
            let envelope = (0..<Int.random(in: 0...3, using: &generator)).map { _ in
                String(decoding: randomHeader(&generator).prefix(20), as: UTF8.self)
            } + ["rcpt\(round)@example.net"]
            let result = rewriteHeader(header, envelopeRecipients: envelope,
                                       accountAddresses: accounts[round % accounts.count],
                                       now: fixedNow, newMessageID: "id\(round)@relay.test")
            let context = "round \(round): \(String(decoding: header, as: UTF8.self).debugDescription)"

            assertCRLFOnly(result.header)
            // Every line is a field or its continuation, and Gmail reads back the same fields.
            let reparsed = HeaderBlock(parsing: result.header)
            XCTAssertEqual(reparsed.malformedLines.count, 0, context)
            XCTAssertEqual(reparsed.fields, result.block.fields, context)
            // One Bcc at most, one Message-ID and Date at least, and the envelope recipient is a recipient.
            XCTAssertLessThanOrEqual(reparsed.fields(named: "Bcc").count, 1, context)
            XCTAssertNotNil(result.messageID, context)
            XCTAssertFalse(reparsed.fields(named: "Date").isEmpty, context)
            XCTAssertTrue(result.recipients.contains("rcpt\(round)@example.net"), context)
            XCTAssertFalse(reparsed.contains("Return-Path"), context)
            // Rewriting the output again adds no recipients and changes no bytes.
            let again = rewriteHeader(result.header, envelopeRecipients: envelope,
                                      accountAddresses: accounts[round % accounts.count],
                                      now: fixedNow, newMessageID: "other@relay.test")
            XCTAssertEqual(again.header, result.header, context)
        }
    }

    func testRandomBytesInTheAddressParserAndSplitter() {
        var generator = SeededGenerator(state: 42)
        for _ in 0..<3_000 {
            let bytes = (0..<Int.random(in: 0...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for mailbox in AddressList.parse(bytes) {
                XCTAssertFalse(mailbox.address.addrSpec.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
            }
            if let boundary = splitHeader(bytes, isWholeMessage: Bool.random(using: &generator)) {
                XCTAssertLessThanOrEqual(boundary.headerEnd, boundary.bodyStart)
                XCTAssertLessThanOrEqual(boundary.bodyStart, bytes.count)
            }
            _ = EncodedWord.decode(String(decoding: bytes, as: UTF8.self))
        }
    }
}
