import Foundation
import XCTest
@testable import RelayStore

final class CredentialTests: XCTestCase {
    func testAddVerifyAndRemove() async throws {
        let clock = TestClock()
        let store = try openStore(makeTemporaryDirectory(self), clock: clock)
        try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
        try await store.addCredential(username: "wp-site@example.org", account: "main", password: "s3cret-passw0rd")

        let ok = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rd")
        XCTAssertEqual(ok, VerifiedCredential(username: "wp-site@example.org", accountID: ok?.accountID ?? -1,
                                              account: "main", kind: .oauthUser, state: .ok))
        let wrong = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rD")
        XCTAssertNil(wrong)
        let empty = try await store.verifiedLogin(username: "wp-site@example.org", password: "")
        XCTAssertNil(empty)
        let unknown = try await store.verifiedLogin(username: "nobody", password: "s3cret-passw0rd")
        XCTAssertNil(unknown)
        let malformed = try await store.verifiedLogin(username: "bad user\r\n", password: "s3cret-passw0rd")
        XCTAssertNil(malformed)

        let list = try await store.credentials()
        XCTAssertEqual(list, [Credential(username: "wp-site@example.org", account: "main", createdAt: clock.now, lastUsedAt: clock.now)])
        // Refreshed at most once a minute.
        let firstUse = clock.now
        clock.advance(30)
        _ = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rd")
        var lastUsed = try await store.credentials().first?.lastUsedAt
        XCTAssertEqual(lastUsed, firstUse)
        clock.advance(31)
        _ = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rd")
        lastUsed = try await store.credentials().first?.lastUsedAt
        XCTAssertEqual(lastUsed, clock.now)

        try await store.removeCredential(username: "wp-site@example.org")
        let afterRemoval = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rd")
        XCTAssertNil(afterRemoval)
        await assertThrows(.unknownCredential("wp-site@example.org")) {
            try await store.removeCredential(username: "wp-site@example.org")
        }
    }

    func testHashStringCarriesParametersAndNeverThePassword() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox)
        let password = "hunter2-hunter2"
        try await store.addCredential(username: "site1", account: "main", password: password)
        let hash = try await XCTUnwrapAsync(await store.passwordHash(username: "site1"))
        XCTAssertFalse(hash.contains(password))
        XCTAssertFalse(hash.contains("hunter2"))
        XCTAssertTrue(hash.hasPrefix("$scrypt$ln=8,r=8,p=1$"), hash)
        let parsed = try XCTUnwrap(PasswordHasher.parse(hash))
        XCTAssertEqual(parsed.salt.count, 16)
        XCTAssertEqual(parsed.hash.count, 32)

        // Same password again: a different salt, so a different string.
        try await store.addCredential(username: "site2", account: "main", password: password)
        let second = try await XCTUnwrapAsync(await store.passwordHash(username: "site2"))
        XCTAssertNotEqual(hash, second)
    }

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

    func testCredentialRules() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox)
        try await store.addCredential(username: "site+blog@example.org", account: "main", password: "long-enough")
        await assertThrows(.duplicateCredential("site+blog@example.org")) {
            try await store.addCredential(username: "site+blog@example.org", account: "main", password: "another-one")
        }
        await assertThrows(.unknownAccount("ghost")) {
            try await store.addCredential(username: "site2", account: "ghost", password: "long-enough")
        }
        for bad in ["", "with space", "colon:x", String(repeating: "u", count: 65), "nul\u{0}"] {
            await assertThrows(.invalidUsername(bad)) {
                try await store.addCredential(username: bad, account: "main", password: "long-enough")
            }
        }
        await assertThrows(.weakPassword(minimumLength: 8)) {
            try await store.addCredential(username: "site3", account: "main", password: "short")
        }
        let count = try await store.credentials().count
        XCTAssertEqual(count, 1)
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

    func testConcurrentVerificationsAllSucceed() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox)
        try await store.addCredential(username: "site1", account: "main", password: "right-password")
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<16 {
                group.addTask {
                    try await store.verifiedLogin(username: "site1", password: i % 2 == 0 ? "right-password" : "wrong") != nil
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        XCTAssertEqual(results.filter { $0 }.count, 8)
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

    func testAVerifiedLoginIsCachedAndAChangedOrRemovedLoginStopsAtOnce() async throws {
        let dir = makeTemporaryDirectory(self)
        let store = try openStore(dir)
        try await store.addAccount(name: "main", kind: .sandbox)
        try await store.addCredential(username: "site1", account: "main", password: "chosen-password-1")
        let first = try await store.verifiedLogin(username: "site1", password: "chosen-password-1")
        XCTAssertNotNil(first)
        XCTAssertEqual(slowChecks(store), 1)
        for _ in 0..<5 {
            let again = try await store.verifiedLogin(username: "site1", password: "chosen-password-1")
            XCTAssertNotNil(again)
        }
        XCTAssertEqual(slowChecks(store), 1, "later logins come from the cache")

        // Another process (the CLI) removes the login and adds it again with a new password.
        let cli = try openStore(dir)
        try await cli.removeCredential(username: "site1")
        let afterRemoval = try await store.verifiedLogin(username: "site1", password: "chosen-password-1")
        XCTAssertNil(afterRemoval, "a removed login stops working at once")
        try await cli.addCredential(username: "site1", account: "main", password: "chosen-password-2")
        let oldPassword = try await store.verifiedLogin(username: "site1", password: "chosen-password-1")
        XCTAssertNil(oldPassword, "the old password of a changed login stops working at once")
        let newPassword = try await store.verifiedLogin(username: "site1", password: "chosen-password-2")
        XCTAssertNotNil(newPassword)
    }

    func testAWrongPasswordIsNeverCached() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox)
        try await store.addCredential(username: "site1", account: "main", password: "chosen-password-1")
        for attempt in 1...3 {
            let wrong = try await store.verifiedLogin(username: "site1", password: "wrong-password")
            XCTAssertNil(wrong)
            XCTAssertEqual(slowChecks(store), attempt, "every wrong password costs a full check")
        }
        let unknown = try await store.verifiedLogin(username: "nobody", password: "chosen-password-1")
        XCTAssertNil(unknown)
        XCTAssertEqual(slowChecks(store), 4, "an unknown username costs the same")
    }

    func testGeneratedPasswordsAreCheckedWithoutTheSlowHash() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox)
        let password = RelayStore.generatePassword()
        try await store.addCredential(username: "site2", account: "main", password: password, generated: true)
        let stored = try await store.pool.read { try String.fetchOne($0, sql: "SELECT password_hash FROM credentials") }
        XCTAssertTrue(stored?.hasPrefix("$sha256$") == true, stored ?? "")
        XCTAssertFalse(stored?.contains(password) ?? true)
        let ok = try await store.verifiedLogin(username: "site2", password: password)
        XCTAssertNotNil(ok)
        let wrong = try await store.verifiedLogin(username: "site2", password: password + "x")
        XCTAssertNil(wrong)
        XCTAssertEqual(slowChecks(store), 0)
    }

    func testOldHashesStillVerifyAndAreUpgradedOnLogin() async throws {
        let store = try openStore(makeTemporaryDirectory(self))  // today's parameters: .testing (ln=8)
        try await store.addAccount(name: "main", kind: .sandbox)
        try await store.addCredential(username: "site1", account: "main", password: "placeholder-1")
        let old = try PasswordHasher(parameters: PasswordHasher.Parameters(logN: 9, r: 8, p: 1)).hash("old-password-1")
        try await store.pool.write { try $0.execute(sql: "UPDATE credentials SET password_hash = ?", arguments: [old]) }
        let ok = try await store.verifiedLogin(username: "site1", password: "old-password-1")
        XCTAssertNotNil(ok, "a hash made with other parameters still verifies")
        let upgraded = try await store.pool.read { try String.fetchOne($0, sql: "SELECT password_hash FROM credentials") }
        XCTAssertTrue(upgraded?.hasPrefix("$scrypt$ln=8,r=8,p=1$") == true, upgraded ?? "")
        XCTAssertNotEqual(upgraded, old)
        let afterUpgrade = try await store.verifiedLogin(username: "site1", password: "old-password-1")
        XCTAssertNotNil(afterUpgrade)
        let wrong = try await store.verifiedLogin(username: "site1", password: "old-password-2")
        XCTAssertNil(wrong)
    }

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
