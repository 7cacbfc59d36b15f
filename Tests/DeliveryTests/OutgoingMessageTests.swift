import Foundation
import GmailAPI
import XCTest
@testable import Delivery

/// The message as it goes to Gmail: the same bytes whether built in memory or through a file.
final class OutgoingMessageTests: XCTestCase {
    var directory: String!

    override func setUp() {
        directory = NSTemporaryDirectory() + "outgoing-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func spool(_ text: String) throws -> String {
        let path = directory + "/\(UUID().uuidString).eml"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func build(_ path: String, limit: Int) throws -> (Data, UploadBody) {
        let (body, _) = try SpooledMessage.outgoing(
            spoolPath: path, fileIfLargerAt: path + ".outgoing", envelopeRecipients: ["alice@example.com", "hidden@example.com"],
            accountAddresses: ["shop@example.com"], now: Date(timeIntervalSince1970: 1_790_000_000),
            newMessageID: "relay-1.1790000000000@relay.example", inMemoryLimit: limit)
        switch body {
        case .bytes(let bytes): return (bytes, body)
        case .file(let url): return (try Data(contentsOf: url), body)
        }
    }

    func testSmallMessagesAreBuiltInMemoryLargeOnesInAFileWithTheSameBytes() throws {
        let text = "From: wordpress@site.example\r\nTo: alice@example.com\r\nSubject: Hello\r\n\r\n"
            + String(repeating: "body line, unchanged\r\n", count: 500)
        let path = try spool(text)
        let (inMemory, small) = try build(path, limit: 1 << 20)
        guard case .bytes = small else { return XCTFail("a 10 KB message should go from memory") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".outgoing"), "no file for a small message")
        let (viaFile, large) = try build(path, limit: 1000)
        guard case .file(let url) = large else { return XCTFail("above the limit the message goes through a file") }
        XCTAssertEqual(url.path, path + ".outgoing")
        XCTAssertEqual(inMemory, viaFile)
        let sent = String(decoding: inMemory, as: UTF8.self)
        XCTAssertTrue(sent.contains("Bcc: hidden@example.com\r\n"), sent)
        XCTAssertTrue(sent.contains("From: shop@example.com\r\n"), sent)
        XCTAssertTrue(sent.hasSuffix("\r\n\r\n" + String(repeating: "body line, unchanged\r\n", count: 500)), "body bytes untouched")
    }

    func testAHeaderWithoutAnEndIsCutAtTheHeaderReadLimitEitherWay() throws {
        // No blank line in the first 256 KB: the rest is treated as body, as before.
        let text = "Subject: x\r\n" + String(repeating: "X-Filler: " + String(repeating: "a", count: 100) + "\r\n", count: 3000)
        let path = try spool(text)
        let (inMemory, _) = try build(path, limit: 1 << 20)
        let (viaFile, _) = try build(path, limit: 1000)
        XCTAssertEqual(inMemory, viaFile)
    }
}
