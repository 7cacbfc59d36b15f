import Foundation
import GRDB
import RelayVocabulary
import Testing
@testable import RelayStore

/// The message lifecycle: the table of allowed moves, and that the public paths refuse the others.
@Suite struct LifecycleTests {
    /// The table in MessageLifecycle.swift and the README, written out once more by hand: a change to the
    /// code's table has to change this too.
    @Test func theAllowedMovesAreExactlyTheTable() {
        let expected: [MessageStatus: Set<MessageStatus>] = [
            .queued: [.sending, .held, .queued, .discarded, .failed],
            .sending: [.sent, .queued, .held, .failed],
            .held: [.queued, .discarded, .failed],
            .failed: [.queued, .discarded],
            .sent: [],
            .discarded: [],
        ]
        for from in MessageStatus.allCases {
            for to in MessageStatus.allCases {
                let allowed = MessageLifecycle.allows(from: from, to: to)
                #expect(allowed == expected[from]!.contains(to), "\(from.rawValue) -> \(to.rawValue)")
            }
        }
        #expect(MessageLifecycle.initialStatuses == [.queued, .sending, .held])
    }

    @Test func aMessageIsNotAcceptedInAFinalState() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir.path)
        try await store.addAccount(name: "main", kind: .sandbox)
        for status in [MessageStatus.sent, .failed, .discarded] {
            await #expect(throws: StoreError.invalidInitialStatus(status)) {
                try await store.accept(try spoolMessage(store, status: status))
            }
        }
        #expect(try await store.messages().isEmpty)
    }

    @Test func anAttemptCannotEndOnAMessageNobodyIsSending() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir.path)
        try await store.addAccount(name: "main", kind: .sandbox)
        let queued = try await store.accept(try spoolMessage(store))
        let held = try await store.accept(try spoolMessage(store, status: .held))

        await #expect(throws: StoreError.invalidTransition(id: queued, from: .queued, to: .sent)) {
            try await store.finish(queued, .sent(gmailID: "x"), attempts: [attempt(queued)])
        }
        await #expect(throws: StoreError.invalidTransition(id: queued, from: .queued, to: .failed)) {
            try await store.markStatus(id: queued, status: .failed, problemCode: .backendError)
        }
        await #expect(throws: StoreError.invalidTransition(id: held, from: .held, to: .queued)) {
            try await store.markStatus(id: held, status: .queued)
        }
        // The refused report wrote nothing: no attempt row, no count, no event.
        let record = try #require(try await store.message(id: queued))
        #expect(record.status == .queued)
        #expect(record.attempts == 0)
        #expect(try await store.attempts(messageID: queued).isEmpty)
        #expect(try await store.events(messageID: queued).map(\.kind.rawValue) == ["accepted"])
    }

    @Test func aSenderCannotPutAMessageBackInSendingNorDiscardIt() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir.path)
        try await store.addAccount(name: "main", kind: .sandbox)
        let id = try await store.accept(try spoolMessage(store, status: .sending))
        await #expect(throws: StoreError.invalidTransition(id: id, from: .sending, to: .sending)) {
            try await store.markStatus(id: id, status: .sending)
        }
        await #expect(throws: StoreError.invalidTransition(id: id, from: .sending, to: .discarded)) {
            try await store.markStatus(id: id, status: .discarded)
        }
        await #expect(throws: StoreError.invalidTransition(id: id, from: .sending, to: .queued)) {
            try await store.retry(id: id)
        }
        try await store.finish(id, .sent(gmailID: "g"))
        // Final: nothing moves it any more.
        await #expect(throws: StoreError.invalidTransition(id: id, from: .sent, to: .queued)) {
            try await store.markStatus(id: id, status: .queued)
        }
        await #expect(throws: StoreError.invalidTransition(id: id, from: .sent, to: .sent)) {
            try await store.finish(id, .sent(gmailID: "again"))
        }
        #expect(try await store.events(messageID: id).map(\.kind.rawValue) == ["accepted", "sent"])
        #expect(try await store.message(id: id)?.gmailID == "g")
    }

    @Test func eachMoveWritesItsEventInTheSameTransaction() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir.path)
        try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
        let id = try await store.accept(try spoolMessage(store))
        _ = try await store.claimAll()
        try await store.finish(id, .held(problemCode: .grantRevoked))
        _ = try await store.updateAccount(AccountUpdate(name: "main", afterwards: .readyToSend))
        try await store.recordGrantCheck(name: "main", at: Date(), .cannotSend(
            state: .needsReauth, problemCode: .grantRevoked, detail: nil, holdQueued: true))
        try await store.retry(id: id)
        try await store.discard(id: id)
        let events = try await store.events(messageID: id)
        #expect(events.map(\.kind.rawValue) == ["accepted", "held", "released", "held", "retry", "discarded"])
        #expect(events.map(\.detail).dropFirst() == [
            "grant_revoked", "account main can send again", "grant_revoked (account main cannot send)",
            "retry requested (was held)", "discarded by operator",
        ])
        // Every status change is a row with the same updated_at as its event.
        let record = try #require(try await store.message(id: id))
        #expect(record.status == .discarded)
        #expect(record.updatedAt == events.last?.at)
    }

    @Test func removingAnAccountFailsItsWaitingMailThroughTheLifecycle() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir.path)
        try await store.addAccount(name: "main", kind: .sandbox)
        let queued = try await store.accept(try spoolMessage(store))
        let sending = try await store.accept(try spoolMessage(store, status: .sending))
        let removal = try await store.removeAccount(named: "main")
        #expect(removal.messagesFailed == 1)
        #expect(try await store.message(id: queued)?.status == .failed)
        #expect(try await store.message(id: queued)?.problem == .accountRemoved)
        #expect(try await store.events(messageID: queued).last?.detail == "account main was removed")
        #expect(try await store.message(id: sending)?.status == .sending, "the send in flight finishes on its own")
    }

    /// The worker claims exactly the slots its lanes reserved: an account at capacity (0, or not in the
    /// map at all) has none of its rows claimed, and no account gets more than its slots.
    @Test func aClaimTakesOnlyTheReservedSlots() async throws {
        let dir = try TemporaryDirectory()
        let store = try openStore(dir.path)
        for name in ["shop", "blog", "news"] { try await store.addAccount(name: name, kind: .sandbox) }
        var ids: [String: [Int64]] = [:]
        for name in ["shop", "blog", "news"] {
            for _ in 0..<3 { ids[name, default: []].append(try await store.accept(try spoolMessage(store, account: name))) }
        }
        #expect(try await store.dueCounts(limit: 2) == ["shop": 2, "blog": 2, "news": 2])
        let claimed = try await store.claimDue(limit: 10, capacities: ["shop": 0, "blog": 2])
        #expect(claimed.map(\.id) == Array(ids["blog"]!.prefix(2)))
        #expect(claimed.allSatisfy { $0.status == .sending })
        for id in ids["shop"]! + ids["news"]! {
            #expect(try await store.message(id: id)?.status == .queued)
            #expect(try await store.events(messageID: id).map(\.kind.rawValue) == ["accepted"])
        }
        #expect(try await store.claimDue(limit: 10, capacities: [:]).isEmpty)
        #expect(try await store.claimDue(limit: 1, capacities: ["news": 5]).map(\.id) == [ids["news"]![0]], "the limit holds too")
    }

    private func attempt(_ id: Int64) -> NewAttempt {
        NewAttempt(messageID: id, startedAt: Date(), finishedAt: Date(), endpoint: "e", httpStatus: 200,
                   responseBody: "{}", problemCode: nil, nextDelaySeconds: nil)
    }
}

/// A temporary directory for a Swift Testing test, removed when the value goes.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "relaystore-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
