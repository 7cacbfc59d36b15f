#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import StoreModel

public enum SpoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// ENOSPC or EDQUOT: the SMTP layer answers 452 and the client retries later.
    case diskFull
    case io(Int32)
    /// `write` or `finish` after the file was finished, abandoned, or failed.
    case notWritable

    public var description: String {
        switch self {
        case .diskFull: return "the spool disk is full"
        case .io(let code): return "spool I/O error: \(String(cString: strerror(code)))"
        case .notWritable: return "the spool file is no longer writable"
        }
    }
}

/// Test hooks that make spool writes fail as a full or broken disk would.
public struct SpoolFaults: Sendable {
    /// Total bytes one spool file may hold; a write past it stores what fits, then fails with ENOSPC.
    public var quotaBytes: Int?
    /// Called before each write(2) with (bytes already written, bytes about to be written);
    /// returning an errno makes that write fail with it.
    public var writeError: (@Sendable (_ offset: Int, _ count: Int) -> Int32?)?

    public init(quotaBytes: Int? = nil, writeError: (@Sendable (_ offset: Int, _ count: Int) -> Int32?)? = nil) {
        self.quotaBytes = quotaBytes
        self.writeError = writeError
    }
}

/// Message bodies on disk, under `<data>/spool/`:
/// `incoming/` holds files being received; `finish()` moves them into `messages/` once complete and synced.
/// A file in `messages/` is referenced by a row in `messages` once the accept transaction commits.
public final class Spool: Sendable {
    public let directory: String
    public let incomingDirectory: String
    public let messagesDirectory: String
    let faults: SpoolFaults

    public init(directory: String, faults: SpoolFaults = SpoolFaults()) throws {
        self.directory = directory
        self.incomingDirectory = directory + "/incoming"
        self.messagesDirectory = directory + "/messages"
        self.faults = faults
        try POSIX.makeDirectory(incomingDirectory)
        try POSIX.makeDirectory(messagesDirectory)
    }

    /// Makes every rename into `messages/` so far durable (see `SpoolFile.finish(syncingDirectory:)`).
    func syncMessagesDirectory() throws {
        let code = POSIX.fsyncDirectory(messagesDirectory)
        if code != 0 { throw spoolError(code) }
    }

    /// Opens a new, empty file in `incoming/` for one message.
    public func create() throws -> SpoolFile {
        let name = UUID().uuidString.lowercased() + ".eml"
        let path = incomingDirectory + "/" + name
        let (fd, err) = POSIX.openFile(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw spoolError(err) }
        return SpoolFile(fd: fd, name: name, incomingPath: path, spool: self)
    }

    /// Removes every file left in `incoming/` (messages whose DATA never completed before a crash).
    /// Call it only at server start, before the listener accepts: it would also remove files in progress.
    @discardableResult
    public func cleanIncoming() -> Int {
        var removed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: incomingDirectory)) ?? [] {
            if unlink(incomingDirectory + "/" + name) == 0 { removed += 1 }
        }
        return removed
    }

    /// Files in `messages/` with their modification time.
    func messageFiles() -> [(name: String, modified: Date)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: messagesDirectory)) ?? []
        return names.compactMap { name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: messagesDirectory + "/" + name)
            guard let modified = attributes?[.modificationDate] as? Date else { return nil }
            return (name, modified)
        }
    }
}

func spoolError(_ code: Int32) -> SpoolError {
    (code == ENOSPC || code == EDQUOT) ? .diskFull : .io(code)
}

/// One message body being received. Not thread-safe: use it from one task or event loop at a time
/// (the SMTP handler writes on its event loop, then hands it to another thread for `finish`).
public final class SpoolFile: @unchecked Sendable {
    private enum State { case open, failed, finished, abandoned }

    /// `<uuid>.eml`
    public let name: String
    public let incomingPath: String
    public private(set) var bytesWritten: Int = 0
    private var fd: Int32
    private var state: State = .open
    private let spool: Spool

    init(fd: Int32, name: String, incomingPath: String, spool: Spool) {
        self.fd = fd
        self.name = name
        self.incomingPath = incomingPath
        self.spool = spool
    }

    deinit {
        abandon()
    }

    /// Appends bytes. A plain write(2) loop: cheap enough for an event loop, which is where it is called.
    /// After a failure the file stays failed; `abandon()` it.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard state == .open else { throw SpoolError.notWritable }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            var count = bytes.count - offset
            if let quota = spool.faults.quotaBytes {
                count = min(count, quota - bytesWritten)
                if count <= 0 { try fail(ENOSPC) }
            }
            if let inject = spool.faults.writeError, let code = inject(bytesWritten, count) {
                try fail(code)
            }
            let n = systemWrite(fd, base + offset, count)
            if n < 0 {
                if errno == EINTR { continue }
                try fail(errno)
            }
            offset += n
            bytesWritten += n
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Makes the file durable and moves it into `messages/`; returns its final path, which the
    /// accept transaction records. Order matters: sync the data, rename, then sync the directory,
    /// so that after a crash `messages/` never holds a partial body.
    ///
    /// `syncingDirectory: false` leaves the last step to the caller, who must call
    /// `Spool.syncMessagesDirectory()` before committing a row that names the file: the group
    /// committer does it once for a whole batch of messages.
    public func finish(syncingDirectory: Bool = true) throws -> String {
        guard state == .open else { throw SpoolError.notWritable }
        let finalPath = spool.messagesDirectory + "/" + name
        // fdatasync: the bytes and the size, not the times, which nobody reads back.
        var code = POSIX.fdatasyncFD(fd)
        if code != 0 {
            abandon()
            throw spoolError(code)
        }
        close(fd)
        fd = -1
        if rename(incomingPath, finalPath) != 0 {
            code = errno
            unlink(incomingPath)
            state = .abandoned
            throw spoolError(code)
        }
        if syncingDirectory {
            code = POSIX.fsyncDirectory(spool.messagesDirectory)
            if code != 0 {
                unlink(finalPath)
                state = .abandoned
                throw spoolError(code)
            }
        }
        state = .finished
        return finalPath
    }

    /// Closes and removes the file. Idempotent; does nothing after `finish()` succeeded.
    public func abandon() {
        guard state == .open || state == .failed else { return }
        if fd >= 0 {
            close(fd)
            fd = -1
        }
        unlink(incomingPath)
        state = .abandoned
    }

    private func fail(_ code: Int32) throws -> Never {
        state = .failed
        throw spoolError(code)
    }
}

// Inside SpoolFile, `write` names its own methods.
@inline(__always)
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
