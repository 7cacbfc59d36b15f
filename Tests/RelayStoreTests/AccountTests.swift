import Foundation
import GRDB
import RelayVocabulary
import XCTest
@testable import RelayStore

final class AccountTests: XCTestCase {
    func testAddReadAndList() async throws {
        let clock = TestClock()
        let store = try openStore(makeTemporaryDirectory(self), clock: clock)
        let added = try await store.addAccount(
            name: "shop", kind: .serviceAccount, fromAddresses: ["noreply@shop.example", "Sales@shop.example", "sales@SHOP.example"],
            state: .ok)
        XCTAssertEqual(added.name, "shop")
        XCTAssertEqual(added.kind, .serviceAccount)
        // Duplicates (case-insensitively) are dropped; the first address stays primary.
        XCTAssertEqual(added.fromAddresses, ["noreply@shop.example", "Sales@shop.example"])
        XCTAssertEqual(added.primaryAddress, "noreply@shop.example")
        XCTAssertEqual(added.state, .ok)
        XCTAssertFalse(added.hasSecret)
        XCTAssertEqual(added.createdAt, clock.now)

        try await store.addAccount(name: "blog", kind: .sandbox)
        let fetched = try await store.account(named: "shop")
        XCTAssertEqual(fetched, added)
        let none = try await store.account(named: "nope")
        XCTAssertNil(none)
        let names = try await store.accounts().map(\.name)
        XCTAssertEqual(names, ["blog", "shop"])
        let blog = try await store.account(named: "blog")
        XCTAssertEqual(blog?.state, .unconfigured)
        XCTAssertEqual(blog?.fromAddresses, [])

        let history = try await store.events(account: "shop")
        XCTAssertEqual(history.map(\.kind.rawValue), ["account_added"])
    }

    func testNameRules() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        let valid = ["a", "main", "shop.example-com_2", String(repeating: "x", count: 64)]
        for name in valid {
            try await store.addAccount(name: name, kind: .sandbox)
        }
        let invalid = ["", "has space", "semi;colon", "über", "a@b", String(repeating: "x", count: 65), "slash/x", "new\nline"]
        for name in invalid {
            await assertThrows(.invalidAccountName(name)) { try await store.addAccount(name: name, kind: .sandbox) }
        }
        await assertThrows(.invalidAddress("not an address")) {
            try await store.addAccount(name: "bad-from", kind: .sandbox, fromAddresses: ["not an address"])
        }
        await assertThrows(.invalidAddress("<a@b.c>")) {
            try await store.addAccount(name: "bad-from", kind: .sandbox, fromAddresses: ["<a@b.c>"])
        }
        let stored = try await store.accounts().count
        XCTAssertEqual(stored, valid.count)
    }

    func testDuplicateAccountIsRefusedClearly() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox)
        await assertThrows(.duplicateAccount("main")) { try await store.addAccount(name: "main", kind: .oauthUser) }
        XCTAssertEqual(StoreError.duplicateAccount("main").description, "an account named 'main' already exists")
        let count = try await store.accounts().count
        XCTAssertEqual(count, 1)
    }

    func testStateChangesAreRecordedOnceAndSuccessClearsTheProblem() async throws {
        let clock = TestClock()
        let store = try openStore(makeTemporaryDirectory(self), clock: clock)
        try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
        clock.advance(10)
        try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked, detail: ProblemDetail(googleMessage: "Token has been expired or revoked."))
        try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked, detail: ProblemDetail(googleMessage: "Token has been expired or revoked."))
        var account = try await XCTUnwrapAsync(await store.account(named: "main"))
        XCTAssertEqual(account.state, .needsReauth)
        XCTAssertEqual(account.problemCode, .grantRevoked)
        XCTAssertEqual(account.problemDetail?.googleMessage, "Token has been expired or revoked.")
        XCTAssertEqual(account.updatedAt, clock.now)

        clock.advance(10)
        try await store.recordSuccess(account: "main")
        account = try await XCTUnwrapAsync(await store.account(named: "main"))
        XCTAssertEqual(account.state, .ok)
        XCTAssertNil(account.problemCode)
        XCTAssertNil(account.problemDetail)
        XCTAssertEqual(account.lastSuccessAt, clock.now)

        let kinds = try await store.events(account: "main").map(\.kind.rawValue)
        XCTAssertEqual(kinds, ["account_state", "account_state", "account_added"])
        await assertThrows(.unknownAccount("nope")) { try await store.setAccountState(name: "nope", state: .ok) }
    }

    func testTokenExpiryAndFromAddressesUpdate() async throws {
        let clock = TestClock()
        let store = try openStore(makeTemporaryDirectory(self), clock: clock)
        try await store.addAccount(name: "main", kind: .oauthUser)
        let expiry = clock.now.addingTimeInterval(3599)
        try await store.setTokenExpiry(name: "main", expiresAt: expiry)
        try await store.updateAccount(AccountUpdate(name: "main", fromAddresses: ["me@example.com", "alias@example.com"], afterwards: .unchanged))
        let account = try await XCTUnwrapAsync(await store.account(named: "main"))
        XCTAssertEqual(account.tokenExpiresAt, expiry)
        XCTAssertEqual(account.fromAddresses, ["me@example.com", "alias@example.com"])
        await assertThrows(.unknownAccount("x")) { try await store.setTokenExpiry(name: "x", expiresAt: nil) }
    }

    func testRemovingAnAccountRemovesCredentialsButKeepsHistory() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox)
        try await store.addAccount(name: "keep", kind: .sandbox)
        try await store.addCredential(username: "site1", account: "main", password: "correct horse")
        try await store.addCredential(username: "site2", account: "keep", password: "correct horse")
        let sent = try await store.accept(try spoolMessage(store, status: .sending))
        try await store.finish(sent, .sent(gmailID: nil))
        let waiting = try await store.accept(try spoolMessage(store))
        let other = try await store.accept(try spoolMessage(store, account: "keep"))

        let removal = try await store.removeAccount(named: "main")
        XCTAssertEqual(removal, AccountRemoval(credentialsRemoved: 1, messagesFailed: 1))

        let none = try await store.account(named: "main")
        XCTAssertNil(none)
        let usernames = try await store.credentials().map(\.username)
        XCTAssertEqual(usernames, ["site2"])
        let sentRecord = try await XCTUnwrapAsync(await store.message(id: sent))
        XCTAssertEqual(sentRecord.account, "main")
        XCTAssertNil(sentRecord.accountID)
        XCTAssertEqual(sentRecord.status, .sent)
        let waitingRecord = try await XCTUnwrapAsync(await store.message(id: waiting))
        XCTAssertEqual(waitingRecord.status, .failed)
        XCTAssertEqual(waitingRecord.problem, .accountRemoved)
        let otherRecord = try await XCTUnwrapAsync(await store.message(id: other))
        XCTAssertEqual(otherRecord.status, .queued)
        let log = try await store.messages(account: "main")
        XCTAssertEqual(log.count, 2)
        let history = try await store.events(account: "main")
        XCTAssertEqual(history.first?.kind, .accountRemoved)

        await assertThrows(.unknownAccount("main")) { try await store.removeAccount(named: "main") }
        // The name is free again.
        try await store.addAccount(name: "main", kind: .oauthUser)
    }

    func testAccountSecretIsEncryptedAtRestAndBoundToItsAccount() async throws {
        let dir = makeTemporaryDirectory(self)
        let store = try openStore(dir)
        let secret = Data(#"{"refresh_token":"1//0gSECRET-REFRESH-TOKEN"}"#.utf8)
        let added = try await store.addAccount(name: "main", kind: .oauthUser, secret: secret, state: .ok)
        XCTAssertTrue(added.hasSecret)
        XCTAssertNotNil(added.consentedAt)
        XCTAssertEqual(try fileMode(dir + "/data/secret.key"), 0o600)

        let stored = try readSync(store) { try Data.fetchOne($0, sql: "SELECT secret FROM accounts WHERE name = 'main'") }
        let blob = try XCTUnwrap(stored)
        XCTAssertNil(blob.range(of: Data("SECRET-REFRESH-TOKEN".utf8)), "plaintext in the database")
        let opened = try await store.accountSecret(named: "main")
        XCTAssertEqual(opened, secret)

        // A secret copied onto another account's row does not open there.
        try await store.addAccount(name: "thief", kind: .oauthUser)
        try writeSync(store) { try $0.execute(sql: "UPDATE accounts SET secret = ? WHERE name = 'thief'", arguments: [blob]) }
        await assertThrows(.secretUndecryptable("account thief")) { try await store.accountSecret(named: "thief") }

        // Another process (same key file) reads it and replaces it (`account update`); this one reads the new one.
        let cli = try openStore(dir)
        let again = try await cli.accountSecret(named: "main")
        XCTAssertEqual(again, secret)
        try await cli.updateAccount(AccountUpdate(name: "main", secret: Data("replaced".utf8), afterwards: .unchanged))
        let replaced = try await store.accountSecret(named: "main")
        XCTAssertEqual(replaced, Data("replaced".utf8))
        await assertThrows(.unknownAccount("x")) { try await store.accountSecret(named: "x") }
    }

    func testReplacedKeyFileMakesSecretsUndecryptableWithAClearError() async throws {
        let dir = makeTemporaryDirectory(self)
        let store = try openStore(dir)
        try await store.addAccount(name: "main", kind: .oauthUser, secret: Data("token".utf8))
        try store.close()
        try FileManager.default.removeItem(atPath: dir + "/data/secret.key")
        let reopened = try openStore(dir)
        do {
            _ = try await reopened.accountSecret(named: "main")
            XCTFail("decrypted with a new key")
        } catch let error as StoreError {
            XCTAssertEqual(error, .secretUndecryptable("account main"))
            XCTAssertTrue(error.description.contains("reauth"), error.description)
        }
    }

    /// `account update` in one transaction: the new grant, the addresses, the state and the held mail.
    func testUpdateAccountWritesGrantStateAndReleaseTogether() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .oauthUser, fromAddresses: ["old@example.com"],
                                   secret: Data("old grant".utf8), state: .ok)
        try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
        let held = try await store.accept(try spoolMessage(store, status: .held))

        let none = try await store.updateAccount(AccountUpdate(
            name: "main", secret: Data("client without token".utf8), afterwards: .needsReauth(problemCode: .grantMissing)))
        XCTAssertEqual(none, 0)
        var account = try await store.account(named: "main")
        XCTAssertEqual(account?.state, .needsReauth)
        XCTAssertEqual(account?.problemCode, .grantMissing)
        let stillHeld = try await store.message(id: held)?.status
        XCTAssertEqual(stillHeld, .held, "no consent yet: the mail stays held")

        let consent = Date(timeIntervalSince1970: 1_790_000_000)
        let released = try await store.updateAccount(AccountUpdate(
            name: "main", secret: Data("new grant".utf8), consentedAt: consent,
            fromAddresses: ["new@example.com", "alias@example.com"], afterwards: .readyToSend))
        XCTAssertEqual(released, 1)
        account = try await store.account(named: "main")
        XCTAssertEqual(account?.state, .ok)
        XCTAssertNil(account?.problemCode)
        XCTAssertEqual(account?.fromAddresses, ["new@example.com", "alias@example.com"])
        XCTAssertEqual(account?.consentedAt, consent)
        let secret = try await store.accountSecret(named: "main")
        XCTAssertEqual(secret, Data("new grant".utf8))
        let queued = try await store.message(id: held)?.status
        XCTAssertEqual(queued, .queued)

        await assertThrows(.unknownAccount("nope")) {
            try await store.updateAccount(AccountUpdate(name: "nope", afterwards: .readyToSend))
        }
        await assertThrows(.invalidAddress("not-an-address")) {
            try await store.updateAccount(AccountUpdate(name: "main", fromAddresses: ["not-an-address"], afterwards: .unchanged))
        }
        let unchanged = try await store.account(named: "main")?.fromAddresses
        XCTAssertEqual(unchanged, ["new@example.com", "alias@example.com"], "a refused update changes nothing")
    }
}
