import Foundation
import RelayVocabulary
@testable import StoreModel
import Testing
@testable import RelayStore

/// The message lifecycle through the store API, on every store: accepting in each initial status, the
/// moves each path may make, the event each move writes, and the same StoreError for an illegal move.
@Suite struct LifecycleContractTests {
    @Test(arguments: StoreKind.allCases)
    func acceptThenReadBack(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, fromAddresses: ["me@example.com"])
            var message = spoolMessage(store, to: ["a@example.com", "b@example.com"], subject: "Order #42")
            message.tls = true
            message.rewrittenHeaders = "From: me@example.com\r\n"
            let id = try await store.accept(message)

            let record = try #require(await store.message(id: id))
            #expect(record.id == id)
            #expect(record.status == .queued)
            #expect(record.account == "main")
            #expect(record.accountID != nil)
            #expect(record.credentialUsername == "site1")
            #expect(record.recipients == ["a@example.com", "b@example.com"])
            #expect(record.subject == "Order #42")
            #expect(record.messageID == message.messageID)
            #expect(record.size == message.size)
            #expect(try await store.inlineBody(messageID: id) == message.inlineBody, "the body is kept with the message")
            #expect(record.tls)
            #expect(!record.sandbox)
            #expect(record.attempts == 0)
            #expect(record.createdAt == clock.now)
            #expect(record.nextAttemptAt == clock.now)
            #expect(record.rewrittenHeaders == "From: me@example.com\r\n")

            let events = try await store.events(messageID: id)
            #expect(events.map(\.kind.rawValue) == ["accepted"])
            #expect(events[0].detail.contains("2 recipient(s)"), "\(events[0].detail)")
            #expect(events[0].detail.contains("over TLS"), "\(events[0].detail)")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func acceptForUnknownAccountFails(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            await #expect(throws: StoreError.unknownAccount("gone")) { try await store.accept(spoolMessage(store, account: "gone")) }
            let all = try await store.messages()
            #expect(all.isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func heldOnAcceptRecordsWhy(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .needsReauth)
            var message = spoolMessage(store, status: .held)
            message.problemCode = .grantRevoked
            let id = try await store.accept(message)
            let record = try #require(await store.message(id: id))
            #expect(record.status == .held)
            #expect(record.problem == .grantRevoked)
            #expect(record.nextAttemptAt == nil)
            let kinds = try await store.events(messageID: id).map(\.kind.rawValue)
            #expect(kinds == ["accepted", "held"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aMessageIsNotAcceptedInAFinalState(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            for status in [MessageStatus.sent, .failed, .discarded] {
                await #expect(throws: StoreError.invalidInitialStatus(status)) {
                    try await store.accept(spoolMessage(store, status: status))
                }
            }
            #expect(try await store.messages().isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func anAttemptCannotEndOnAMessageNobodyIsSending(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            let queued = try await store.accept(spoolMessage(store))
            let held = try await store.accept(spoolMessage(store, status: .held))

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
    }

    @Test(arguments: StoreKind.allCases)
    func aSenderCannotPutAMessageBackInSendingNorDiscardIt(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            let id = try await store.accept(spoolMessage(store, status: .sending))
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
    }

    @Test(arguments: StoreKind.allCases)
    func eachMoveWritesItsEventInTheSameTransaction(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            let id = try await store.accept(spoolMessage(store))
            _ = try await store.claimAll()
            try await store.finish(id, .held(problemCode: .grantRevoked))
            _ = try await store.updateAccount(AccountUpdate(name: "main", afterwards: .readyToSend))
            try await store.recordGrantCheck(name: "main", at: store.now, .cannotSend(
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
    }

    @Test(arguments: StoreKind.allCases)
    func removingAnAccountFailsItsWaitingMailThroughTheLifecycle(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox)
            let queued = try await store.accept(spoolMessage(store))
            let sending = try await store.accept(spoolMessage(store, status: .sending))
            let removal = try await store.removeAccount(named: "main")
            #expect(removal.messagesFailed == 1)
            #expect(try await store.message(id: queued)?.status == .failed)
            #expect(try await store.message(id: queued)?.problem == .accountRemoved)
            #expect(try await store.events(messageID: queued).last?.detail == "account main was removed")
            #expect(try await store.message(id: sending)?.status == .sending, "the send in flight finishes on its own")
        }
    }

    /// The worker claims exactly the slots its lanes reserved: an account at capacity (0, or not in the
    /// map at all) has none of its rows claimed, and no account gets more than its slots.
    @Test(arguments: StoreKind.allCases)
    func aClaimTakesOnlyTheReservedSlots(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for name in ["shop", "blog", "news"] { try await store.addAccount(name: name, kind: .sandbox) }
            var ids: [String: [Int64]] = [:]
            for name in ["shop", "blog", "news"] {
                for _ in 0..<3 { ids[name, default: []].append(try await store.accept(spoolMessage(store, account: name))) }
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
    }

    /// The worker reads a claimed batch's accounts and small bodies ahead, in one go: each account as it
    /// is now, each body as received, and nothing for an account that is gone or a body the row lacks.
    @Test(arguments: StoreKind.allCases)
    func aClaimedBatchIsReadAheadWhole(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "shop", kind: .sandbox, fromAddresses: ["shop@example.com"])
            try await store.addAccount(name: "blog", kind: .sandbox, fromAddresses: ["blog@example.com"])
            let shop = try await store.accept(spoolMessage(store, account: "shop", body: "Subject: one\r\n\r\nfirst\r\n"))
            let blog = try await store.accept(spoolMessage(store, account: "blog", body: "Subject: two\r\n\r\nsecond\r\n"))
            let claimed = try await store.claimAll()
            #expect(Set(claimed.map(\.id)) == [shop, blog])
            try await store.setAccountState(name: "blog", state: .blocked, problemCode: .apiDisabled)

            let inputs = try await store.deliveryInputs(for: claimed)
            #expect(Set(inputs.accounts.keys) == ["shop", "blog"])
            #expect(inputs.accounts["shop"]?.fromAddresses == ["shop@example.com"])
            #expect(inputs.accounts["blog"]?.state == .blocked, "the account as it is now, not as it was at the claim")
            #expect(inputs.inlineBodies[shop] == Array("Subject: one\r\n\r\nfirst\r\n".utf8))
            #expect(inputs.inlineBodies[blog] == Array("Subject: two\r\n\r\nsecond\r\n".utf8))

            try await store.removeAccount(named: "blog")
            var gone = claimed.first { $0.id == blog }!
            gone.size = DeliveryInputs.bodyLimit + 1
            let later = try await store.deliveryInputs(for: [gone])
            #expect(later.accounts.isEmpty, "a removed account is not answered")
            #expect(later.inlineBodies.isEmpty, "a body over the read-ahead limit is left to the send")
        }
    }

    /// Each initial status as stored: queued is due at once, sending and held are not; each writes
    /// `accepted` (and held its reason too).
    @Test(arguments: StoreKind.allCases)
    func eachInitialStatusIsStoredWithItsEvents(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            var ids: [MessageStatus: Int64] = [:]
            for status in MessageLifecycle.initialStatuses {
                var message = spoolMessage(store, status: status)
                if status == .held { message.problemCode = .grantRevoked }
                let returned = try await store.intake.accept(message)
                let stored = try #require(try await store.message(id: returned.id))
                #expect(returned == stored, "the intake returns the row as stored (\(status.rawValue))")
                ids[status] = returned.id
            }
            #expect(try await store.message(id: ids[.queued]!)?.nextAttemptAt == clock.now)
            #expect(try await store.message(id: ids[.sending]!)?.nextAttemptAt == nil)
            #expect(try await store.message(id: ids[.held]!)?.nextAttemptAt == nil)
            #expect(try await store.events(messageID: ids[.queued]!).map(\.kind) == [.accepted])
            #expect(try await store.events(messageID: ids[.sending]!).map(\.kind) == [.accepted])
            #expect(try await store.events(messageID: ids[.held]!).map(\.kind) == [.accepted, .held])
            #expect(try await store.events(messageID: ids[.held]!).last?.detail == "grant_revoked")
            #expect(try await store.queueCounts() == QueueCounts(queued: 1, sending: 1, held: 1, failed: 0, sent24h: 0))
        }
    }

    /// One attempt's report, written together: the rewritten header and its note, the attempt row, the
    /// message's next status, the account's new state holding its other queued mail, the token's expiry;
    /// then a success that releases everything held.
    @Test(arguments: StoreKind.allCases)
    func anAttemptsReportChangesTheMessageAndItsAccountTogether(kind: StoreKind) async throws {
        let clock = TestClock()
        try await withStore(kind, clock: clock) { store in
            try await store.addAccount(name: "main", kind: .oauthUser, state: .ok)
            let queued = [try await store.accept(spoolMessage(store)), try await store.accept(spoolMessage(store))]
            let id = try await store.accept(spoolMessage(store, status: .sending))
            clock.advance(5)
            var report = AttemptReport(
                messageID: id, account: "main", rewrittenHeaders: "From: me@example.com\r\n", rewriteNote: "From rewritten to me@example.com",
                attempts: [NewAttempt(messageID: id, startedAt: clock.now - 1, finishedAt: clock.now, endpoint: "https://oauth2.googleapis.com/token",
                                      httpStatus: 400, responseBody: #"{"error":"invalid_grant"}"#, problemCode: .grantRevoked, nextDelaySeconds: nil)],
                outcome: .held(problemCode: .grantRevoked),
                accountChange: .state(.needsReauth, problemCode: .grantRevoked, detail: nil, holdQueued: true),
                tokenExpiresAt: clock.now + 3600)
            report.tokenScopes = ["https://www.googleapis.com/auth/gmail.send"]
            let effects = try await store.finishAttempt(report)
            #expect(effects == AttemptEffects(released: 0, alsoHeld: 2))

            let message = try #require(try await store.message(id: id))
            #expect(message.status == .held)
            #expect(message.problem == .grantRevoked)
            #expect(message.attempts == 1)
            #expect(message.rewrittenHeaders == "From: me@example.com\r\n")
            #expect(message.updatedAt == clock.now)
            #expect(try await store.events(messageID: id).map(\.kind) == [.accepted, .rewritten, .held])
            #expect(try await store.events(messageID: id)[1].detail == "From rewritten to me@example.com")
            #expect(try await store.attempts(messageID: id).map(\.problem) == [.grantRevoked])
            for other in queued { #expect(try await store.message(id: other)?.status == .held) }
            var account = try #require(try await store.account(named: "main"))
            #expect(account.state == .needsReauth)
            #expect(account.problemCode == .grantRevoked)
            #expect(account.tokenExpiresAt == clock.now + 3600)
            #expect(account.grantedScopes == ["https://www.googleapis.com/auth/gmail.send"])

            // The account sends again (a message sent synchronously): its held mail is released.
            clock.advance(60)
            let next = try await store.accept(spoolMessage(store, status: .sending))
            let success = try await store.finishAttempt(AttemptReport(
                messageID: next, account: "main", outcome: .sent(gmailID: "g1"), accountChange: .succeeded(at: clock.now)))
            #expect(success == AttemptEffects(released: 3, alsoHeld: 0))
            for other in queued + [id] {
                #expect(try await store.message(id: other)?.status == .queued)
                #expect(try await store.events(messageID: other).last?.kind == .released)
            }
            account = try #require(try await store.account(named: "main"))
            #expect(account.state == .ok)
            #expect(account.lastSuccessAt == clock.now)
            // A success while ok releases nothing and writes no state event.
            let stateEvents = try await store.events(account: "main").filter { $0.kind == .accountState }.count
            let again = try await store.accept(spoolMessage(store, status: .sending))
            #expect(try await store.finishAttempt(AttemptReport(
                messageID: again, account: "main", outcome: .sent(gmailID: "g2"), accountChange: .succeeded(at: clock.now))) == AttemptEffects())
            #expect(try await store.events(account: "main").filter { $0.kind == .accountState }.count == stateEvents)
        }
    }

    /// What an SMTP client put in the header comes back as it was: any Unicode, a tab, a backslash, a
    /// long subject; and the search finds it (a backslash is literal).
    @Test(arguments: StoreKind.allCases)
    func headerTextComesBackAsTheClientSentIt(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            let subjects = ["Grüße, 注文 #7 ✉️", "tab\there", "back\\slash C:\\temp", String(repeating: "long ", count: 2000)]
            for subject in subjects {
                var message = spoolMessage(store, subject: subject)
                message.messageID = "<\(subject.prefix(20))@example.org>"
                let id = try await store.accept(message)
                let record = try #require(try await store.message(id: id))
                #expect(record.subject == subject)
                #expect(record.messageID == message.messageID)
            }
            #expect(try await store.messages(query: "注文").map(\.subject) == [subjects[0]])
            #expect(try await store.messages(query: "C:\\temp").map(\.subject) == [subjects[2]], "a backslash is literal")
            #expect(try await store.messages(query: "\\").map(\.subject) == [subjects[2]])
        }
    }

    /// A NUL in a header's text (an encoded word can carry one: `Subject: =?utf-8?q?a=00b?=`) must not
    /// cost the message or its words. It did, differently: SQLite kept the subject only up to the NUL
    /// ("a"); PostgreSQL refused the whole message (text cannot hold 0x00: SQLSTATE 22021), so SMTP
    /// answered 451 to it for ever. NewMessage now stores it as U+FFFD on every store.
    @Test(arguments: StoreKind.allCases)
    func aNULInTheHeaderTextCostsNeitherTheMessageNorItsWords(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            let id = try await store.accept(spoolMessage(store, subject: "a\u{0}b"))
            let subject = try #require(try await store.message(id: id)?.subject)
            #expect(subject == "a\u{FFFD}b", "the words on both sides of the NUL are kept")
        }
    }

    private func attempt(_ id: Int64) -> NewAttempt {
        NewAttempt(messageID: id, startedAt: TestClock().now, finishedAt: TestClock().now, endpoint: "e", httpStatus: 200,
                   responseBody: "{}", problemCode: nil, nextDelaySeconds: nil)
    }
}
