import Foundation
import GRDB
import XCTest
@testable import RelayStore

final class StoreTests: XCTestCase {
    func testFreshDirectoryGetsSchemaDurabilitySettingsAndPrivateModes() throws {
        let dir = makeTemporaryDirectory(self)
        let store = try openStore(dir)
        XCTAssertEqual(try fileMode(dir + "/data"), 0o700)
        XCTAssertEqual(try fileMode(dir + "/data/spool/incoming"), 0o700)
        XCTAssertEqual(try fileMode(dir + "/data/spool/messages"), 0o700)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/data/relay.sqlite"))
        // The key is only created when a secret is first stored.
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/data/secret.key"))

        let tables = try readSync(store) { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%' ORDER BY name")
        }
        XCTAssertEqual(tables, ["accounts", "attempts", "credentials", "events", "message_bodies", "messages"])

        let messageColumns = try readSync(store) { db in try db.columns(in: "messages").map(\.name) }
        for column in ["id", "status", "account", "account_id", "credential_username", "peer", "tls", "mail_from",
                       "recipients", "subject", "message_id", "size", "spool_path", "gmail_id", "sandbox",
                       "problem_code", "attempts", "next_attempt_at", "rewritten_headers", "created_at", "updated_at"] {
            XCTAssertTrue(messageColumns.contains(column), "messages.\(column) missing")
        }

        // synchronous=FULL (2) on the writer and on readers, WAL journal.
        XCTAssertEqual(try writeSync(store) { try Int.fetchOne($0, sql: "PRAGMA synchronous") }, 2)
        XCTAssertEqual(try readSync(store) { try Int.fetchOne($0, sql: "PRAGMA synchronous") }, 2)
        XCTAssertEqual(try readSync(store) { try String.fetchOne($0, sql: "PRAGMA journal_mode") }, "wal")
        XCTAssertEqual(try readSync(store) { try Bool.fetchOne($0, sql: "PRAGMA foreign_keys") }, true)
    }

    func testCheckConstraintsRejectUnknownStatus() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try await store.addAccount(name: "main", kind: .sandbox)
        let id = try await store.accept(try spoolMessage(store))
        XCTAssertThrowsError(try writeSync(store) { db in
            try db.execute(sql: "UPDATE messages SET status = 'lost' WHERE id = ?", arguments: [id])
        })
    }

    func testReopenedStoreStillHasTheRow() async throws {
        let dir = makeTemporaryDirectory(self)
        var store: RelayStore? = try openStore(dir)
        try await store!.addAccount(name: "main", kind: .sandbox)
        let id = try await store!.accept(try spoolMessage(store!, subject: "survives"))
        try store!.close()
        store = nil

        let reopened = try openStore(dir)
        let record = try await XCTUnwrapAsync(await reopened.message(id: id))
        XCTAssertEqual(record.subject, "survives")
        XCTAssertTrue(FileManager.default.fileExists(atPath: record.spoolPath!))
        // Migrations are not applied twice.
        let applied = try readSync(reopened) { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        XCTAssertEqual(applied, [
            "v1", "v2", "v3", "v4", "v5-stats-index-key-age", "v5-attempt-problem", "v6-credential-daily-limit", "v7-account-fallback",
        ])
    }

    func testClosedStoreRefusesWork() async throws {
        let store = try openStore(makeTemporaryDirectory(self))
        try store.close()
        do {
            _ = try await store.accounts()
            XCTFail("a closed store answered")
        } catch {}
    }

    func testSecondInstanceReadsAndWritesWhileFirstWrites() async throws {
        let dir = makeTemporaryDirectory(self)
        let server = try openStore(dir)
        let cli = try openStore(dir)
        try await server.addAccount(name: "main", kind: .sandbox)

        let total = 40
        let messages = try (0..<total).map { i in try spoolMessage(server, subject: "m\(i)") }
        async let writes: [Int64] = {
            var ids: [Int64] = []
            for m in messages { ids.append(try await server.accept(m)) }
            return ids
        }()
        // Meanwhile the "CLI" reads and writes through its own connections.
        var seen: [Int] = []
        for i in 0..<20 {
            seen.append(try await cli.queueCounts().queued)
            if i == 5 { try await cli.addAccount(name: "other", kind: .sandbox) }
        }
        let ids = try await writes
        XCTAssertEqual(Set(ids).count, total)
        XCTAssertEqual(seen, seen.sorted(), "reader saw the queue shrink: \(seen)")
        let counts = try await cli.queueCounts()
        XCTAssertEqual(counts.queued, total)
        let names = try await server.accounts().map(\.name)
        XCTAssertEqual(names, ["main", "other"])
    }

    func testConcurrentFirstOpenMigratesOnce() throws {
        let dir = makeTemporaryDirectory(self)
        let results = LockedValue<[Result<RelayStore, Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            let result = Result { try openStore(dir) }
            results.withLock { $0.append(result) }
        }
        let stores = try results.withLock { $0 }.map { try $0.get() }
        XCTAssertEqual(stores.count, 4)
        let applied = try readSync(stores[0]) { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        XCTAssertEqual(applied, [
            "v1", "v2", "v3", "v4", "v5-stats-index-key-age", "v5-attempt-problem", "v6-credential-daily-limit", "v7-account-fallback",
        ])
    }

    func testDatabaseFromANewerVersionIsRefused() async throws {
        let dir = makeTemporaryDirectory(self)
        let store = try openStore(dir)
        try writeSync(store) { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v999-future')") }
        try store.close()
        XCTAssertThrowsError(try openStore(dir)) { error in
            guard case .databaseTooNew = error as? StoreError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("newer gmail-relay"))
        }
    }

    func testAFileWhereTheDataDirectoryShouldBeIsAClearError() throws {
        let dir = makeTemporaryDirectory(self)
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/data", contents: Data()))
        XCTAssertThrowsError(try openStore(dir)) { error in
            XCTAssertEqual(error as? StoreError, .cannotCreateDirectory(path: dir + "/data", errno: ENOTDIR))
            XCTAssertEqual("\(error)", "cannot create directory \(dir)/data: Not a directory")
        }
    }
}

func XCTUnwrapAsync<T>(_ value: T?, file: StaticString = #filePath, line: UInt = #line) async throws -> T {
    try XCTUnwrap(value, file: file, line: line)
}
