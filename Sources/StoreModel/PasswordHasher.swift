import Crypto
import _CryptoExtras
import Foundation
import Dispatch

/// SMTP password hashing, stored as PHC-style strings that carry their own parameters:
/// - chosen passwords: scrypt, `$scrypt$ln=15,r=8,p=1$<salt, base64 without padding>$<32-byte hash>`,
///   so the cost can be raised later without invalidating existing credentials (`needsRehash`);
/// - passwords the relay generated (192 random bits): `$sha256$<salt>$<SHA-256 of salt and password>`.
///   A slow KDF protects guessable passwords; nobody can search 2^192 candidates, however fast each is,
///   so a generated password is stored the way the big forges store access tokens, and checking it
///   costs a microsecond instead of 40 ms of CPU on every CMS login.
public struct PasswordHasher: Sendable {
    public struct Parameters: Sendable, Equatable {
        /// log2 of scrypt's N (CPU/memory cost).
        public var logN: Int
        public var r: Int
        public var p: Int

        /// N=2^15, r=8, p=1: about 32 MiB and a few tens of milliseconds per verification.
        public static let standard = Parameters(logN: 15, r: 8, p: 1)
        /// Cheap, for tests only.
        public static let testing = Parameters(logN: 8, r: 8, p: 1)

        /// Bounds applied to parameters read from a stored hash, so a tampered row cannot make one
        /// verification take gigabytes or minutes.
        var isAcceptable: Bool {
            (1...20).contains(logN) && (1...32).contains(r) && (1...16).contains(p)
        }
    }

    public static let minimumPasswordLength = 8
    package static let saltLength = 16
    package static let hashLength = 32

    public var parameters: Parameters

    public init(parameters: Parameters = .standard) {
        self.parameters = parameters
    }

    /// `generated`: the relay made the password with `generatePassword` (fast hash); else scrypt.
    public func hash(_ password: String, generated: Bool = false) throws -> String {
        guard password.count >= Self.minimumPasswordLength else {
            throw StoreError.weakPassword(minimumLength: Self.minimumPasswordLength)
        }
        var salt = [UInt8](repeating: 0, count: Self.saltLength)
        var rng = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = rng.next() }
        if generated {
            return "$sha256$" + base64NoPad(salt) + "$" + base64NoPad(Self.fastDigest(password, salt: salt))
        }
        let derived = try Self.derive(password, salt: salt, parameters: parameters)
        return "$scrypt$ln=\(parameters.logN),r=\(parameters.r),p=\(parameters.p)$"
            + base64NoPad(salt) + "$" + base64NoPad(derived)
    }

    /// Is this a hash that needs no KDF (a generated password's)? Such hashes are verified inline.
    package static func isFast(_ phc: String) -> Bool { phc.hasPrefix("$sha256$") }

    /// An scrypt hash made with other parameters than today's: rewritten after the next successful login.
    package func needsRehash(_ phc: String) -> Bool {
        guard let parsed = Self.parse(phc) else { return false }
        return parsed.parameters != parameters
    }

    /// Constant-time comparison of the derived key; false for any malformed hash string.
    public func verify(_ password: String, against phc: String) -> Bool {
        if Self.isFast(phc) { return Self.verifyFast(password, against: phc) }
        guard let parsed = Self.parse(phc) else { return false }
        guard !password.isEmpty else {
            // Same work, certain refusal.
            _ = try? Self.derive("\0", salt: parsed.salt, parameters: parsed.parameters)
            return false
        }
        guard let derived = try? Self.derive(password, salt: parsed.salt, parameters: parsed.parameters) else {
            return false
        }
        return constantTimeEqual(derived, parsed.hash)
    }

    /// Spends the same work as a verification, for unknown usernames.
    package func dummyVerify(_ password: String) {
        _ = try? Self.derive(password.isEmpty ? "\0" : password,
                             salt: [UInt8](repeating: 0x5a, count: Self.saltLength), parameters: parameters)
    }

    package static func derive(_ password: String, salt: [UInt8], parameters: Parameters) throws -> [UInt8] {
        // swift-crypto's scrypt force-unwraps the password's base address: never pass it "".
        precondition(!password.isEmpty, "scrypt input must not be empty")
        let input = Array(password.utf8)
        let key = try KDF.Scrypt.deriveKey(
            from: input, salt: salt, outputByteCount: hashLength,
            rounds: 1 << parameters.logN, blockSize: parameters.r, parallelism: parameters.p)
        return key.withUnsafeBytes { Array($0) }
    }

    package static func fastDigest(_ password: String, salt: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: salt)
        hasher.update(data: Array(password.utf8))
        return Array(hasher.finalize())
    }

    package static func verifyFast(_ password: String, against phc: String) -> Bool {
        let fields = phc.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0].isEmpty, fields[1] == "sha256",
              let salt = decodeBase64NoPad(fields[2]), salt.count >= 8,
              let hash = decodeBase64NoPad(fields[3]), hash.count == 32
        else { return false }
        return constantTimeEqual(fastDigest(password, salt: salt), hash)
    }

    package struct Parsed {
        package var parameters: Parameters
        package var salt: [UInt8]
        package var hash: [UInt8]
    }

    package static func parse(_ phc: String) -> Parsed? {
        let fields = phc.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0].isEmpty, fields[1] == "scrypt" else { return nil }
        var values: [Substring: Int] = [:]
        for pair in fields[2].split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, let v = Int(kv[1]) else { return nil }
            values[kv[0]] = v
        }
        guard let ln = values["ln"], let r = values["r"], let p = values["p"] else { return nil }
        let parameters = Parameters(logN: ln, r: r, p: p)
        guard parameters.isAcceptable,
              let salt = decodeBase64NoPad(fields[3]), salt.count >= 8,
              let hash = decodeBase64NoPad(fields[4]), hash.count == hashLength
        else { return nil }
        return Parsed(parameters: parameters, salt: salt, hash: hash)
    }

    /// 32 characters from the URL-safe base64 alphabet: 192 bits, safe to paste into any CMS form.
    public static func generatePassword(length: Int = 32) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var rng = SystemRandomNumberGenerator()
        return String((0..<max(length, 24)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }
}

@inline(never)
package func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in a.indices { difference |= a[i] ^ b[i] }
    return difference == 0
}

private func base64NoPad(_ bytes: [UInt8]) -> String {
    var s = Data(bytes).base64EncodedString()
    while s.hasSuffix("=") { s.removeLast() }
    return s
}

private func decodeBase64NoPad(_ s: Substring) -> [UInt8]? {
    var text = String(s)
    while text.count % 4 != 0 { text += "=" }
    return Data(base64Encoded: text).map { Array($0) }
}

/// Runs KDF work on its own threads: a verification takes tens of milliseconds of CPU, which must not
/// stall Swift concurrency's cooperative pool, an event loop, or a Dispatch worker. `width` threads (one
/// per core) take jobs from a queue; a job waiting for its turn holds no thread (an earlier version
/// waited on a semaphore inside Dispatch blocks, and a flood of AUTH attempts then took the threads
/// GRDB's reader queues need). At most `width` run at once, which also bounds scrypt's memory.
package final class KDFRunner: @unchecked Sendable {
    /// One per process: the cores are the process's, whatever number of stores it opens (tests open many).
    package static let shared = KDFRunner()

    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var pendingCount = 0

    package init(width: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)) {
        for index in 0..<width {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "gmail-relay-kdf-\(index)"
            thread.start()
        }
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// `work`, or nil at once when `maxPending` jobs are already waiting or running: a flood of wrong
    /// passwords cannot queue unbounded CPU work ahead of everyone else.
    package func tryRun<T: Sendable>(maxPending: Int, _ work: @escaping @Sendable () -> T) async -> T? {
        await submit(limit: maxPending, work)
    }

    package func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await submit(limit: nil, work)!
    }

    private func submit<T: Sendable>(limit: Int?, _ work: @escaping @Sendable () -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            condition.lock()
            if let limit, pendingCount >= limit {
                condition.unlock()
                continuation.resume(returning: nil)
                return
            }
            pendingCount += 1
            jobs.append { [self] in
                let result = work()
                condition.lock()
                pendingCount -= 1
                condition.unlock()
                continuation.resume(returning: result)
            }
            condition.signal()
            condition.unlock()
        }
    }
}
