import Foundation
import GRDB
import RelayVocabulary
import XCTest
@testable import RelayStore

/// A clock tests move by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
        current = start
    }

    var now: Date {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    func advance(_ seconds: TimeInterval) {
        lock.lock()
        current += seconds
        lock.unlock()
    }
}

/// A fresh directory under the system temp dir, removed by the test's teardown.
func makeTemporaryDirectory(_ test: XCTestCase) -> String {
    let path = NSTemporaryDirectory() + "relaystore-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

func openStore(
    _ directory: String, clock: TestClock? = nil, faults: SpoolFaults = SpoolFaults(),
    hashing: PasswordHasher.Parameters = .testing
) throws -> RelayStore {
    var options = RelayStore.Options(passwordHashing: hashing, spoolFaults: faults)
    if let clock { options.clock = { clock.now } }
    return try RelayStore.open(dataDirectory: directory + "/data", options: options)
}

/// Spools `body` and returns the NewMessage the SMTP layer would hand over.
func spoolMessage(
    _ store: RelayStore, account: String = "main", body: String = "Subject: hi\r\n\r\nbody\r\n",
    from: String = "wordpress@example.org", to: [String] = ["alice@example.com"], subject: String? = "hi",
    status: MessageStatus = .queued, syncingDirectory: Bool = true
) throws -> NewMessage {
    let file = try store.spool.create()
    try file.write(Array(body.utf8))
    let path = try file.finish(syncingDirectory: syncingDirectory)
    return NewMessage(
        account: account, credentialUsername: "site1", peer: "127.0.0.1:50000", tls: false, mailFrom: from,
        recipients: to, subject: subject, messageID: "<\(UUID().uuidString)@example.org>",
        size: Int64(body.utf8.count), spoolPath: path, sandbox: false, status: status)
}

func fileMode(_ path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as! NSNumber).intValue
}

/// XCTAssertThrowsError for async code, checking the error.
func assertThrows<T>(
    _ expected: StoreError, file: StaticString = #filePath, line: UInt = #line, _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        XCTFail("expected \(expected), got no error", file: file, line: line)
    } catch let error as StoreError {
        XCTAssertEqual(error, expected, file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got \(error)", file: file, line: line)
    }
}

// Synchronous database access for assertions (inside async tests `pool.read` would pick GRDB's async overload).
func readSync<T>(_ store: RelayStore, _ body: (Database) throws -> T) throws -> T {
    try store.pool.read(body)
}

func writeSync<T>(_ store: RelayStore, _ body: (Database) throws -> T) throws -> T {
    try store.pool.write(body)
}

/// The product's paths, as the tests drive them.
extension RelayStore {
    /// Accepts one message the way SMTP does: through a GroupCommitter.
    func accept(_ message: NewMessage) async throws -> Int64 {
        try await GroupCommitter(store: self).accept(message).id
    }

    /// Claims due messages as the worker does, with `perAccount` slots reserved for each account that
    /// has due mail.
    func claimAll(limit: Int = 1000, perAccount: Int = 1000) async throws -> [MessageRecord] {
        let due = try await dueCounts(limit: limit)
        return try await claimDue(limit: limit, capacities: due.mapValues { min($0, perAccount) })
    }

    /// An SMTP login as the SMTP server checks it (`checkCredential`): the login, or nil.
    func verifiedLogin(username: String, password: String) async throws -> VerifiedCredential? {
        if case .valid(let login) = try await checkCredential(username: username, password: password) { return login }
        return nil
    }

    /// Ends an attempt on a message being sent (accepted `.sending` or claimed), as the deliverer does.
    @discardableResult
    func finish(_ id: Int64, _ outcome: AttemptReport.Outcome, attempts: [NewAttempt] = []) async throws -> AttemptEffects {
        guard let account = try await message(id: id)?.account else { throw StoreError.unknownMessage(id) }
        return try await finishAttempt(AttemptReport(messageID: id, account: account, attempts: attempts, outcome: outcome))
    }
}
