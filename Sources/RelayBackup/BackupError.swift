#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum BackupError: Error, CustomStringConvertible, Equatable {
    case directoryNotEmpty(path: String, what: String, entries: Int)
    case noDataDirectory(path: String)
    case io(path: String, errno: Int32)
    case notABackup(path: String)
    case unreadableManifest(path: String, reason: String)
    case unsupportedFormat(Int)
    case unsafePath(String)
    case missingFile(String)
    case checksumMismatch(path: String, expectedSize: Int64, actualSize: Int64)
    case keyFileDiffers(path: String)

    public var description: String {
        switch self {
        case .directoryNotEmpty(let path, let what, let entries):
            return "\(what) \(path) is not empty (\(entries) entries); give an empty or missing directory, so nothing is overwritten"
        case .noDataDirectory(let path):
            return "there is no data directory at \(path) (data.dir): nothing to back up"
        case .io(let path, let code):
            return "\(path): \(String(cString: strerror(code)))"
        case .notABackup(let path):
            return "\(path) has no \(BackupManifest.fileName): not a finished gmail-relay backup (an interrupted backup has none)"
        case .unreadableManifest(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .unsupportedFormat(let format):
            return "backup format \(format) is newer than this gmail-relay understands; restore with the version that made it"
        case .unsafePath(let path):
            return "the manifest names \(path), which is not a file a backup holds; refusing the backup"
        case .missingFile(let path):
            return "the backup lacks \(path), which its manifest lists; nothing was restored"
        case .checksumMismatch(let path, let expected, let actual):
            return "\(path) does not match its checksum in the manifest (size \(actual), expected \(expected)): the backup is damaged; nothing was restored"
        case .keyFileDiffers(let path):
            return "the secret key file \(path) already exists and differs from the backup's key; refusing to overwrite it (move it away, or restore the data with it and without the backup's key)"
        }
    }
}
