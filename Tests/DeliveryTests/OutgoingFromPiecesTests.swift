import Foundation
import GmailAPI
import Testing
@testable import Delivery

/// A body the database hands over piece by piece (PostgreSQL's chunks) goes to Gmail as the same bytes
/// as the same message read from a spool file, from memory when small and through a file when large.
@Suite struct OutgoingFromPiecesTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "pieces-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    private func message(bodyLines: Int) -> [UInt8] {
        var text = "From: wordpress@site.example\r\nTo: alice@example.com\r\nSubject: Pieces\r\n\r\n"
        for n in 0..<bodyLines { text += "line \(n) of the body, unchanged\r\n" }
        return Array(text.utf8)
    }

    private func stream(_ bytes: [UInt8], pieceSize: Int, failAfter: Int? = nil) -> AsyncThrowingStream<[UInt8], any Error> {
        struct StoreWentAway: Error {}
        return AsyncThrowingStream { continuation in
            var offset = 0
            var count = 0
            while offset < bytes.count {
                if let failAfter, count == failAfter { return continuation.finish(throwing: StoreWentAway()) }
                let end = min(offset + pieceSize, bytes.count)
                continuation.yield(Array(bytes[offset..<end]))
                offset = end
                count += 1
            }
            continuation.finish()
        }
    }

    private func upload(_ body: UploadBody) throws -> Data {
        switch body {
        case .bytes(let data): return data
        case .file(let url): return try Data(contentsOf: url)
        }
    }

    private let envelope = ["alice@example.com", "hidden@example.com"]
    private let now = Date(timeIntervalSince1970: 1_790_000_000)
    private let messageID = "relay-1.1790000000000@relay.example"

    private func fromFile(_ bytes: [UInt8], limit: Int) throws -> Data {
        let path = directory + "/\(UUID().uuidString).eml"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let (body, _) = try SpooledMessage.outgoing(
            spoolPath: path, fileIfLargerAt: path + ".outgoing", envelopeRecipients: envelope,
            accountAddresses: ["shop@example.com"], now: now, newMessageID: messageID, inMemoryLimit: limit)
        return try upload(body)
    }

    private func fromPieces(_ pieces: AsyncThrowingStream<[UInt8], any Error>, limit: Int, path: String) async throws -> UploadBody? {
        try await SpooledMessage.outgoing(
            pieces: pieces, fileIfLargerAt: path, envelopeRecipients: envelope, accountAddresses: ["shop@example.com"],
            now: now, newMessageID: messageID, inMemoryLimit: limit)?.body
    }

    @Test(arguments: [(1, 1 << 20), (40_000, 1 << 20), (40_000, 1000), (2_000, 1000)])
    func sameBytesAsFromASpoolFile(bodyLines: Int, limit: Int) async throws {
        let bytes = message(bodyLines: bodyLines)
        let expected = try fromFile(bytes, limit: limit)
        for pieceSize in [1_000, 65_536, 262_144] {
            let path = directory + "/out-\(bodyLines)-\(limit)-\(pieceSize)"
            let body = try #require(try await fromPieces(stream(bytes, pieceSize: pieceSize), limit: limit, path: path))
            #expect(try upload(body) == expected, "\(bodyLines) lines, limit \(limit), pieces of \(pieceSize)")
            switch body {
            case .bytes: #expect(bytes.count <= limit, "only a message within the limit goes from memory")
            case .file(let url):
                #expect(bytes.count > limit, "a message within the limit needs no file")
                #expect(url.path == path)
            }
        }
        let sent = String(decoding: expected, as: UTF8.self)
        #expect(sent.contains("Bcc: hidden@example.com\r\n"))
        #expect(sent.contains("From: shop@example.com\r\n"))
    }

    @Test func noPiecesMeansNoBody() async throws {
        guard case .none = try await fromPieces(stream([], pieceSize: 10), limit: 1000, path: directory + "/none") else {
            Issue.record("an empty stream is a missing body, not an empty message")
            return
        }
    }

    @Test func aStoreErrorMidwayThrowsAndLeavesNoFile() async throws {
        let path = directory + "/broken"
        let bytes = message(bodyLines: 40_000)
        await #expect(throws: (any Error).self) {
            _ = try await fromPieces(stream(bytes, pieceSize: 65_536, failAfter: 10), limit: 1000, path: path)
        }
        #expect(!FileManager.default.fileExists(atPath: path), "a half-written upload file is removed")
    }
}
