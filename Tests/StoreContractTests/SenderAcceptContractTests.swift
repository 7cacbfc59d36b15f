import Foundation
import RelayVocabulary
import StoreModel
import Testing

/// The SMTP commit's accept, on every store (`MessageIntake.accept(_:readingAccountOf:decide:)`): the
/// sender's account is read in the transaction that inserts the message, the status is decided from it
/// there, a sender that can no longer send gets a `SenderError` and no row, and the row and body are
/// there when it returns.
@Suite struct SenderAcceptContractTests {
    /// The intake's rule in async mode (SubmissionIntake.decide): an account that can send, or whose
    /// fallback can, queues; any other holds with its problem.
    static let decideLikeTheIntake: IntakeDecision = { account, fallbackCanSend in
        account.state == .ok || fallbackCanSend ? (.queued, nil) : (.held, account.problemCode ?? .grantMissing)
    }

    /// What the SMTP layer hands over: the account, sandbox flag and status are the store's to fill in.
    private func unresolvedMessage(_ store: StoreUnderTest, body: String = "Subject: hi\r\n\r\nbody\r\n") -> NewMessage {
        var message = spoolMessage(store, account: "", body: body)
        message.status = .sent  // not an initial status: the store must take the decision's
        return message
    }

    /// Accepts with `decide`, keeping every (account, fallbackCanSend) the store passed it.
    private func accept(
        _ store: StoreUnderTest, _ message: NewMessage, from sender: MessageSender, seen: LockedValue<[(SenderAccount, Bool)]>,
        decide: @escaping IntakeDecision = decideLikeTheIntake
    ) async throws -> (record: MessageRecord, account: SenderAccount) {
        try await store.intake.accept(message, readingAccountOf: sender) { account, fallbackCanSend in
            seen.withLock { $0.append((account, fallbackCanSend)) }
            return decide(account, fallbackCanSend)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theStatusFollowsTheAccountAsTheCommitReadsIt(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            let main = try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            let seen = LockedValue<[(SenderAccount, Bool)]>([])
            let body = "Subject: hi\r\n\r\nfirst body\r\n"
            let first = try await accept(store, unresolvedMessage(store, body: body), from: .account(named: "main"), seen: seen)
            #expect(first.account == SenderAccount(id: main.id, name: "main", kind: .oauthUser, state: .ok, problemCode: nil, fallback: nil))
            #expect(first.record.status == .queued)
            #expect(first.record.account == "main")
            #expect(first.record.accountID == main.id)
            #expect(first.record.problem == nil)
            #expect(!first.record.sandbox)
            #expect(first.record.nextAttemptAt == clock.now)

            // The row and its body are stored when the accept returns, as the record says.
            let stored = try #require(await store.message(id: first.record.id))
            #expect(stored.status == .queued)
            #expect(stored.account == "main")
            #expect(stored.credentialUsername == "site1")
            #expect(try await store.inlineBody(messageID: first.record.id) == Array(body.utf8))
            #expect(try await store.events(messageID: first.record.id).map(\.kind.rawValue) == ["accepted"])

            // The account stops: the next message is held with the account's problem, from the same read.
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
            let second = try await accept(store, unresolvedMessage(store), from: .account(named: "main"), seen: seen)
            #expect(second.account.state == .needsReauth)
            #expect(second.record.status == .held)
            #expect(second.record.problem == .grantRevoked)
            let held = try #require(await store.message(id: second.record.id))
            #expect(held.status == .held)
            #expect(held.problem == .grantRevoked)
            #expect(try await store.events(messageID: second.record.id).map(\.kind.rawValue) == ["accepted", "held"])
            #expect(try await store.inlineBody(messageID: second.record.id) != nil)

            #expect(seen.withLock { $0.map(\.0.state) } == [.ok, .needsReauth], "decide saw the account as it was at each commit")
            #expect(seen.withLock { $0.map(\.1) } == [false, false])
        }
    }

    /// The sandbox flag is the account's; `sending` (sync mode) is stored as decided.
    @Test(arguments: StoreKind.allCases)
    func aSandboxAccountMarksItsMessagesAndSendingIsStoredAsDecided(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "box", kind: .sandbox, state: .ok)
            let seen = LockedValue<[(SenderAccount, Bool)]>([])
            let accepted = try await accept(store, unresolvedMessage(store), from: .account(named: "box"), seen: seen) { _, _ in (.sending, nil) }
            #expect(accepted.record.sandbox)
            #expect(accepted.record.status == .sending)
            #expect(try await store.message(id: accepted.record.id)?.status == .sending)
            #expect(try await store.message(id: accepted.record.id)?.sandbox == true)
            #expect(accepted.account.kind == .sandbox)
        }
    }

    /// A decision the lifecycle does not allow at accept is refused as `accept(_:)` refuses it: no row.
    @Test(arguments: StoreKind.allCases)
    func aDecisionOutsideTheInitialStatusesStoresNothing(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            let seen = LockedValue<[(SenderAccount, Bool)]>([])
            await #expect(throws: StoreError.invalidInitialStatus(.failed)) {
                try await accept(store, unresolvedMessage(store), from: .account(named: "main"), seen: seen) { _, _ in (.failed, .grantRevoked) }
            }
            #expect(try await store.messages().isEmpty)
        }
    }

    /// Through a login: found while the login still sends for that account; the login removed, moved to
    /// another account, or its account removed: `loginGone` and no row.
    @Test(arguments: StoreKind.allCases)
    func aLoginThatNoLongerSendsForItsAccountIsRefusedWithoutARow(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            let main = try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            let other = try await store.addAccount(name: "other", kind: .sandbox, state: .ok)
            try await store.addCredential(username: "site1", account: "main", password: "long-enough")
            try await store.addCredential(username: "site2", account: "other", password: "long-enough")
            let seen = LockedValue<[(SenderAccount, Bool)]>([])

            let found = try await accept(store, unresolvedMessage(store), from: .login(username: "site1", accountID: main.id), seen: seen)
            #expect(found.account.name == "main")
            #expect(found.record.accountID == main.id)
            #expect(found.record.status == .queued)

            func expectGone(_ username: String, _ accountID: Int64, _ why: Comment) async {
                do {
                    _ = try await accept(store, unresolvedMessage(store), from: .login(username: username, accountID: accountID), seen: seen)
                    Issue.record("accepted for \(username): \(why)")
                } catch SenderError.loginGone(let name) {
                    #expect(name == username, why)
                } catch {
                    Issue.record("expected loginGone(\(username)), got \(error): \(why)")
                }
            }
            await expectGone("site2", main.id, "site2 sends for another account")
            await expectGone("nobody", main.id, "no such login")
            try await store.removeCredential(username: "site1")
            await expectGone("site1", main.id, "the login was removed")
            try await store.addCredential(username: "site1", account: "main", password: "long-enough")
            try await store.removeAccount(named: "main")
            await expectGone("site1", main.id, "its account was removed")
            #expect(try await accept(store, unresolvedMessage(store), from: .login(username: "site2", accountID: other.id), seen: seen)
                .record.account == "other")

            let all = try await store.messages()
            #expect(all.count == 2, "only the two accepted messages are stored")
            #expect(seen.withLock { $0.map(\.0.name) } == ["main", "other"], "decide ran only for the senders that were found")
        }
    }

    /// The trusted networks' account by name: gone (or never there) is `accountMissing` and no row.
    @Test(arguments: StoreKind.allCases)
    func aMissingTrustedAccountIsRefusedWithoutARow(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            try await store.removeAccount(named: "main")
            let seen = LockedValue<[(SenderAccount, Bool)]>([])
            do {
                _ = try await accept(store, unresolvedMessage(store), from: .account(named: "main"), seen: seen)
                Issue.record("accepted for a removed account")
            } catch SenderError.accountMissing(let name) {
                #expect(name == "main")
            }
            #expect(try await store.messages().isEmpty)
            #expect(seen.withLock { $0.isEmpty })
        }
    }

    /// An account that needs reauthorization or is blocked is told whether its fallback can send now:
    /// queued through the fallback while it is ok, held once it is not.
    @Test(arguments: StoreKind.allCases)
    func theDecisionIsToldWhetherTheFallbackCanSendNow(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            try await store.addAccount(name: "spare", kind: .oauthUser, state: .ok)
            try await store.setFallback(account: "main", to: "spare")
            try await store.setAccountState(name: "main", state: .blocked, problemCode: .grantRevoked)
            let seen = LockedValue<[(SenderAccount, Bool)]>([])
            let covered = try await accept(store, unresolvedMessage(store), from: .account(named: "main"), seen: seen)
            #expect(covered.record.status == .queued)
            #expect(covered.account.fallback == "spare")
            try await store.setAccountState(name: "spare", state: .needsReauth, problemCode: .grantRevoked)
            let uncovered = try await accept(store, unresolvedMessage(store), from: .account(named: "main"), seen: seen)
            #expect(uncovered.record.status == .held)
            #expect(uncovered.record.problem == .grantRevoked)
            #expect(seen.withLock { $0.map(\.1) } == [true, false])
        }
    }

    /// An account that stops while messages are being accepted for it (a grant check that holds its
    /// queued mail) leaves none of them queued: each message was either committed before the change
    /// (and held by it) or read the account after it (and decided held). A decision taken on an account
    /// read outside the insert's transaction could queue a message after the hold had run.
    @Test(arguments: StoreKind.allCases)
    func acceptsRacingAnAccountThatStopsLeaveNothingQueued(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            let seen = LockedValue<[(SenderAccount, Bool)]>([])
            let messages = (0..<30).map { _ in unresolvedMessage(store) }
            let ids = try await withThrowingTaskGroup(of: Int64?.self) { group in
                for (i, message) in messages.enumerated() {
                    group.addTask { try await accept(store, message, from: .account(named: "main"), seen: seen).record.id }
                    if i == 10 {
                        group.addTask {
                            try await store.recordGrantCheck(name: "main", at: store.now, .cannotSend(
                                state: .needsReauth, problemCode: .grantRevoked, detail: nil, holdQueued: true))
                            return nil
                        }
                    }
                }
                return try await group.reduce(into: [Int64]()) { if let id = $1 { $0.append(id) } }
            }
            #expect(ids.count == 30)
            let statuses = try await store.messages(limit: 100).map(\.status)
            #expect(statuses.count == 30)
            #expect(statuses.allSatisfy { $0 == .held }, "\(statuses)")
        }
    }
}
