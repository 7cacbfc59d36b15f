import Foundation
import RelayVocabulary
import StoreModel
import Testing

/// What concurrent callers get, on every store: SMTP sessions accepting at once, deliveries finishing at
/// once, and two processes (SQLite: the server and the CLI on one directory; PostgreSQL: two relays on
/// one database) claiming at once.
@Suite struct ConcurrencyContractTests {
    /// Each message is durable with its own row when its accept returns; one for an unknown account fails
    /// alone. (SQLite batches them in shared transactions: RelayStoreTests/GroupCommitTests counts those.)
    @Test(arguments: StoreKind.allCases)
    func concurrentAcceptsEachGetTheirOwnRowAndAFailureStaysAlone(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            let messages = (0..<40).map { i in spoolMessage(store, subject: "m\(i)") } + [spoolMessage(store, account: "gone")]
            let results = await withTaskGroup(of: (String?, Result<MessageRecord, any Error>).self) { group in
                for message in messages {
                    group.addTask {
                        do { return (message.subject, .success(try await store.intake.accept(message))) } catch { return (message.subject, .failure(error)) }
                    }
                }
                return await group.reduce(into: [(String?, Result<MessageRecord, any Error>)]()) { $0.append($1) }
            }
            var ids: [Int64] = []
            for (subject, result) in results {
                switch result {
                case .success(let record):
                    #expect(record.subject == subject)
                    ids.append(record.id)
                case .failure(let error):
                    #expect(error as? StoreError == .unknownAccount("gone"), "\(error)")
                }
            }
            #expect(Set(ids).count == 40)
            let stored = try await store.messages(limit: 100)
            #expect(Set(stored.map(\.id)) == Set(ids), "every message is stored when its accept returns")
            #expect(Set(stored.compactMap(\.subject)) == Set((0..<40).map { "m\($0)" }))
        }
    }

    /// Attempts finishing together all land; one that cannot be applied (its message is unknown) fails
    /// alone with `unknownMessage`.
    @Test(arguments: StoreKind.allCases)
    func concurrentAttemptsAllLandAndAnUnknownMessageFailsAlone(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            try await store.addAccount(name: "main", kind: .sandbox, state: .ok)
            var ids: [Int64] = []
            for _ in 0..<24 { ids.append(try await store.accept(spoolMessage(store, status: .sending))) }
            let unknown: Int64 = 999_999
            let results = await withTaskGroup(of: (Int64, StoreError?).self) { group in
                for id in ids + [unknown] {
                    group.addTask {
                        let report = AttemptReport(messageID: id, account: "main", outcome: .sent(gmailID: "g-\(id)"))
                        do {
                            try await store.finishAttempt(report)
                            return (id, nil)
                        } catch {
                            return (id, error as? StoreError ?? .unknownAccount("not a StoreError: \(error)"))
                        }
                    }
                }
                return await group.reduce(into: [Int64: StoreError?]()) { $0[$1.0] = $1.1 }
            }
            #expect(results[unknown] == .some(.unknownMessage(unknown)))
            #expect(ids.filter { results[$0] == .some(nil) }.count == 24, "the others commit")
            for id in ids {
                let message = try await store.message(id: id)
                #expect(message?.status == .sent)
                #expect(message?.gmailID == "g-\(id)")
            }
        }
    }

    /// Two processes claiming due mail at the same moment never get the same message, and each claim
    /// takes what its slots allow while mail is due: 60 due messages (30 per account), 15 claims of
    /// 2 + 2 slots between the two, so every claim must come back full.
    @Test(arguments: StoreKind.allCases)
    func twoInstancesClaimingAtOnceNeverGetTheSameMessage(kind: StoreKind) async throws {
        try await withStore(kind) { store in
            for name in ["shop", "blog"] { try await store.addAccount(name: name, kind: .sandbox, state: .ok) }
            var all: Set<Int64> = []
            for i in 0..<60 { all.insert(try await store.accept(spoolMessage(store, account: i % 2 == 0 ? "shop" : "blog"))) }
            let other = try await store.openAnother(nil)
            // Both connected before the race starts, so neither is done before the other begins.
            _ = try await store.queueCounts()
            _ = try await other.queueCounts()
            let claimers = [(store, 8), (other, 7)]
            let claims = try await withThrowingTaskGroup(of: [[Int64]].self) { group in
                for (claimer, rounds) in claimers {
                    group.addTask {
                        var batches: [[Int64]] = []
                        for _ in 0..<rounds {
                            batches.append(try await claimer.claimDue(limit: 4, capacities: ["shop": 2, "blog": 2]).map(\.id))
                        }
                        return batches
                    }
                }
                return try await group.reduce(into: [[Int64]]()) { $0 += $1 }
            }
            let everything = claims.flatMap { $0 }
            #expect(everything.count == Set(everything).count, "a message was claimed twice")
            #expect(claims.map(\.count) == Array(repeating: 4, count: 15), "a claim came back short while mail was due")
            #expect(Set(everything) == all, "every due message was claimed once")
            #expect(try await store.queueCounts().sending == everything.count)
        }
    }
}
