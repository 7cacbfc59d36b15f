#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Thin wrappers over the syscalls the spool and the key file need; they retry on EINTR
/// and report errno rather than hiding it.
package enum POSIX {
    package static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> (fd: Int32, errno: Int32) {
        while true {
            let fd = open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return (fd, 0) }
            if errno == EINTR { continue }
            return (-1, errno)
        }
    }

    /// fsync, retrying on EINTR. Returns 0 or errno.
    package static func fsyncFD(_ fd: Int32) -> Int32 {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            return errno
        }
        return 0
    }

    /// fdatasync(2): the data and what is needed to read it back (the size), not the times.
    package static func fdatasyncFD(_ fd: Int32) -> Int32 {
        #if os(Linux)
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            return errno
        }
        return 0
        #else
        return fsyncFD(fd)
        #endif
    }

    /// Makes a rename or unlink inside `directory` durable. Returns 0 or errno.
    package static func fsyncDirectory(_ directory: String) -> Int32 {
        let (fd, err) = openFile(directory, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return err }
        defer { close(fd) }
        let result = fsyncFD(fd)
        // Some file systems cannot fsync a directory; there is nothing better to do there.
        return result == EINVAL ? 0 : result
    }

    /// Creates `path` (and missing parents) with mode 0700. An existing directory is left as it is.
    package static func makeDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path {
            try makeDirectory(parent)
        }
        if mkdir(path, 0o700) != 0 {
            let code = errno
            // EEXIST from a concurrent creator is fine; from a file in the way it is not.
            isDirectory = false
            if code == EEXIST, FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                return
            }
            throw StoreError.cannotCreateDirectory(path: path, errno: code == EEXIST ? ENOTDIR : code)
        }
    }

    /// Creates an empty file with mode 0600 unless it exists (an existing file keeps its mode).
    package static func createPrivateFile(_ path: String) throws {
        let (fd, err) = openFile(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd >= 0 { close(fd); return }
        if err != EEXIST { throw StoreError.fileError(path: path, errno: err) }
    }

    /// Writes all of `bytes`, looping on short writes and EINTR. Returns 0 or errno.
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
    }
}
