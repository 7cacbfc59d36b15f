import Foundation
import RelayVocabulary
import Testing
@testable import RelayStore
@testable import StoreModel

/// SMTP logins through the store API (CredentialStore), on every store: adding, checking, the
/// verified-login cache and the fast hash of generated passwords, removal, daily limits.
@Suite struct CredentialContractTests {
    @Test(arguments: StoreKind.allCases)
    func addVerifyAndRemove(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            try await store.addCredential(username: "wp-site@example.org", account: "main", password: "s3cret-passw0rd")

            let ok = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rd")
            #expect(ok == VerifiedCredential(username: "wp-site@example.org", accountID: ok?.accountID ?? -1,
                                                  account: "main", kind: .oauthUser, state: .ok))
            let wrong = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rD")
            #expect(wrong == nil)
            let empty = try await store.verifiedLogin(username: "wp-site@example.org", password: "")
            #expect(empty == nil)
            let unknown = try await store.verifiedLogin(username: "nobody", password: "s3cret-passw0rd")
            #expect(unknown == nil)
            let malformed = try await store.verifiedLogin(username: "bad user\r\n", password: "s3cret-passw0rd")
            #expect(malformed == nil)

            let list = try await store.credentials()
            #expect(list == [Credential(username: "wp-site@example.org", account: "main", createdAt: clock.now, lastUsedAt: clock.now)])
            // Refreshed at most once a minute.
            let firstUse = clock.now
            clock.advance(30)
            _ = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rd")
            var lastUsed = try await store.credentials().first?.lastUsedAt
            #expect(lastUsed == firstUse)
            clock.advance(31)
            _ = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rd")
            lastUsed = try await store.credentials().first?.lastUsedAt
            #expect(lastUsed == clock.now)

            try await store.removeCredential(username: "wp-site@example.org")
            let afterRemoval = try await store.verifiedLogin(username: "wp-site@example.org", password: "s3cret-passw0rd")
            #expect(afterRemoval == nil)
            await #expect(throws: StoreError.unknownCredential("wp-site@example.org")) {
                try await store.removeCredential(username: "wp-site@example.org")
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func hashStringCarriesParametersAndNeverThePassword(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            let password = "hunter2-hunter2"
            try await store.addCredential(username: "site1", account: "main", password: password)
            let hash = try #require(await store.probe.passwordHash(username: "site1"))
            #expect(!hash.contains(password))
            #expect(!hash.contains("hunter2"))
            #expect(hash.hasPrefix("$scrypt$ln=8,r=8,p=1$"), "\(hash)")
            let parsed = try #require(PasswordHasher.parse(hash))
            #expect(parsed.salt.count == 16)
            #expect(parsed.hash.count == 32)

            // Same password again: a different salt, so a different string.
            try await store.addCredential(username: "site2", account: "main", password: password)
            let second = try #require(await store.probe.passwordHash(username: "site2"))
            #expect(hash != second)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func credentialRules(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            try await store.addCredential(username: "site+blog@example.org", account: "main", password: "long-enough")
            await #expect(throws: StoreError.duplicateCredential("site+blog@example.org")) {
                try await store.addCredential(username: "site+blog@example.org", account: "main", password: "another-one")
            }
            await #expect(throws: StoreError.unknownAccount("ghost")) {
                try await store.addCredential(username: "site2", account: "ghost", password: "long-enough")
            }
            for bad in ["", "with space", "colon:x", String(repeating: "u", count: 65), "nul\u{0}"] {
                await #expect(throws: StoreError.invalidUsername(bad)) {
                    try await store.addCredential(username: bad, account: "main", password: "long-enough")
                }
            }
            await #expect(throws: StoreError.weakPassword(minimumLength: 8)) {
                try await store.addCredential(username: "site3", account: "main", password: "short")
            }
            let count = try await store.credentials().count
            #expect(count == 1)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentVerificationsAllSucceed(kind: StoreKind) async throws {
        try await withStore(kind) { store in
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
            #expect(results.filter { $0 }.count == 8)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aVerifiedLoginIsCachedAndAChangedOrRemovedLoginStopsAtOnce(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            try await store.addCredential(username: "site1", account: "main", password: "chosen-password-1")
            let first = try await store.verifiedLogin(username: "site1", password: "chosen-password-1")
            #expect(first != nil)
            #expect(store.probe.slowChecks() == 1)
            for _ in 0..<5 {
                let again = try await store.verifiedLogin(username: "site1", password: "chosen-password-1")
                #expect(again != nil)
            }
            #expect(store.probe.slowChecks() == 1, "later logins come from the cache")

            // Another process (the CLI) removes the login and adds it again with a new password.
            let cli = try await store.openAnother(nil)
            try await cli.removeCredential(username: "site1")
            let afterRemoval = try await store.verifiedLogin(username: "site1", password: "chosen-password-1")
            #expect(afterRemoval == nil, "a removed login stops working at once")
            try await cli.addCredential(username: "site1", account: "main", password: "chosen-password-2")
            let oldPassword = try await store.verifiedLogin(username: "site1", password: "chosen-password-1")
            #expect(oldPassword == nil, "the old password of a changed login stops working at once")
            let newPassword = try await store.verifiedLogin(username: "site1", password: "chosen-password-2")
            #expect(newPassword != nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aWrongPasswordIsNeverCached(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            try await store.addCredential(username: "site1", account: "main", password: "chosen-password-1")
            for attempt in 1...3 {
                let wrong = try await store.verifiedLogin(username: "site1", password: "wrong-password")
                #expect(wrong == nil)
                #expect(store.probe.slowChecks() == attempt, "every wrong password costs a full check")
            }
            let unknown = try await store.verifiedLogin(username: "nobody", password: "chosen-password-1")
            #expect(unknown == nil)
            #expect(store.probe.slowChecks() == 4, "an unknown username costs the same")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func generatedPasswordsAreCheckedWithoutTheSlowHash(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            let password = PasswordHasher.generatePassword()
            try await store.addCredential(username: "site2", account: "main", password: password, generated: true)
            let stored = try await store.probe.passwordHash(username: "site2")
            #expect(stored?.hasPrefix("$sha256$") == true, "\(stored ?? "")")
            #expect(!(stored?.contains(password) ?? true))
            let ok = try await store.verifiedLogin(username: "site2", password: password)
            #expect(ok != nil)
            let wrong = try await store.verifiedLogin(username: "site2", password: password + "x")
            #expect(wrong == nil)
            #expect(store.probe.slowChecks() == 0)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func oldHashesStillVerifyAndAreUpgradedOnLogin(kind: StoreKind) async throws {
        try await withStore(kind) { store in  // today's parameters: .testing (ln=8)
            try await store.addAccount(name: "main", kind: .sandbox)
            try await store.addCredential(username: "site1", account: "main", password: "placeholder-1")
            let old = try PasswordHasher(parameters: PasswordHasher.Parameters(logN: 9, r: 8, p: 1)).hash("old-password-1")
            try await store.probe.replacePasswordHashes(with: old)
            let ok = try await store.verifiedLogin(username: "site1", password: "old-password-1")
            #expect(ok != nil, "a hash made with other parameters still verifies")
            let upgraded = try await store.probe.passwordHash(username: "site1")
            #expect(upgraded?.hasPrefix("$scrypt$ln=8,r=8,p=1$") == true, "\(upgraded ?? "")")
            #expect(upgraded != old)
            let afterUpgrade = try await store.verifiedLogin(username: "site1", password: "old-password-1")
            #expect(afterUpgrade != nil)
            let wrong = try await store.verifiedLogin(username: "site1", password: "old-password-2")
            #expect(wrong == nil)
        }
    }

    /// A login's daily limit: set, changed, removed, refused when negative or for an unknown login; each
    /// change an event of the account; the count is the login's messages since 00:00 UTC by the store's
    /// clock, whatever their status, and only the login's own.
    @Test(arguments: StoreKind.allCases)
    func dailyLimitAndUsageCountFromMidnightUTC(kind: StoreKind) async throws {
        // 2025-06-15T23:00:00Z: an hour before midnight.
        let clock = TestClock(Date(timeIntervalSince1970: 1_750_028_400))
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            try await store.addCredential(username: "site1", account: "main", password: "long-enough")
            try await store.addCredential(username: "site2", account: "main", password: "long-enough")
            let today = Date(timeIntervalSince1970: 1_749_945_600)  // 2025-06-15T00:00:00Z

            var usage = try await store.dailyUsage(username: "site1")
            #expect(usage == DailyUsage(limit: nil, count: 0, since: today))
            #expect(!usage.isExhausted)

            try await store.setCredentialDailyLimit(username: "site1", limit: 2)
            _ = try await store.accept(spoolMessage(store, credentialUsername: "site1"))
            let sending = try await store.accept(spoolMessage(store, status: .sending, credentialUsername: "site1"))
            try await store.finish(sending, .failed(problemCode: .messageRejected, detail: "rejected"))
            _ = try await store.accept(spoolMessage(store, credentialUsername: "site2"))
            _ = try await store.accept(spoolMessage(store, credentialUsername: nil))
            usage = try await store.dailyUsage(username: "site1")
            #expect(usage == DailyUsage(limit: 2, count: 2, since: today), "a failed message still counts; other logins' do not")
            #expect(usage.isExhausted)
            #expect(usage.resetsAt == today.addingTimeInterval(86_400))
            #expect(try await store.dailyUsage(username: "site2") == DailyUsage(limit: nil, count: 1, since: today))

            let listed = try #require(try await store.credential(username: "site1"))
            #expect(listed.dailyLimit == 2)
            #expect(listed.sentToday == 2)
            #expect(try await store.credentials().map(\.sentToday) == [2, 1])

            // Past midnight UTC the count starts again; the limit stays.
            clock.advance(3600)
            usage = try await store.dailyUsage(username: "site1")
            #expect(usage == DailyUsage(limit: 2, count: 0, since: today.addingTimeInterval(86_400)))
            #expect(try await store.credential(username: "site1")?.sentToday == 0)

            try await store.setCredentialDailyLimit(username: "site1", limit: 0)
            #expect(try await store.dailyUsage(username: "site1").isExhausted, "a limit of 0 refuses the first message")
            try await store.setCredentialDailyLimit(username: "site1", limit: nil)
            #expect(try await store.dailyUsage(username: "site1").limit == nil)
            #expect(try await store.credential(username: "site1")?.dailyLimit == nil)

            await #expect(throws: StoreError.invalidDailyLimit(-1)) {
                try await store.setCredentialDailyLimit(username: "site1", limit: -1)
            }
            await #expect(throws: StoreError.unknownCredential("nobody")) {
                try await store.setCredentialDailyLimit(username: "nobody", limit: 1)
            }
            let changes = try await store.events(account: "main").filter { $0.kind == .credentialUpdated }.map(\.detail)
            #expect(changes == [
                "SMTP username site1: no daily limit", "SMTP username site1: daily limit 0", "SMTP username site1: daily limit 2",
            ])
            // A login that is gone has no limit and no count.
            #expect(try await store.dailyUsage(username: "nobody") == DailyUsage(limit: nil, count: 0, since: today.addingTimeInterval(86_400)))
        }
    }

    /// The login a verified check returns carries its daily limit, and one login, listed alone, is as in
    /// the list; an unknown one is nil.
    @Test(arguments: StoreKind.allCases)
    func aVerifiedLoginCarriesItsLimitAndOneLoginReadsAsListed(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            try await store.addCredential(username: "site1", account: "main", password: "long-enough")
            try await store.setCredentialDailyLimit(username: "site1", limit: 7)
            let login = try #require(try await store.verifiedLogin(username: "site1", password: "long-enough"))
            #expect(login.dailyLimit == 7)
            #expect(login.account == "main")
            let one = try await store.credential(username: "site1")
            #expect(one == Credential(username: "site1", account: "main", createdAt: clock.now, lastUsedAt: clock.now, dailyLimit: 7, sentToday: 0))
            #expect(try await store.credentials() == [one].compactMap { $0 })
            #expect(try await store.credential(username: "nobody") == nil)
        }
    }
}
