import Foundation
import RelayVocabulary
import StoreModel
import Testing
@testable import RelayStore

/// Accounts through the store API (AccountStore), on every store: adding, names, states and problems,
/// secrets sealed at rest, token expiry, the one-transaction updates (update, reauthorization).
@Suite struct AccountContractTests {
    /// An hour boundary: 2025-06-15T15:00:00Z.
    static let hourStart = Date(timeIntervalSince1970: 1_749_999_600)

    @Test(arguments: StoreKind.allCases)
    func addReadAndList(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            let added = try await store.addAccount(
                name: "shop", kind: .serviceAccount, fromAddresses: ["noreply@shop.example", "Sales@shop.example", "sales@SHOP.example"],
                state: .ok)
            #expect(added.name == "shop")
            #expect(added.kind == .serviceAccount)
            // Duplicates (case-insensitively) are dropped; the first address stays primary.
            #expect(added.fromAddresses == ["noreply@shop.example", "Sales@shop.example"])
            #expect(added.primaryAddress == "noreply@shop.example")
            #expect(added.state == .ok)
            #expect(!added.hasSecret)
            #expect(added.createdAt == clock.now)

            try await store.addAccount(name: "blog", kind: .sandbox)
            let fetched = try await store.account(named: "shop")
            #expect(fetched == added)
            let none = try await store.account(named: "nope")
            #expect(none == nil)
            let names = try await store.accounts().map(\.name)
            #expect(names == ["blog", "shop"])
            let blog = try await store.account(named: "blog")
            #expect(blog?.state == .unconfigured)
            #expect(blog?.fromAddresses == [])

            let history = try await store.events(account: "shop")
            #expect(history.map(\.kind.rawValue) == ["account_added"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func nameRules(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let valid = ["a", "main", "shop.example-com_2", String(repeating: "x", count: 64)]
            for name in valid {
                try await store.addAccount(name: name, kind: .sandbox)
            }
            let invalid = ["", "has space", "semi;colon", "über", "a@b", String(repeating: "x", count: 65), "slash/x", "new\nline"]
            for name in invalid {
                await #expect(throws: StoreError.invalidAccountName(name)) { try await store.addAccount(name: name, kind: .sandbox) }
            }
            await #expect(throws: StoreError.invalidAddress("not an address")) {
                try await store.addAccount(name: "bad-from", kind: .sandbox, fromAddresses: ["not an address"])
            }
            await #expect(throws: StoreError.invalidAddress("<a@b.c>")) {
                try await store.addAccount(name: "bad-from", kind: .sandbox, fromAddresses: ["<a@b.c>"])
            }
            let stored = try await store.accounts().count
            #expect(stored == valid.count)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func duplicateAccountIsRefusedClearly(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            await #expect(throws: StoreError.duplicateAccount("main")) { try await store.addAccount(name: "main", kind: .oauthUser) }
            #expect(StoreError.duplicateAccount("main").description == "an account named 'main' already exists")
            let count = try await store.accounts().count
            #expect(count == 1)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func stateChangesAreRecordedOnceAndSuccessClearsTheProblem(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            clock.advance(10)
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked, detail: ProblemDetail(googleMessage: "Token has been expired or revoked."))
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked, detail: ProblemDetail(googleMessage: "Token has been expired or revoked."))
            var account = try #require(await store.account(named: "main"))
            #expect(account.state == .needsReauth)
            #expect(account.problemCode == .grantRevoked)
            #expect(account.problemDetail?.googleMessage == "Token has been expired or revoked.")
            #expect(account.updatedAt == clock.now)

            clock.advance(10)
            try await store.recordSuccess(account: "main")
            account = try #require(await store.account(named: "main"))
            #expect(account.state == .ok)
            #expect(account.problemCode == nil)
            #expect(account.problemDetail == nil)
            #expect(account.lastSuccessAt == clock.now)

            let kinds = try await store.events(account: "main").map(\.kind.rawValue)
            #expect(kinds == ["account_state", "account_state", "account_added"])
            await #expect(throws: StoreError.unknownAccount("nope")) { try await store.setAccountState(name: "nope", state: .ok) }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func tokenExpiryAndFromAddressesUpdate(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser)
            let expiry = clock.now.addingTimeInterval(3599)
            try await store.setTokenExpiry(name: "main", expiresAt: expiry)
            try await store.updateAccount(AccountUpdate(name: "main", fromAddresses: ["me@example.com", "alias@example.com"], afterwards: .unchanged))
            let account = try #require(await store.account(named: "main"))
            #expect(account.tokenExpiresAt == expiry)
            #expect(account.fromAddresses == ["me@example.com", "alias@example.com"])
            await #expect(throws: StoreError.unknownAccount("x")) { try await store.setTokenExpiry(name: "x", expiresAt: nil) }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func removingAnAccountRemovesCredentialsButKeepsHistory(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            try await store.addAccount(name: "keep", kind: .sandbox)
            try await store.addCredential(username: "site1", account: "main", password: "correct horse")
            try await store.addCredential(username: "site2", account: "keep", password: "correct horse")
            let sent = try await store.accept(spoolMessage(store, status: .sending))
            try await store.finish(sent, .sent(gmailID: nil))
            let waiting = try await store.accept(spoolMessage(store))
            let other = try await store.accept(spoolMessage(store, account: "keep"))

            let removal = try await store.removeAccount(named: "main")
            #expect(removal == AccountRemoval(credentialsRemoved: 1, messagesFailed: 1))

            let none = try await store.account(named: "main")
            #expect(none == nil)
            let usernames = try await store.credentials().map(\.username)
            #expect(usernames == ["site2"])
            let sentRecord = try #require(await store.message(id: sent))
            #expect(sentRecord.account == "main")
            #expect(sentRecord.accountID == nil)
            #expect(sentRecord.status == .sent)
            let waitingRecord = try #require(await store.message(id: waiting))
            #expect(waitingRecord.status == .failed)
            #expect(waitingRecord.problem == .accountRemoved)
            let otherRecord = try #require(await store.message(id: other))
            #expect(otherRecord.status == .queued)
            let log = try await store.messages(account: "main")
            #expect(log.count == 2)
            let history = try await store.events(account: "main")
            #expect(history.first?.kind == .accountRemoved)

            await #expect(throws: StoreError.unknownAccount("main")) { try await store.removeAccount(named: "main") }
            // The name is free again.
            try await store.addAccount(name: "main", kind: .oauthUser)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func accountSecretIsEncryptedAtRestAndBoundToItsAccount(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let secret = Data(#"{"refresh_token":"1//0gSECRET-REFRESH-TOKEN"}"#.utf8)
            let added = try await store.addAccount(name: "main", kind: .oauthUser, secret: secret, state: .ok)
            #expect(added.hasSecret)
            #expect(added.consentedAt != nil)

            let blob = try #require(try await store.probe.storedSecret(account: "main"))
            #expect(blob.range(of: Data("SECRET-REFRESH-TOKEN".utf8)) == nil, "plaintext in the database")
            let opened = try await store.accountSecret(named: "main")
            #expect(opened == secret)

            // A secret copied onto another account's row does not open there.
            try await store.addAccount(name: "thief", kind: .oauthUser)
            try await store.probe.replaceStoredSecret(account: "thief", with: blob)
            await #expect(throws: StoreError.secretUndecryptable("account thief")) { try await store.accountSecret(named: "thief") }

            // Another process (same key file) reads it and replaces it (`account update`); this one reads the new one.
            let cli = try await store.openAnother(nil)
            let again = try await cli.accountSecret(named: "main")
            #expect(again == secret)
            try await cli.updateAccount(AccountUpdate(name: "main", secret: Data("replaced".utf8), afterwards: .unchanged))
            let replaced = try await store.accountSecret(named: "main")
            #expect(replaced == Data("replaced".utf8))
            await #expect(throws: StoreError.unknownAccount("x")) { try await store.accountSecret(named: "x") }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func replacedKeyFileMakesSecretsUndecryptableWithAClearError(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, secret: Data("token".utf8))
            // Another process whose key file is not the one the secret was sealed with (a new one: the
            // old one was lost or replaced).
            let other = try await store.openAnother(store.newKeyFilePath())
            do {
                _ = try await other.accountSecret(named: "main")
                Issue.record("decrypted with a new key")
            } catch let error as StoreError {
                #expect(error == .secretUndecryptable("account main"))
                #expect(error.description.contains("reauth"), "\(error.description)")
            }
        }
    }

    /// `account update` in one transaction: the new grant, the addresses, the state and the held mail.
    @Test(arguments: StoreKind.allCases)
    func updateAccountWritesGrantStateAndReleaseTogether(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, fromAddresses: ["old@example.com"],
                                       secret: Data("old grant".utf8), state: .ok)
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
            let held = try await store.accept(spoolMessage(store, status: .held))

            let none = try await store.updateAccount(AccountUpdate(
                name: "main", secret: Data("client without token".utf8), afterwards: .needsReauth(problemCode: .grantMissing)))
            #expect(none == 0)
            var account = try await store.account(named: "main")
            #expect(account?.state == .needsReauth)
            #expect(account?.problemCode == .grantMissing)
            let stillHeld = try await store.message(id: held)?.status
            #expect(stillHeld == .held, "no consent yet: the mail stays held")

            let consent = Date(timeIntervalSince1970: 1_790_000_000)
            let released = try await store.updateAccount(AccountUpdate(
                name: "main", secret: Data("new grant".utf8), consentedAt: consent,
                fromAddresses: ["new@example.com", "alias@example.com"], afterwards: .readyToSend))
            #expect(released == 1)
            account = try await store.account(named: "main")
            #expect(account?.state == .ok)
            #expect(account?.problemCode == nil)
            #expect(account?.fromAddresses == ["new@example.com", "alias@example.com"])
            #expect(account?.consentedAt == consent)
            let secret = try await store.accountSecret(named: "main")
            #expect(secret == Data("new grant".utf8))
            let queued = try await store.message(id: held)?.status
            #expect(queued == .queued)

            await #expect(throws: StoreError.unknownAccount("nope")) {
                try await store.updateAccount(AccountUpdate(name: "nope", afterwards: .readyToSend))
            }
            await #expect(throws: StoreError.invalidAddress("not-an-address")) {
                try await store.updateAccount(AccountUpdate(name: "main", fromAddresses: ["not-an-address"], afterwards: .unchanged))
            }
            let unchanged = try await store.account(named: "main")?.fromAddresses
            #expect(unchanged == ["new@example.com", "alias@example.com"], "a refused update changes nothing")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func newGrantStateAddressAndReleaseTogether(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, secret: Data("old grant".utf8), state: .ok)
            try await store.addAccount(name: "other", kind: .oauthUser, state: .ok)
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked, detail: ProblemDetail())
            let held = try await store.accept(spoolMessage(store, account: "main", status: .held))
            let alsoHeld = try await store.accept(spoolMessage(store, account: "main", status: .held))
            let otherHeld = try await store.accept(spoolMessage(store, account: "other", status: .held))

            clock.advance(60)
            let consented = clock.now
            let result = try await store.recordReauthorization(
                name: "main", secret: Data("new grant".utf8), consentedAt: consented, address: "owner@example.com")
            #expect(result == RelayStore.Reauthorization(released: 2, addressAdded: true))

            let secret = try await store.accountSecret(named: "main")
            #expect(secret == Data("new grant".utf8))
            let account = try #require(await store.account(named: "main"))
            #expect(account.state == .ok)
            #expect(account.problemCode == nil)
            #expect(account.problemDetail == nil)
            #expect(account.consentedAt == consented)
            #expect(account.fromAddresses == ["owner@example.com"])
            for id in [held, alsoHeld] {
                let message = try #require(await store.message(id: id))
                #expect(message.status == .queued)
            }
            let untouched = try #require(await store.message(id: otherHeld))
            #expect(untouched.status == .held, "another account's held mail stays held")
            let kinds = try await store.events(account: "main").map(\.kind.rawValue)
            #expect(Array(kinds.prefix(2)) == ["account_state", "account_secret"], "newest first: ok after the new secret")
            let messageKinds = try await store.events(messageID: held).map(\.kind.rawValue)
            #expect(messageKinds.last == "released")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func existingAddressesStayAndBadInputChangesNothing(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, fromAddresses: ["alias@example.com"], secret: Data("old".utf8))
            let kept = try await store.recordReauthorization(
                name: "main", secret: Data("new".utf8), consentedAt: store.now, address: "owner@example.com")
            #expect(!kept.addressAdded)
            let account = try #require(await store.account(named: "main"))
            #expect(account.fromAddresses == ["alias@example.com"])

            await #expect(throws: StoreError.invalidAddress("not an address")) {
                try await store.recordReauthorization(name: "main", secret: Data("bad".utf8), consentedAt: store.now, address: "not an address")
            }
            await #expect(throws: StoreError.unknownAccount("nobody")) {
                try await store.recordReauthorization(name: "nobody", secret: Data("x".utf8), consentedAt: store.now, address: nil)
            }
            let secret = try await store.accountSecret(named: "main")
            #expect(secret == Data("new".utf8), "a refused call stores nothing")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func secretStoredAtFollowsTheSecret(kind: StoreKind) async throws {
        let clock = TestClock(Self.hourStart)
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "sa", kind: .serviceAccount, secret: Data("{}".utf8), state: .ok)
            #expect(try await store.account(named: "sa")?.secretStoredAt == Self.hourStart)
            clock.advance(86_400)
            _ = try await store.updateAccount(AccountUpdate(name: "sa", secret: Data("{\"new\":1}".utf8), afterwards: .readyToSend))
            #expect(try await store.account(named: "sa")?.secretStoredAt == Self.hourStart.addingTimeInterval(86_400))
            try await store.addAccount(name: "box", kind: .sandbox, state: .ok)
            #expect(try await store.account(named: "box")?.secretStoredAt == nil)
        }
    }

    /// The health probe's findings, each written with the check time: a token (expiry, scopes), nothing
    /// learned, or a grant that cannot send (state, problem, and with `holdQueued` the queued mail held;
    /// mail being sent is left to finish).
    @Test(arguments: StoreKind.allCases)
    func grantChecksRecordTheTimeAndWhatTheyFound(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, secret: Data("grant".utf8), state: .ok)
            let checked = clock.now
            let expiry = checked.addingTimeInterval(3599)
            let scopes = ["https://www.googleapis.com/auth/gmail.send", "https://www.googleapis.com/auth/gmail.metadata"]
            #expect(try await store.recordGrantCheck(name: "main", at: checked, .tokenIssued(expiresAt: expiry, scopes: scopes)) == 0)
            var account = try #require(try await store.account(named: "main"))
            #expect(account.checkedAt == checked)
            #expect(account.tokenExpiresAt == expiry)
            #expect(account.grantedScopes == scopes.sorted())

            let queued = [try await store.accept(spoolMessage(store)), try await store.accept(spoolMessage(store))]
            let sending = try await store.accept(spoolMessage(store, status: .sending))
            clock.advance(60)
            #expect(try await store.recordGrantCheck(name: "main", at: clock.now, .inconclusive) == 0)
            account = try #require(try await store.account(named: "main"))
            #expect(account.checkedAt == clock.now)
            #expect(account.state == .ok)
            #expect(account.tokenExpiresAt == expiry, "an inconclusive check changes only the time")

            clock.advance(60)
            let notHeld = try await store.recordGrantCheck(name: "main", at: clock.now, .cannotSend(
                state: .needsReauth, problemCode: .grantRevoked, detail: nil, holdQueued: false))
            #expect(notHeld == 0)
            #expect(try await store.message(id: queued[0])?.status == .queued)
            let held = try await store.recordGrantCheck(name: "main", at: clock.now, .cannotSend(
                state: .needsReauth, problemCode: .grantRevoked, detail: ProblemDetail(googleMessage: "Token has been expired or revoked."),
                holdQueued: true))
            #expect(held == 2)
            account = try #require(try await store.account(named: "main"))
            #expect(account.state == .needsReauth)
            #expect(account.problemCode == .grantRevoked)
            #expect(account.problemDetail?.googleMessage == "Token has been expired or revoked.")
            for id in queued {
                let message = try #require(try await store.message(id: id))
                #expect(message.status == .held)
                #expect(message.problem == .grantRevoked)
                #expect(try await store.events(messageID: id).last?.detail == "grant_revoked (account main cannot send)")
            }
            #expect(try await store.message(id: sending)?.status == .sending, "a send in flight finishes on its own")
            #expect(try await store.accountHadProblem("main", .grantRevoked))

            await #expect(throws: StoreError.unknownAccount("nobody")) {
                try await store.recordGrantCheck(name: "nobody", at: clock.now, .inconclusive)
            }
        }
    }

    /// `setTokenExpiry` keeps the scopes it is given (sorted) and keeps the stored ones when given none.
    @Test(arguments: StoreKind.allCases)
    func tokenScopesAreKeptUntilNewOnesAreKnown(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser)
            try await store.setTokenExpiry(name: "main", expiresAt: clock.now + 3600, scopes: ["b-scope", "a-scope"])
            try await store.setTokenExpiry(name: "main", expiresAt: clock.now + 7200)
            let account = try #require(try await store.account(named: "main"))
            #expect(account.grantedScopes == ["a-scope", "b-scope"])
            #expect(account.tokenExpiresAt == clock.now + 7200)
            try await store.setTokenExpiry(name: "main", expiresAt: nil)
            #expect(try await store.account(named: "main")?.tokenExpiresAt == nil)
        }
    }

    /// An account's own history, newest first, in the same words on every store: added, logins added
    /// and removed, a fallback set and removed, a secret stored, a state, and (with the limit) only the
    /// newest; the removal's summary stays after the account is gone.
    @Test(arguments: StoreKind.allCases)
    func anAccountsHistoryIsWrittenInTheSameWords(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, fromAddresses: ["me@example.com"])
            try await store.addAccount(name: "spare", kind: .sandbox)
            try await store.addCredential(username: "site1", account: "main", password: "long-enough")
            try await store.addCredential(username: "site2", account: "main", password: "long-enough")
            try await store.removeCredential(username: "site2")
            try await store.setFallback(account: "main", to: "spare")
            try await store.setFallback(account: "main", to: nil)
            try await store.updateAccount(AccountUpdate(name: "main", secret: Data("grant".utf8), afterwards: .readyToSend))
            let history = try await store.events(account: "main")
            #expect(history.map(\.kind) == [
                .accountState, .accountSecret, .accountFallback, .accountFallback, .credentialRemoved, .credentialAdded,
                .credentialAdded, .accountAdded,
            ])
            #expect(history.map(\.detail).dropFirst() == [
                "secret stored (account update)", "fallback removed", "fallback set to spare", "SMTP username site2",
                "SMTP username site2", "SMTP username site1", "oauth_user account, from me@example.com",
            ])
            #expect(history.allSatisfy { $0.account == "main" && $0.messageID == nil })
            #expect(try await store.events(account: "main", limit: 3).map(\.kind) == [.accountState, .accountSecret, .accountFallback])
            #expect(try await store.events(account: "spare").map(\.detail) == ["sandbox account, no from address yet"])

            _ = try await store.accept(spoolMessage(store))
            try await store.removeAccount(named: "main")
            #expect(try await store.events(account: "main").first?.detail == "1 SMTP credential(s) removed, 1 waiting message(s) failed")
        }
    }
}
