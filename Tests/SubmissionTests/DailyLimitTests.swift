import Foundation
import GRDB
import RelayVocabulary
import SMTPProtocol
import SMTPServer
import Testing
@testable import RelayStore
@testable import Submission

/// The per-login daily limit: counted in the real store, decided by intake at MAIL FROM.
@Suite struct DailyLimitTests {
    @Test func aLoginPastItsLimitIsRefusedAtMailFromAndAnotherLoginIsNot() async throws {
        let relay = try Relay()
        _ = try await relay.addLogin(state: .ok)
        try await relay.store.setCredentialDailyLimit(username: "site@example.com", limit: 2)
        try await relay.store.addCredential(username: "other@example.com", account: "main", password: "other horse battery", generated: true)
        let intake = relay.intake()
        let limited = try await relay.verify(intake, "site@example.com", "correct horse battery")
        let other = try await relay.verify(intake, "other@example.com", "other horse battery")
        #expect(limited.dailyLimit == 2 && intake.checksSender(for: limited))
        #expect(other.dailyLimit == nil && !intake.checksSender(for: other), "a login without a limit costs nothing at MAIL FROM")

        for _ in 0..<2 {
            #expect(await intake.admitSender(login: limited, mailFrom: "site@example.com", peer: Relay.peer) == nil)
            _ = try await relay.send(intake, login: limited)
        }
        let refusal = try #require(await intake.admitSender(login: limited, mailFrom: "site@example.com", peer: Relay.peer))
        #expect(refusal.code == 452 && refusal.enhancedCode == "4.5.3")
        let words = refusal.lines.joined()
        #expect(words.hasPrefix("Daily limit reached: login site@example.com may send 2 messages a day and has sent 2 today; the limit resets at 00:00 UTC ("))
        let usage = try await relay.store.dailyUsage(username: "site@example.com")
        #expect(words.contains(ISO8601.string(usage.resetsAt)))

        // The other login of the same account sends on.
        _ = try await relay.send(intake, login: other)
        #expect(await intake.admitSender(login: other, mailFrom: "site@example.com", peer: Relay.peer) == nil)

        // The limit is read at MAIL FROM: raised, the same session may go on.
        try await relay.store.setCredentialDailyLimit(username: "site@example.com", limit: 3)
        #expect(await intake.admitSender(login: limited, mailFrom: "site@example.com", peer: Relay.peer) == nil)
    }

    @Test func aLimitOfZeroRefusesTheFirstMessageAndOneSaysMessage() async throws {
        let relay = try Relay()
        _ = try await relay.addLogin(state: .ok)
        try await relay.store.setCredentialDailyLimit(username: "site@example.com", limit: 0)
        let login = try await relay.verify(relay.intake(), "site@example.com", "correct horse battery")
        let refusal = await relay.intake().admitSender(login: login, mailFrom: "a@example.com", peer: Relay.peer)
        #expect(refusal?.lines.first?.contains("may send 0 messages a day and has sent 0 today") == true)
        let one = SubmissionIntake.dailyLimitReply(
            username: "u", usage: DailyUsage(limit: 1, count: 1, since: Date(timeIntervalSince1970: 0)), limit: 1)
        #expect(one.lines == ["Daily limit reached: login u may send 1 message a day and has sent 1 today; the limit resets at 00:00 UTC (1970-01-02T00:00:00Z)"])
    }

    @Test func aStoreErrorAtMailFromIsATemporaryLocalProblem() async throws {
        let relay = try Relay()
        _ = try await relay.addLogin(state: .ok)
        try await relay.store.setCredentialDailyLimit(username: "site@example.com", limit: 5)
        let login = try await relay.verify(relay.intake(), "site@example.com", "correct horse battery")
        try await relay.store.pool.write { try $0.execute(sql: "ALTER TABLE messages RENAME TO messages_gone") }
        let reply = await relay.intake().admitSender(login: login, mailFrom: "a@example.com", peer: Relay.peer)
        #expect(reply == SMTPReply(451, "4.3.0", "Temporary local problem, try again later"))
    }
}

@Suite struct DailyUsageStoreTests {
    /// Messages of a login are counted from 00:00 UTC by the store's clock; yesterday's do not count.
    @Test func theCountStartsAtMidnightUTC() async throws {
        let clock = MovableClock(Date(timeIntervalSince1970: 1_764_806_399))  // 2025-12-03 23:59:59 UTC
        let relay = try Relay(clock: clock)
        _ = try await relay.addLogin(state: .ok)
        try await relay.store.setCredentialDailyLimit(username: "site@example.com", limit: 10)
        let login = try await relay.verify(relay.intake(), "site@example.com", "correct horse battery")
        _ = try await relay.send(relay.intake(), login: login)
        _ = try await relay.send(relay.intake(), login: nil, trusted: true)  // no login: not counted
        var usage = try await relay.store.dailyUsage(username: "site@example.com")
        #expect(usage == DailyUsage(limit: 10, count: 1, since: Date(timeIntervalSince1970: 1_764_720_000)))

        clock.now = Date(timeIntervalSince1970: 1_764_806_400)  // midnight: a new day
        usage = try await relay.store.dailyUsage(username: "site@example.com")
        #expect(usage.count == 0 && usage.since == clock.now && usage.resetsAt == clock.now.addingTimeInterval(86_400))
        _ = try await relay.send(relay.intake(), login: login)

        let listed = try await relay.store.credentials()
        #expect(listed.map(\.sentToday) == [1] && listed.map(\.dailyLimit) == [10])
        let json = String(decoding: try JSONEncoder().encode(listed[0]), as: UTF8.self)
        #expect(json.contains("\"daily_limit\":10") && json.contains("\"sent_today\":1"))

        try await relay.store.setCredentialDailyLimit(username: "site@example.com", limit: nil)
        #expect(try await relay.store.credentials().first?.dailyLimit == nil)
        await #expect(throws: StoreError.invalidDailyLimit(-1)) {
            try await relay.store.setCredentialDailyLimit(username: "site@example.com", limit: -1)
        }
        await #expect(throws: StoreError.unknownCredential("nobody")) {
            try await relay.store.setCredentialDailyLimit(username: "nobody", limit: 1)
        }
    }

    /// The count runs at each MAIL FROM of a limited login: it must use the index, not scan messages.
    @Test func theCountUsesTheIndex() async throws {
        let relay = try Relay()
        let plan = try await relay.store.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM messages WHERE credential_username = ? AND created_at >= ?",
                             arguments: ["u", 0]).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("messages_credential_created") }, "\(plan)")
    }
}

final class MovableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var _now: Date
    init(_ now: Date) { _now = now }
    var now: Date {
        get { lock.withLock { _now } }
        set { lock.withLock { _now = newValue } }
    }
}
