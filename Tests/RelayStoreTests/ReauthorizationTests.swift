import Foundation
import GRDB
import RelayVocabulary
import XCTest
@testable import RelayStore

final class ReauthorizationTests: XCTestCase {
    func testNewGrantStateAddressAndReleaseTogether() async throws {
        let clock = TestClock()
        let store = try openStore(makeTemporaryDirectory(self), clock: clock)
        try await store.addAccount(name: "main", kind: .oauthUser, secret: Data("old grant".utf8), state: .ok)
        try await store.addAccount(name: "other", kind: .oauthUser, state: .ok)
        try await store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked, detail: ProblemDetail())
        let held = try await store.accept(try spoolMessage(store, account: "main", status: .held))
        let alsoHeld = try await store.accept(try spoolMessage(store, account: "main", status: .held))
        let otherHeld = try await store.accept(try spoolMessage(store, account: "other", status: .held))

        clock.advance(60)
        let consented = clock.now
        let result = try await store.recordReauthorization(
            name: "main", secret: Data("new grant".utf8), consentedAt: consented, address: "owner@example.com")
        XCTAssertEqual(result, RelayStore.Reauthorization(released: 2, addressAdded: true))

        let secret = try await store.accountSecret(named: "main")
        XCTAssertEqual(secret, Data("new grant".utf8))
        let account = try await XCTUnwrapAsync(await store.account(named: "main"))
        XCTAssertEqual(account.state, .ok)
        XCTAssertNil(account.problemCode)
        XCTAssertNil(account.problemDetail)
        XCTAssertEqual(account.consentedAt, consented)
        XCTAssertEqual(account.fromAddresses, ["owner@example.com"])
        for id in [held, alsoHeld] {
            let message = try await XCTUnwrapAsync(await store.message(id: id))
            XCTAssertEqual(message.status, .queued)
        }
        let untouched = try await XCTUnwrapAsync(await store.message(id: otherHeld))
        XCTAssertEqual(untouched.status, .held, "another account's held mail stays held")
        let kinds = try await store.events(account: "main").map(\.kind.rawValue)
        XCTAssertEqual(Array(kinds.prefix(2)), ["account_state", "account_secret"], "newest first: ok after the new secret")
        let messageKinds = try await store.events(messageID: held).map(\.kind.rawValue)
        XCTAssertEqual(messageKinds.last, "released")
    }

    func testExistingAddressesStayAndBadInputChangesNothing() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .oauthUser, fromAddresses: ["alias@example.com"], secret: Data("old".utf8))
        let kept = try await store.recordReauthorization(
            name: "main", secret: Data("new".utf8), consentedAt: Date(), address: "owner@example.com")
        XCTAssertFalse(kept.addressAdded)
        let account = try await XCTUnwrapAsync(await store.account(named: "main"))
        XCTAssertEqual(account.fromAddresses, ["alias@example.com"])

        await assertThrows(.invalidAddress("not an address")) {
            try await store.recordReauthorization(name: "main", secret: Data("bad".utf8), consentedAt: Date(), address: "not an address")
        }
        await assertThrows(.unknownAccount("nobody")) {
            try await store.recordReauthorization(name: "nobody", secret: Data("x".utf8), consentedAt: Date(), address: nil)
        }
        let secret = try await store.accountSecret(named: "main")
        XCTAssertEqual(secret, Data("new".utf8), "a refused call stores nothing")
    }
}
