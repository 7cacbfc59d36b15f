#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Crypto
import Foundation

/// Encrypts secrets at rest (refresh tokens, service-account private keys) with AES-256-GCM.
///
/// The key lives in its own file (`<data>/secret.key` or `GMAIL_RELAY_SECRET_KEY_FILE`), so a copy of
/// the database alone reveals no secret. The file holds the 32-byte key in base64 (raw 32 bytes are also
/// accepted) and must not be accessible by group or others.
///
/// Sealed format: one version byte (1), then AES-GCM's combined form (12-byte nonce, ciphertext, 16-byte tag).
/// `context` is authenticated but not stored: the store passes the account name, so a secret copied onto
/// another account's row does not decrypt.
// SymmetricKey is not marked Sendable in swift-crypto 3.12, but it is an immutable value; sharing it is safe.
package final class SecretBox: @unchecked Sendable {
    package let keyFile: String?
    private let key: SymmetricKey
    private static let version: UInt8 = 1

    package init(key: SymmetricKey) {
        precondition(key.bitCount == 256, "SecretBox needs a 256-bit key")
        self.key = key
        self.keyFile = nil
    }

    private init(key: SymmetricKey, keyFile: String) {
        self.key = key
        self.keyFile = keyFile
    }

    /// Reads the key file, creating it (mode 0600, new random key) when it does not exist.
    package static func loadOrCreate(keyFile: String) throws -> SecretBox {
        if let box = try load(keyFile: keyFile) { return box }
        try create(keyFile: keyFile)
        guard let box = try load(keyFile: keyFile) else {
            throw StoreError.secretKeyUnreadable(path: keyFile, errno: ENOENT)
        }
        return box
    }

    /// Reads the key file; nil when it does not exist.
    package static func load(keyFile: String) throws -> SecretBox? {
        let (fd, err) = POSIX.openFile(keyFile, O_RDONLY)
        if fd < 0 {
            if err == ENOENT { return nil }
            throw StoreError.secretKeyUnreadable(path: keyFile, errno: err)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw StoreError.secretKeyUnreadable(path: keyFile, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw StoreError.secretKeyInvalid(path: keyFile, reason: "not a regular file")
        }
        // Checked on the opened file, so a chmod between check and read cannot slip through.
        if info.st_mode & 0o077 != 0 {
            throw StoreError.secretKeyTooOpen(path: keyFile, mode: UInt32(info.st_mode))
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StoreError.secretKeyUnreadable(path: keyFile, errno: errno)
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > 4096 { throw StoreError.secretKeyInvalid(path: keyFile, reason: "file is too large") }
        }
        return SecretBox(key: try parseKey(bytes, path: keyFile), keyFile: keyFile)
    }

    package static func parseKey(_ bytes: [UInt8], path: String) throws -> SymmetricKey {
        if bytes.count == 32 { return SymmetricKey(data: bytes) }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let decoded = Data(base64Encoded: text) else {
            throw StoreError.secretKeyInvalid(path: path, reason: "expected 32 bytes in base64")
        }
        guard decoded.count == 32 else {
            throw StoreError.secretKeyInvalid(path: path, reason: "expected a 32-byte key, found \(decoded.count) bytes")
        }
        return SymmetricKey(data: decoded)
    }

    /// Writes a fresh key to a temporary file and links it into place, so two processes starting at
    /// once cannot both create a key: link(2) fails for the loser, which then reads the winner's key.
    private static func create(keyFile: String) throws {
        let key = SymmetricKey(size: .bits256)
        let text = key.withUnsafeBytes { Data($0).base64EncodedString() } + "\n"
        let temporary = keyFile + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let (fd, err) = POSIX.openFile(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw StoreError.secretKeyUnreadable(path: temporary, errno: err) }
        defer { unlink(temporary) }
        var code = POSIX.writeAll(fd, Array(text.utf8))
        if code == 0 { code = POSIX.fsyncFD(fd) }
        close(fd)
        if code != 0 { throw StoreError.secretKeyUnreadable(path: temporary, errno: code) }
        if link(temporary, keyFile) != 0, errno != EEXIST {
            throw StoreError.secretKeyUnreadable(path: keyFile, errno: errno)
        }
        let directory = (keyFile as NSString).deletingLastPathComponent
        _ = POSIX.fsyncDirectory(directory.isEmpty ? "." : directory)
    }

    package func seal(_ plaintext: Data, context: Data = Data()) throws -> Data {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: context)
        // `combined` is nil only for nonces other than 12 bytes; seal uses a fresh 12-byte nonce.
        guard let combined = box.combined else { throw CryptoKitError.incorrectParameterSize }
        return Data([Self.version]) + combined
    }

    /// Throws when the data was altered, the context differs, or it was sealed with another key.
    package func open(_ sealed: Data, context: Data = Data()) throws -> Data {
        guard let first = sealed.first, first == Self.version else {
            throw CryptoKitError.authenticationFailure
        }
        let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
        return try AES.GCM.open(box, using: key, authenticating: context)
    }
}
