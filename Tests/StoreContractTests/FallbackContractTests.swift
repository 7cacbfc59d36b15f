import Foundation
import RelayVocabulary
import StoreModel
import Testing
@testable import RelayStore

/// Fallback accounts through the store API, on every store: which account may stand in, what stays
/// queued, what is released.
@Suite struct FallbackContractTests {
    private func withFallbackStore(_ kind: StoreKind, _ body: (StoreUnderTest) async throws -> Void) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            try await store.addAccount(name: "spare", kind: .oauthUser, state: .ok)
            try await body(store)
        }
    }

    private func statuses(_ store: StoreUnderTest, account: String) async throws -> [MessageStatus] {
        try await store.messages(account: account).map(\.status)
    }

    @Test(arguments: StoreKind.allCases)
    func anAccountCannotBeItsOwnOrAMissingAccountsFallback(kind: StoreKind) async throws {
        try await withFallbackStore(kind) { store in
            await #expect(throws: StoreError.invalidFallback("main")) { try await store.setFallback(account: "main", to: "main") }
            await #expect(throws: StoreError.unknownAccount("nobody")) { try await store.setFallback(account: "main", to: "nobody") }
            await #expect(throws: StoreError.unknownAccount("nobody")) { try await store.setFallback(account: "nobody", to: "main") }
            try await store.setFallback(account: "main", to: "spare")
            #expect(try await store.account(named: "main")?.fallback == "spare")
            try await store.setFallback(account: "main", to: nil)
            #expect(try await store.account(named: "main")?.fallback == nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theFallbackStandsInOnlyWhileTheAccountNeedsReauthOrIsBlockedAndItselfIsOk(kind: StoreKind) async throws {
        try await withFallbackStore(kind) { store in
            try await store.setFallback(account: "main", to: "spare")
            #expect(try await store.usableFallback(for: "main") == nil, "main can send itself")
            for state in [AccountState.needsReauth, .blocked] {
                try await store.setAccountState(name: "main", state: state, problemCode: .grantRevoked)
                #expect(try await store.usableFallback(for: "main")?.name == "spare", "\(state)")
            }
            try await store.setAccountState(name: "main", state: .unconfigured, problemCode: .grantMissing)
            #expect(try await store.usableFallback(for: "main") == nil, "an account still being set up is not covered")
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
            try await store.setAccountState(name: "spare", state: .blocked, problemCode: .permissionDenied)
            #expect(try await store.usableFallback(for: "main") == nil, "a fallback that cannot send either does not stand in")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func fallbacksAreFollowedOneStepOnly(kind: StoreKind) async throws {
        try await withFallbackStore(kind) { store in
            try await store.addAccount(name: "third", kind: .oauthUser, state: .ok)
            try await store.setFallback(account: "main", to: "spare")
            try await store.setFallback(account: "spare", to: "third")
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
            try await store.setAccountState(name: "spare", state: .needsReauth, problemCode: .grantRevoked)
            #expect(try await store.usableFallback(for: "main") == nil, "spare's own fallback is not main's")
            #expect(try await store.usableFallback(for: "spare")?.name == "third")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aBrokenAccountWithAWorkingFallbackKeepsItsMailQueued(kind: StoreKind) async throws {
        try await withFallbackStore(kind) { store in
            try await store.setFallback(account: "main", to: "spare")
            _ = try await store.accept(spoolMessage(store, account: "main"))
            // The health probe finds main's grant revoked: without a fallback its queued mail would be held.
            let held = try await store.recordGrantCheck(
                name: "main", at: store.now, .cannotSend(state: .needsReauth, problemCode: .grantRevoked, detail: nil, holdQueued: true))
            #expect(held == 0)
            #expect(try await statuses(store, account: "main") == [.queued])
            try await store.setFallback(account: "main", to: nil)
            let heldNow = try await store.recordGrantCheck(
                name: "main", at: store.now, .cannotSend(state: .needsReauth, problemCode: .grantRevoked, detail: nil, holdQueued: true))
            #expect(heldNow == 1)
            #expect(try await statuses(store, account: "main") == [.held])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func namingAWorkingFallbackReleasesTheHeldMail(kind: StoreKind) async throws {
        try await withFallbackStore(kind) { store in
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
            _ = try await store.accept(spoolMessage(store, account: "main", status: .held))
            #expect(try await store.setFallback(account: "main", to: "spare") == 1)
            #expect(try await statuses(store, account: "main") == [.queued])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func theFallbackSendingAgainReleasesTheMailItStandsInFor(kind: StoreKind) async throws {
        try await withFallbackStore(kind) { store in
            try await store.setFallback(account: "main", to: "spare")
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
            try await store.setAccountState(name: "spare", state: .needsReauth, problemCode: .grantRevoked)
            let held = try await store.accept(spoolMessage(store, account: "main", status: .held))
            let spareMessage = try await store.accept(spoolMessage(store, account: "spare", status: .sending))
            // spare sends one of its own messages: it works again, and main's held mail goes through it.
            let effects = try await store.finishAttempt(AttemptReport(
                messageID: spareMessage, account: "spare", outcome: .sent(gmailID: "g1"), accountChange: .succeeded(at: store.now)))
            #expect(effects.released == 1)
            #expect(try await store.message(id: held)?.status == .queued)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aSendThroughTheFallbackIsRecordedOnTheMessage(kind: StoreKind) async throws {
        try await withFallbackStore(kind) { store in
            try await store.setFallback(account: "main", to: "spare")
            try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
            let id = try await store.accept(spoolMessage(store, account: "main", status: .sending))
            var report = AttemptReport(messageID: id, account: "spare", outcome: .sent(gmailID: "g2"), accountChange: .succeeded(at: store.now))
            report.fallback = .init(standingInFor: try #require(try await store.account(named: "main")))
            try await store.finishAttempt(report)
            let message = try #require(try await store.message(id: id))
            #expect(message.status == .sent && message.account == "main" && message.sentThrough == "spare")
            let events = try await store.events(messageID: id).map(\.detail)
            #expect(events.contains("sent through fallback spare because main: grant_revoked"))
            #expect(try await store.account(named: "main")?.state == .needsReauth, "the fallback's success does not fix main")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func removingTheFallbackAccountClearsTheReference(kind: StoreKind) async throws {
        try await withFallbackStore(kind) { store in
            try await store.setFallback(account: "main", to: "spare")
            try await store.removeAccount(named: "spare")
            #expect(try await store.account(named: "main")?.fallback == nil)
        }
    }
}
