import Foundation
import MessageRewrite

/// Reading a spooled message's header without loading the message.
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

    /// Subject (decoded for display) and Message-ID, for the send log.
    public static func summary(path: String) -> (subject: String?, messageID: String?) {
        guard let (bytes, whole) = try? prefix(path: path) else { return (nil, nil) }
        let block = HeaderBlock(messagePrefix: bytes, isWholeMessage: whole)
        return (block.subject.map(EncodedWord.decode), block.messageID)
    }

    /// Writes the message as Gmail should get it: the rewritten header, a blank line, then the original
    /// body copied in chunks (never the whole message in memory). Returns the file and the rewrite.
    /// `newMessageID` is used only when the message has none; pass the same one on every attempt, so a
    /// retry (or a resend after a crash) carries the same Message-ID and duplicates can be recognised.
    public static func writeOutgoing(
        spoolPath: String, to outgoingPath: String, envelopeRecipients: [String], accountAddresses: [String],
        now: Date, newMessageID: String
    ) throws -> RewriteResult {
        let (bytes, whole) = try prefix(path: spoolPath)
        let boundary = splitHeader(bytes, isWholeMessage: whole) ?? HeaderBoundary(headerEnd: bytes.count, bodyStart: bytes.count)
        let result = rewriteHeader(
            Array(bytes[..<boundary.headerEnd]), envelopeRecipients: envelopeRecipients,
            accountAddresses: accountAddresses, now: now,
            newMessageID: newMessageID
        )
        FileManager.default.createFile(atPath: outgoingPath, contents: nil, attributes: [.posixPermissions: 0o600])
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
        return result
    }
}
