#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import Foundation

/// File steps of backup and restore: private modes (directories 0700, files 0600, as in the data
/// directory), copies that hash what they write, and checksums.
enum PrivateFiles {
    /// Creates `path` 0700, or takes an existing empty directory and makes it 0700. Anything else is refused.
    static func makeEmptyDirectory(_ path: String, what: String) throws {
        if FileManager.default.fileExists(atPath: path) {
            let entries = try FileManager.default.contentsOfDirectory(atPath: path)
            guard entries.isEmpty else { throw BackupError.directoryNotEmpty(path: path, what: what, entries: entries.count) }
        } else if mkdir(path, 0o700) != 0 {
            throw BackupError.io(path: path, errno: errno)
        }
        guard chmod(path, 0o700) == 0 else { throw BackupError.io(path: path, errno: errno) }
    }

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw BackupError.io(path: path, errno: errno) }
    }

    /// Copies `source` to a new file `destination` (0600, never overwriting), synced; returns its size and SHA-256.
    @discardableResult
    static func copy(_ source: String, to destination: String) throws -> (size: Int64, sha256: String) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BackupError.io(path: source, errno: errno) }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw BackupError.io(path: destination, errno: errno) }
        defer { close(output) }
        var hash = SHA256()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw BackupError.io(path: source, errno: errno) }
            if n == 0 { break }
            var offset = 0
            while offset < n {
                let w = buffer.withUnsafeBytes { write(output, $0.baseAddress! + offset, n - offset) }
                if w < 0 { if errno == EINTR { continue }; throw BackupError.io(path: destination, errno: errno) }
                offset += w
            }
            hash.update(data: buffer[0..<n])
            size += Int64(n)
        }
        guard fsync(output) == 0 else { throw BackupError.io(path: destination, errno: errno) }
        return (size, hex(hash.finalize()))
    }

    static func checksum(_ path: String) throws -> (size: Int64, sha256: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BackupError.io(path: path, errno: ENOENT) }
        defer { try? handle.close() }
        var hash = SHA256()
        var size: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 16), !chunk.isEmpty {
            hash.update(data: chunk)
            size += Int64(chunk.count)
        }
        return (size, hex(hash.finalize()))
    }

    /// Writes `bytes` to a new 0600 file, synced.
    static func writeNew(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackupError.io(path: path, errno: errno) }
        defer { close(fd) }
        var offset = 0
        while offset < bytes.count {
            let w = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if w < 0 { if errno == EINTR { continue }; throw BackupError.io(path: path, errno: errno) }
            offset += w
        }
        guard fsync(fd) == 0 else { throw BackupError.io(path: path, errno: errno) }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
