import Foundation
import StoreModel

/// A message while DATA streams in: its bytes in memory up to `inlineLimit`, past that in a spool file.
///
/// A small message (most CMS mail) is then committed inside the SQLite transaction that records it
/// (`NewMessage.inlineBody`): one durable write for the whole message, where a spool file costs a file
/// sync, a rename and a directory sync before the commit. A large one streams to disk as before, so
/// memory stays bounded however big messages get.
public final class IncomingMessage: @unchecked Sendable {
    /// Messages up to this size are kept in the database.
    public static let defaultInlineLimit = 64 * 1024

    public enum Finished: Sendable, Equatable {
        /// The whole message, to be stored with its row.
        case inline([UInt8])
        /// A spool file in `messages/`, synced, its directory not yet (the group committer does that).
        case file(path: String)
    }

    private let spool: Spool
    private let inlineLimit: Int
    private var buffer: [UInt8] = []
    private var file: SpoolFile?
    public private(set) var bytesWritten = 0
    /// Still all in memory: `finish()` does no I/O.
    public var isInMemory: Bool { file == nil }

    init(spool: Spool, inlineLimit: Int) {
        self.spool = spool
        self.inlineLimit = inlineLimit
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if let file {
            try file.write(bytes)
        } else if buffer.count + bytes.count <= inlineLimit {
            buffer.append(contentsOf: bytes)
        } else {
            // Past the inline size: everything so far and the rest go to a spool file.
            let file = try spool.create()
            self.file = file
            try file.write(buffer)
            buffer = []
            try file.write(bytes)
        }
        bytesWritten += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// The finished message. A spool file is synced and moved into `messages/` (see `SpoolFile.finish`).
    public func finish() throws -> Finished {
        guard let file else { return .inline(buffer) }
        return .file(path: try file.finish(syncingDirectory: false))
    }

    /// Throws the message away (refused, failed, or the client went away).
    public func abandon() {
        file?.abandon()
        buffer = []
    }
}

extension Spool {
    /// A message being received, kept in memory up to `inlineLimit` bytes.
    public func receive(inlineLimit: Int = IncomingMessage.defaultInlineLimit) -> IncomingMessage {
        IncomingMessage(spool: self, inlineLimit: inlineLimit)
    }
}
