import Foundation
import RelayVocabulary
import Testing
@testable import RelayStore

/// The message lifecycle's table of allowed moves (the stores' paths are tested on both stores in
/// Tests/StoreContractTests/LifecycleContractTests).
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
}
