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

    /// `bytes` are the message's first bytes (all of it when `whole`); a message too large for memory is
    /// finished from `spoolPath` into `outgoingPath`.
    private static func outgoing(
        bytes: [UInt8], isWholeMessage whole: Bool, spoolPath: String?, fileIfLargerAt outgoingPath: String?,
        envelopeRecipients: [String], accountAddresses: [String], now: Date, newMessageID: String, inMemoryLimit: Int
    ) throws -> (body: UploadBody, rewrite: RewriteResult) {
        // The header is looked for in the first headerReadLimit bytes only, whatever was read.
        let headerWindow = Array(bytes.prefix(headerReadLimit))
        let windowIsWhole = whole && bytes.count <= headerReadLimit
        let boundary = splitHeader(headerWindow, isWholeMessage: windowIsWhole)
            ?? HeaderBoundary(headerEnd: headerWindow.count, bodyStart: headerWindow.count)
        let result = rewriteHeader(
            Array(headerWindow[..<boundary.headerEnd]), envelopeRecipients: envelopeRecipients,
            accountAddresses: accountAddresses, now: now,
            newMessageID: newMessageID
        )
        if whole && bytes.count <= inMemoryLimit {
            var message = Data(capacity: result.header.count + 2 + bytes.count - boundary.bodyStart)
            message.append(contentsOf: result.header)
            message.append(contentsOf: [13, 10])
            message.append(contentsOf: bytes[boundary.bodyStart...])
            return (.bytes(message), result)
        }
        guard let spoolPath, let outgoingPath else { throw CocoaError(.fileReadTooLarge) }
        _ = FileManager.default.createFile(atPath: outgoingPath, contents: nil, attributes: [.posixPermissions: 0o600])
        guard let output = FileHandle(forWritingAtPath: outgoingPath), let input = FileHandle(forReadingAtPath: spoolPath) else {
            throw CocoaError(.fileWriteUnknown)
        }
        defer {
            try? output.close()
            try? input.close()
        }
        try output.write(contentsOf: Data(result.header + [13, 10]))
        try input.seek(toOffset: UInt64(boundary.bodyStart))
        while let chunk = try input.read(upToCount: 256 * 1024), !chunk.isEmpty {
            try output.write(contentsOf: chunk)
        }
        return (.file(URL(fileURLWithPath: outgoingPath)), result)
    }
}
