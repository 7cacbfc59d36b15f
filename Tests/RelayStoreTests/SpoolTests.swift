import Foundation
import XCTest
@testable import RelayStore

final class SpoolTests: XCTestCase {
    private func listing(_ path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func testWriteChunksThenFinishMovesADurableFileIntoMessages() throws {
        let spool = try Spool(directory: makeTemporaryDirectory(self) + "/spool")
        let file = try spool.create()
        XCTAssertTrue(file.name.hasSuffix(".eml"))
        XCTAssertEqual(listing(spool.incomingDirectory), [file.name])
        XCTAssertEqual(try fileMode(file.incomingPath), 0o600)

        var expected: [UInt8] = []
        for i in 0..<5 {
            let chunk = [UInt8](repeating: UInt8(ascii: "a") + UInt8(i), count: 64 * 1024 + i)
            try chunk.withUnsafeBytes { try file.write($0) }
            expected += chunk
        }
        try file.write([])
        XCTAssertEqual(file.bytesWritten, expected.count)

        let path = try file.finish()
        XCTAssertEqual(path, spool.messagesDirectory + "/" + file.name)
        XCTAssertEqual(listing(spool.incomingDirectory), [])
        XCTAssertEqual(listing(spool.messagesDirectory), [file.name])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(expected))
        XCTAssertEqual(try fileMode(path), 0o600)

        XCTAssertThrowsError(try file.write([1])) { XCTAssertEqual($0 as? SpoolError, .notWritable) }
        XCTAssertThrowsError(try file.finish()) { XCTAssertEqual($0 as? SpoolError, .notWritable) }
        file.abandon() // no effect after finish
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
    }

    func testAbandonIsIdempotentAndDeinitAbandons() throws {
        let spool = try Spool(directory: makeTemporaryDirectory(self) + "/spool")
        let file = try spool.create()
        try file.write(Array("partial".utf8))
        file.abandon()
        file.abandon()
        XCTAssertEqual(listing(spool.incomingDirectory), [])
        XCTAssertThrowsError(try file.write([1])) { XCTAssertEqual($0 as? SpoolError, .notWritable) }

        do {
            let dropped = try spool.create()
            try dropped.write(Array("never finished".utf8))
            XCTAssertEqual(listing(spool.incomingDirectory).count, 1)
        }
        XCTAssertEqual(listing(spool.incomingDirectory), [], "deinit left the file")
        XCTAssertEqual(listing(spool.messagesDirectory), [])
    }

    func testQuotaSimulatesAFullDisk() throws {
        let spool = try Spool(directory: makeTemporaryDirectory(self) + "/spool", faults: SpoolFaults(quotaBytes: 100))
        let file = try spool.create()
        try file.write([UInt8](repeating: 1, count: 60))
        XCTAssertThrowsError(try file.write([UInt8](repeating: 2, count: 60))) { XCTAssertEqual($0 as? SpoolError, .diskFull) }
        // What fitted was written, as write(2) on a filling disk does.
        XCTAssertEqual(file.bytesWritten, 100)
        XCTAssertThrowsError(try file.write([3])) { XCTAssertEqual($0 as? SpoolError, .notWritable) }
        XCTAssertThrowsError(try file.finish()) { XCTAssertEqual($0 as? SpoolError, .notWritable) }
        file.abandon()
        XCTAssertEqual(listing(spool.incomingDirectory), [])
        XCTAssertEqual(listing(spool.messagesDirectory), [])
    }

    func testInjectedErrnoMapsToDiskFullOrIO() throws {
        for (code, expected) in [(ENOSPC, SpoolError.diskFull), (EDQUOT, .diskFull), (EIO, .io(EIO))] {
            let spool = try Spool(
                directory: makeTemporaryDirectory(self) + "/spool",
                faults: SpoolFaults(writeError: { offset, _ in offset >= 10 ? code : nil }))
            let file = try spool.create()
            try file.write([UInt8](repeating: 0, count: 10))
            XCTAssertThrowsError(try file.write([0])) { XCTAssertEqual($0 as? SpoolError, expected) }
            XCTAssertEqual(file.bytesWritten, 10)
        }
        XCTAssertEqual(SpoolError.diskFull.description, "the spool disk is full")
        XCTAssertTrue(SpoolError.io(EIO).description.contains("Input/output error"), SpoolError.io(EIO).description)
    }

    func testStoreOptionsReachTheSpool() async throws {
        let store = try openStore(makeTemporaryDirectory(self), faults: SpoolFaults(quotaBytes: 10))
        let file = try store.spool.create()
        XCTAssertThrowsError(try file.write([UInt8](repeating: 0, count: 11))) { XCTAssertEqual($0 as? SpoolError, .diskFull) }
    }

    func testCleanIncomingRemovesLeftovers() throws {
        let spool = try Spool(directory: makeTemporaryDirectory(self) + "/spool")
        let a = try spool.create()
        try a.write([1, 2, 3])
        let b = try spool.create()
        let kept = try b.finish()
        // Simulate a crash: the process died with `a` open (no abandon).
        _ = FileManager.default.createFile(atPath: spool.incomingDirectory + "/crashed.eml", contents: Data("x".utf8))
        XCTAssertEqual(spool.cleanIncoming(), 2)
        XCTAssertEqual(listing(spool.incomingDirectory), [])
        XCTAssertTrue(FileManager.default.fileExists(atPath: kept))
        a.abandon() // its file is gone already; still fine
    }

    func testOrphanCleanupRemovesOnlyOldUnreferencedFiles() async throws {
        let clock = TestClock(Date())
        let store = try openStore(makeTemporaryDirectory(self), clock: clock)
        try await store.addAccount(name: "main", kind: .sandbox)
        let referenced = try spoolMessage(store)
        let id = try await store.accept(referenced)

        // Crash between finish() and the commit: a body no row points to.
        let orphanFile = try store.spool.create()
        try orphanFile.write(Array("lost".utf8))
        let orphan = try orphanFile.finish()
        // A concurrent server's body that is about to be committed.
        let freshFile = try store.spool.create()
        let fresh = try freshFile.finish()

        let old = Date().addingTimeInterval(-120)
        for path in [orphan, referenced.spoolPath!] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path)
        }
        XCTAssertEqual(try store.removeOrphanSpoolFiles(), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: orphan))
        XCTAssertTrue(FileManager.default.fileExists(atPath: fresh), "a young file was removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: referenced.spoolPath!))
        let record = try await store.message(id: id)
        XCTAssertEqual(record?.spoolPath, referenced.spoolPath)

        clock.advance(120)
        XCTAssertEqual(try store.removeOrphanSpoolFiles(), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh))
        XCTAssertEqual(try store.removeOrphanSpoolFiles(), 0)
    }

    /// Small messages stay in memory (and go into the database); past the limit everything goes to a file.
    func testIncomingMessagesStayInMemoryUpToTheLimitThenSpill() throws {
        let spool = try Spool(directory: makeTemporaryDirectory(self) + "/spool")
        let small = spool.receive(inlineLimit: 100)
        try small.write(Array(repeating: UInt8(ascii: "a"), count: 60))
        try small.write(Array(repeating: UInt8(ascii: "b"), count: 40))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spool.incomingDirectory), [], "no file for a small message")
        XCTAssertEqual(try small.finish(), .inline(Array(repeating: UInt8(ascii: "a"), count: 60) + Array(repeating: UInt8(ascii: "b"), count: 40)))

        let large = spool.receive(inlineLimit: 100)
        try large.write(Array(repeating: UInt8(ascii: "a"), count: 60))
        try large.write(Array(repeating: UInt8(ascii: "b"), count: 41))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spool.incomingDirectory).count, 1)
        try large.write(Array(repeating: UInt8(ascii: "c"), count: 5))
        XCTAssertEqual(large.bytesWritten, 106)
        guard case .file(let path) = try large.finish() else { return XCTFail("a large message stayed in memory") }
        let expected = Array(repeating: UInt8(ascii: "a"), count: 60) + Array(repeating: UInt8(ascii: "b"), count: 41)
            + Array(repeating: UInt8(ascii: "c"), count: 5)
        XCTAssertEqual(FileManager.default.contents(atPath: path).map { Array($0) }, expected)

        let abandoned = spool.receive(inlineLimit: 10)
        try abandoned.write(Array(repeating: 1, count: 20))
        abandoned.abandon()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spool.incomingDirectory), [])
    }
}
