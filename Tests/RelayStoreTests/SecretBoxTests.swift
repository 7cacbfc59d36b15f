import Crypto
import Foundation
import XCTest
@testable import RelayStore

final class SecretBoxTests: XCTestCase {
    func testRoundTripAndTamperDetection() throws {
        let box = SecretBox(key: SymmetricKey(size: .bits256))
        let secret = Data("refresh-token-1//abc".utf8)
        let sealed = try box.seal(secret)
        XCTAssertEqual(sealed.first, 1, "version byte")
        XCTAssertEqual(sealed.count, 1 + 12 + secret.count + 16)
        XCTAssertNil(sealed.range(of: secret))
        XCTAssertEqual(try box.open(sealed), secret)
        XCTAssertNotEqual(try box.seal(secret), sealed, "nonces must differ")

        for index in [0, 1, 13, sealed.count - 1] {
            var tampered = sealed
            tampered[tampered.startIndex + index] ^= 0x01
            XCTAssertThrowsError(try box.open(tampered), "flipped byte \(index)")
        }
        XCTAssertThrowsError(try box.open(sealed.dropLast()))
        XCTAssertThrowsError(try box.open(Data()))
        XCTAssertThrowsError(try SecretBox(key: SymmetricKey(size: .bits256)).open(sealed), "other key")

        let bound = try box.seal(secret, context: Data("account:a".utf8))
        XCTAssertEqual(try box.open(bound, context: Data("account:a".utf8)), secret)
        XCTAssertThrowsError(try box.open(bound, context: Data("account:b".utf8)))
        XCTAssertThrowsError(try box.open(bound))
    }

    func testKeyFileIsCreatedPrivateAndReused() throws {
        let dir = makeTemporaryDirectory(self)
        let path = dir + "/secret.key"
        let first = try SecretBox.loadOrCreate(keyFile: path)
        XCTAssertEqual(try fileMode(path), 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))?.count, 32)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertEqual(leftovers, ["secret.key"], "temporary file left behind")

        let second = try SecretBox.loadOrCreate(keyFile: path)
        XCTAssertEqual(try second.open(try first.seal(Data("x".utf8))), Data("x".utf8))
        XCTAssertNil(try SecretBox.load(keyFile: dir + "/absent.key"))
    }

    func testRacingCreatorsAgreeOnOneKey() throws {
        let path = makeTemporaryDirectory(self) + "/secret.key"
        let boxes = LockedValue<[SecretBox]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let box = try! SecretBox.loadOrCreate(keyFile: path)
            boxes.withLock { $0.append(box) }
        }
        let all = boxes.withLock { $0 }
        let sealed = try all[0].seal(Data("same key".utf8))
        for box in all {
            XCTAssertEqual(try box.open(sealed), Data("same key".utf8))
        }
    }

    func testKeyFileReadableByOthersIsRefused() throws {
        let dir = makeTemporaryDirectory(self)
        let path = dir + "/secret.key"
        _ = try SecretBox.loadOrCreate(keyFile: path)
        for mode in [0o644, 0o640, 0o604, 0o620] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
            XCTAssertThrowsError(try SecretBox.loadOrCreate(keyFile: path)) { error in
                XCTAssertEqual(error as? StoreError, .secretKeyTooOpen(path: path, mode: UInt32(0o100000 | mode)))
                XCTAssertTrue("\(error)".contains("chmod 600 \(path)"), "\(error)")
                XCTAssertTrue("\(error)".contains(String(mode, radix: 8)), "\(error)")
            }
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        XCTAssertNoThrow(try SecretBox.loadOrCreate(keyFile: path))
    }

    func testStoreRefusesToOpenWithAKeyFileOpenToOthers() async throws {
        let dir = makeTemporaryDirectory(self)
        let keyPath = dir + "/elsewhere.key"
        _ = FileManager.default.createFile(
            atPath: keyPath, contents: Data(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString().utf8),
            attributes: [.posixPermissions: 0o644])
        XCTAssertThrowsError(try RelayStore.open(
            dataDirectory: dir + "/data", options: .init(secretKeyFile: keyPath, passwordHashing: .testing))) { error in
            XCTAssertEqual(error as? StoreError, .secretKeyTooOpen(path: keyPath, mode: 0o100644))
            XCTAssertTrue("\(error)".contains("run `chmod 600 \(keyPath)`"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/data/secret.key"))
        chmod(keyPath, 0o600)
        let store = try RelayStore.open(dataDirectory: dir + "/data", options: .init(secretKeyFile: keyPath, passwordHashing: .testing))
        XCTAssertEqual(store.secretKeyFile, keyPath)
    }

    func testDataDirectoryAndDatabaseFilesArePrivate() async throws {
        let dir = makeTemporaryDirectory(self)
        let store = try RelayStore.open(dataDirectory: dir + "/data", options: .init(passwordHashing: .testing))
        try await store.addAccount(name: "main", kind: .oauthUser, secret: Data("t".utf8))
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
        }
        XCTAssertEqual(try mode(dir + "/data"), 0o700)
        XCTAssertEqual(try mode(dir + "/data/spool"), 0o700)
        for file in ["relay.sqlite", "relay.sqlite-wal", "relay.sqlite-shm", "secret.key"] {
            XCTAssertEqual(try mode(dir + "/data/" + file), 0o600, file)
        }
        try store.close()
        // An existing directory open to other users: refused, with the chmod to run.
        chmod(dir + "/data", 0o755)
        XCTAssertThrowsError(try RelayStore.open(dataDirectory: dir + "/data", options: .init(passwordHashing: .testing))) { error in
            XCTAssertEqual(error as? StoreError, .dataDirectoryTooOpen(path: dir + "/data", mode: 0o40755))
            XCTAssertTrue("\(error)".contains("run `chmod 700 \(dir)/data`"), "\(error)")
        }
        chmod(dir + "/data", 0o700)
        XCTAssertNoThrow(try RelayStore.open(dataDirectory: dir + "/data", options: .init(passwordHashing: .testing)))
    }

    func testKeyFileContentIsValidated() throws {
        let dir = makeTemporaryDirectory(self)
        func write(_ data: Data) -> String {
            let path = dir + "/k-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
            return path
        }
        let raw = Data((0..<32).map { UInt8($0) })
        XCTAssertNotNil(try SecretBox.load(keyFile: write(raw)), "raw 32 bytes")
        XCTAssertNotNil(try SecretBox.load(keyFile: write(Data((raw.base64EncodedString() + "\n").utf8))), "base64")
        for bad in [Data("too short".utf8), Data(Data(count: 16).base64EncodedString().utf8), Data()] {
            let path = write(bad)
            XCTAssertThrowsError(try SecretBox.load(keyFile: path)) { error in
                guard case .secretKeyInvalid(let p, _) = error as? StoreError else { return XCTFail("\(error)") }
                XCTAssertEqual(p, path)
            }
        }
        XCTAssertThrowsError(try SecretBox.load(keyFile: dir)) { error in
            guard case .secretKeyInvalid = error as? StoreError else { return XCTFail("\(error)") }
        }
    }
}
