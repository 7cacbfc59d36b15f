import Foundation
import XCTest
@testable import RelayStore
@testable import StoreModel

final class CredentialTests: XCTestCase {

    func testStandardParametersAndKnownVector() throws {
        let hasher = PasswordHasher()
        XCTAssertEqual(hasher.parameters, PasswordHasher.Parameters(logN: 15, r: 8, p: 1))
        let hash = try hasher.hash("correct horse battery")
        XCTAssertTrue(hash.hasPrefix("$scrypt$ln=15,r=8,p=1$"), hash)
        XCTAssertTrue(hasher.verify("correct horse battery", against: hash))
        XCTAssertFalse(hasher.verify("correct horse battery ", against: hash))

        // RFC 7914 section 12, second vector (P="password", S="NaCl", N=1024, r=8, p=16), first 32 bytes:
        // proves the string format maps onto real scrypt, so other tools can check our hashes.
        let salt = Data("NaCl".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
        let expected = Data([0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00, 0x78, 0x56, 0xe7, 0x19, 0x0d, 0x01, 0xe9, 0xfe,
                             0x7c, 0x6a, 0xd7, 0xcb, 0xc8, 0x23, 0x78, 0x30, 0xe7, 0x73, 0x76, 0x63, 0x4b, 0x37, 0x31, 0x62])
            .base64EncodedString().replacingOccurrences(of: "=", with: "")
        let vector = "$scrypt$ln=10,r=8,p=16$\(salt)$\(expected)"
        // The salt is shorter than we generate, which parse() refuses (minimum 8 bytes); check the KDF directly.
        XCTAssertNil(PasswordHasher.parse(vector))
        let derived = try PasswordHasher.derive("password", salt: Array("NaCl".utf8), parameters: .init(logN: 10, r: 8, p: 16))
        XCTAssertEqual(Data(derived).base64EncodedString().replacingOccurrences(of: "=", with: ""), expected)
    }

    func testMalformedOrAbusiveHashStringsDoNotVerify() {
        let hasher = PasswordHasher(parameters: .testing)
        let salt = "AAAAAAAAAAAAAAAAAAAAAA"
        let hash = String(repeating: "A", count: 43)
        for phc in [
            "", "plain", "$scrypt$", "$pbkdf2$ln=8,r=8,p=1$\(salt)$\(hash)",
            "$scrypt$ln=8,r=8$\(salt)$\(hash)", "$scrypt$ln=x,r=8,p=1$\(salt)$\(hash)",
            "$scrypt$ln=40,r=8,p=1$\(salt)$\(hash)", // would need terabytes
            "$scrypt$ln=8,r=8,p=1$\(salt)$AAAA",      // wrong hash length
            "$scrypt$ln=8,r=8,p=1$!!!$\(hash)",
        ] {
            XCTAssertFalse(hasher.verify("whatever-password", against: phc), phc)
            XCTAssertNil(PasswordHasher.parse(phc), phc)
        }
    }

    func testUnknownUsernameCostsAboutAsMuchAsAWrongPassword() async throws {
        // Real cost, so the difference would show: no KDF for unknown users would take ~0 ms.
        let store = try openStore(makeTemporaryDirectory(self), hashing: .init(logN: 13, r: 8, p: 1))
        try await store.addAccount(name: "main", kind: .sandbox)
        try await store.addCredential(username: "site1", account: "main", password: "right-password")

        func median(_ body: () async throws -> Void) async rethrows -> Double {
            var samples: [Double] = []
            for _ in 0..<5 {
                let start = DispatchTime.now().uptimeNanoseconds
                try await body()
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - start))
            }
            return samples.sorted()[2]
        }
        let wrong = try await median { _ = try await store.verifiedLogin(username: "site1", password: "wrong-password") }
        let unknown = try await median { _ = try await store.verifiedLogin(username: "nobody", password: "wrong-password") }
        XCTAssertGreaterThan(unknown, wrong * 0.4, "unknown: \(unknown) ns, wrong password: \(wrong) ns")
    }

    func testGeneratedPasswords() {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var seen = Set<String>()
        for _ in 0..<200 {
            let password = RelayStore.generatePassword()
            XCTAssertGreaterThanOrEqual(password.count, 24)
            XCTAssertTrue(password.allSatisfy(alphabet.contains), password)
            seen.insert(password)
        }
        XCTAssertEqual(seen.count, 200)
        XCTAssertEqual(PasswordHasher.generatePassword(length: 4).count, 24, "never shorter than 24")
        // Every symbol shows up: the generator uses the whole alphabet.
        let many = (0..<100).map { _ in RelayStore.generatePassword() }.joined()
        XCTAssertEqual(Set(many), alphabet)
    }
}

/// The fast paths of AUTH (issue: authenticated submission at CMS pace): the verified-login cache and
/// the fast hash of generated passwords, and that neither weakens what a login check means.
final class LoginCacheTests: XCTestCase {
    func slowChecks(_ store: RelayStore) -> Int { store.slowChecks.withLock { $0 } }

    func testTheCacheIsBoundedInSizeAndTime() {
        let cache = VerifiedLoginCache(capacity: 10, lifetime: 60)
        let now = Date()
        for index in 0..<25 {
            cache.insert(username: "user\(index)", password: "pw", storedHash: "h", now: now.addingTimeInterval(Double(index)))
            XCTAssertLessThanOrEqual(cache.count, 10)
        }
        XCTAssertTrue(cache.contains(username: "user24", password: "pw", storedHash: "h", now: now.addingTimeInterval(30)))
        XCTAssertFalse(cache.contains(username: "user24", password: "other", storedHash: "h", now: now.addingTimeInterval(30)))
        XCTAssertFalse(cache.contains(username: "user24", password: "pw", storedHash: "changed", now: now.addingTimeInterval(30)))
        cache.insert(username: "user23", password: "pw", storedHash: "h", now: now)
        XCTAssertFalse(cache.contains(username: "user23", password: "pw", storedHash: "h", now: now.addingTimeInterval(61)),
                       "an entry lives `lifetime` at most")
    }

    func testSlowChecksPastTheCapAreRefusedWithoutWork() async {
        let refused = await KDFRunner.shared.tryRun(maxPending: 0) { true }
        XCTAssertNil(refused)
        let admitted = await KDFRunner.shared.tryRun(maxPending: 1) { true }
        XCTAssertEqual(admitted, true)
    }
}
