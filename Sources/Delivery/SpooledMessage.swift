import Foundation
import GmailAPI
import MessageRewrite

/// Building the message as Gmail gets it from a spooled one, without loading a large message whole.
/// (Intake reads Subject and Message-ID while DATA streams in: Submission's `HeaderCapture`.)
public enum SpooledMessage {
    /// Headers longer than this are not something a CMS sends; the rest is treated as body.
    public static let headerReadLimit = 256 * 1024

    /// The first bytes of the file, enough to hold the header block.
    public static func prefix(path: String, limit: Int = headerReadLimit) throws -> (bytes: [UInt8], isWholeFile: Bool) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CocoaError(.fileReadNoSuchFile) }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: limit + 1) ?? Data()
        let bytes = [UInt8](data.prefix(limit))
        return (bytes, data.count <= limit)
    }

    /// Messages up to this size go to Gmail from memory; larger ones through a file next to the spool
    /// file, so memory stays bounded however large the messages are.
    public static let inMemoryLimit = 1 << 20

    /// The message as Gmail should get it: the rewritten header, a blank line, then the original body.
    /// Small messages are built in memory (no file to create and remove per attempt); larger ones are
    /// written to `outgoingPath`, the body copied in chunks, and the caller removes that file.
    /// `newMessageID` is used only when the message has none; pass the same one on every attempt, so a
    /// retry (or a resend after a crash) carries the same Message-ID and duplicates can be recognised.
    public static func outgoing(
        spoolPath: String, fileIfLargerAt outgoingPath: String, envelopeRecipients: [String], accountAddresses: [String],
        now: Date, newMessageID: String, inMemoryLimit: Int = inMemoryLimit
    ) throws -> (body: UploadBody, rewrite: RewriteResult) {
        let (bytes, whole) = try prefix(path: spoolPath, limit: max(headerReadLimit, inMemoryLimit))
        return try outgoing(
            bytes: bytes, isWholeMessage: whole, spoolPath: spoolPath, fileIfLargerAt: outgoingPath,
            envelopeRecipients: envelopeRecipients, accountAddresses: accountAddresses, now: now,
            newMessageID: newMessageID, inMemoryLimit: inMemoryLimit)
    }

    /// `outgoing` of a message stored in the database (small: always built in memory).
    public static func outgoing(
        inlineBody: [UInt8], envelopeRecipients: [String], accountAddresses: [String], now: Date, newMessageID: String
    ) throws -> (body: UploadBody, rewrite: RewriteResult) {
        try outgoing(
            bytes: inlineBody, isWholeMessage: true, spoolPath: nil, fileIfLargerAt: nil,
            envelopeRecipients: envelopeRecipients, accountAddresses: accountAddresses, now: now,
            newMessageID: newMessageID, inMemoryLimit: max(inMemoryLimit, inlineBody.count))
    }

    /// `outgoing` of a message the store hands over piece by piece (PostgreSQL's chunks): the first
    /// pieces are read until the header window and the in-memory limit are covered; a message larger than
    /// that goes to `outgoingPath`, the rest of the pieces written as they come, so memory stays bounded
    /// by the limit plus one piece. Nil when the store had no body for the message.
    public static func outgoing(
        pieces: AsyncThrowingStream<[UInt8], any Error>, fileIfLargerAt outgoingPath: String, envelopeRecipients: [String],
        accountAddresses: [String], now: Date, newMessageID: String, inMemoryLimit: Int = inMemoryLimit
    ) async throws -> (body: UploadBody, rewrite: RewriteResult)? {
        var iterator = pieces.makeAsyncIterator()
        var bytes: [UInt8] = []
        var whole = false
        var sawPiece = false
        while bytes.count <= max(headerReadLimit, inMemoryLimit) {
            guard let piece = try await iterator.next() else {
                whole = true
                break
            }
            sawPiece = true
            bytes += piece
        }
        guard sawPiece else { return nil }
        let (rewrite, bodyStart) = rewrittenHeader(of: bytes, isWholeMessage: whole, envelopeRecipients: envelopeRecipients,
                                                 accountAddresses: accountAddresses, now: now, newMessageID: newMessageID)
        if whole && bytes.count <= inMemoryLimit {
            return (.bytes(inMemory(rewrite, bytes[bodyStart...])), rewrite)
        }
        let output = try createOutgoing(outgoingPath)
        do {
            defer { try? output.close() }
            try output.write(contentsOf: Data(rewrite.header + [13, 10]))
            try output.write(contentsOf: Data(bytes[bodyStart...]))
            bytes = []
            while let piece = try await iterator.next() {
                try output.write(contentsOf: Data(piece))
            }
        } catch {
            try? FileManager.default.removeItem(atPath: outgoingPath)
            throw error
        }
        return (.file(URL(fileURLWithPath: outgoingPath)), rewrite)
    }

    /// `bytes` are the message's first bytes (all of it when `whole`); a message too large for memory is
    /// finished from `spoolPath` into `outgoingPath`.
    private static func outgoing(
        bytes: [UInt8], isWholeMessage whole: Bool, spoolPath: String?, fileIfLargerAt outgoingPath: String?,
        envelopeRecipients: [String], accountAddresses: [String], now: Date, newMessageID: String, inMemoryLimit: Int
    ) throws -> (body: UploadBody, rewrite: RewriteResult) {
        let (result, bodyStart) = rewrittenHeader(of: bytes, isWholeMessage: whole, envelopeRecipients: envelopeRecipients,
                                                accountAddresses: accountAddresses, now: now, newMessageID: newMessageID)
        if whole && bytes.count <= inMemoryLimit {
            return (.bytes(inMemory(result, bytes[bodyStart...])), result)
        }
        guard let spoolPath, let outgoingPath else { throw CocoaError(.fileReadTooLarge) }
        guard let input = FileHandle(forReadingAtPath: spoolPath) else { throw CocoaError(.fileWriteUnknown) }
        let output = try createOutgoing(outgoingPath)
        defer {
            try? output.close()
            try? input.close()
        }
        try output.write(contentsOf: Data(result.header + [13, 10]))
        try input.seek(toOffset: UInt64(bodyStart))
        while let chunk = try input.read(upToCount: 256 * 1024), !chunk.isEmpty {
            try output.write(contentsOf: chunk)
        }
        return (.file(URL(fileURLWithPath: outgoingPath)), result)
    }

    /// The header rewritten, and where the body starts in `bytes`. The header is looked for in the first
    /// headerReadLimit bytes only, whatever was read.
    private static func rewrittenHeader(
        of bytes: [UInt8], isWholeMessage whole: Bool, envelopeRecipients: [String], accountAddresses: [String], now: Date,
        newMessageID: String
    ) -> (RewriteResult, bodyStart: Int) {
        let headerWindow = Array(bytes.prefix(headerReadLimit))
        let windowIsWhole = whole && bytes.count <= headerReadLimit
        let boundary = splitHeader(headerWindow, isWholeMessage: windowIsWhole)
            ?? HeaderBoundary(headerEnd: headerWindow.count, bodyStart: headerWindow.count)
        let result = rewriteHeader(
            Array(headerWindow[..<boundary.headerEnd]), envelopeRecipients: envelopeRecipients,
            accountAddresses: accountAddresses, now: now, newMessageID: newMessageID)
        return (result, boundary.bodyStart)
    }

    private static func inMemory(_ rewrite: RewriteResult, _ body: ArraySlice<UInt8>) -> Data {
        var message = Data(capacity: rewrite.header.count + 2 + body.count)
        message.append(contentsOf: rewrite.header)
        message.append(contentsOf: [13, 10])
        message.append(contentsOf: body)
        return message
    }

    /// A new file only the relay's user can read (it holds a whole message).
    private static func createOutgoing(_ path: String) throws -> FileHandle {
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        guard let output = FileHandle(forWritingAtPath: path) else { throw CocoaError(.fileWriteUnknown) }
        return output
    }
}
