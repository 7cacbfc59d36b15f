import Foundation
import RelayStore
import RelayVocabulary
import Testing
@testable import RelayBackup

/// Backup and restore against real SQLite files and spool files in temp directories.
@Suite struct BackupRestore {
    final class Scratch: @unchecked Sendable {
        let root = NSTemporaryDirectory() + "relaybackup-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: root) }
        var data: String { root + "/data" }
        var backup: String { root + "/backup" }
        var restored: String { root + "/restored" }

        func open(_ directory: String) throws -> RelayStore {
            try RelayStore.open(dataDirectory: directory, options: .init(passwordHashing: .testing))
        }

        func webAdminTokenFile(_ store: RelayStore) -> String { store.dataDirectory + "/web-admin-token" }
    }

    static func addMessage(_ store: RelayStore, body: String, status: MessageStatus = .queued) async throws -> Int64 {
        let file = try store.spool.create()
        try file.write(Array(body.utf8))
        let path = try file.finish()
        return try await GroupCommitter(store: store).accept(NewMessage(
            account: "shop", credentialUsername: nil, peer: "127.0.0.1:50000", tls: false, mailFrom: "site@example.org",
            recipients: ["reader@example.com"], subject: "s", messageID: nil, size: Int64(body.utf8.count),
            spoolPath: path, sandbox: false, status: status, problemCode: nil)).id
    }

    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func restoredRelayHasTheDatabaseBodiesAndKey() async throws {
        let s = try Scratch()
        let store = try s.open(s.data)
        try await store.addAccount(name: "shop", kind: .oauthUser, fromAddresses: ["shop@example.com"], secret: Data("refresh-token".utf8), state: .ok)
        let queued = try await Self.addMessage(store, body: "Subject: queued\r\n\r\nstill to send\r\n")
        let held = try await Self.addMessage(store, body: "Subject: held\r\n\r\nheld body\r\n", status: .held)
        let sent = try await Self.addMessage(store, body: "Subject: sent\r\n\r\nalready sent\r\n", status: .sending)
        try await store.finishAttempt(AttemptReport(messageID: sent, account: "shop", outcome: .sent(gmailID: "g1")))
        try Data("token\n".utf8).write(to: URL(fileURLWithPath: s.data + "/web-admin-token"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: s.data + "/web-admin-token")

        let summary = try RelayBackup.create(store, webAdminTokenFile: s.webAdminTokenFile(store), into: s.backup, includeKey: true)
        #expect(summary.bodies == 2, "queued and held bodies; the sent one is left out")
        #expect(summary.manifest.includesKey)
        #expect(Set(summary.manifest.files.map(\.path)).isSuperset(of: ["relay.sqlite", "secret.key", "web-admin-token"]))
        #expect(try Self.mode(s.backup) == 0o700)
        for file in summary.manifest.files { #expect(try Self.mode(s.backup + "/" + file.path) == 0o600, "\(file.path)") }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: s.backup + "/manifest.json"))) as? [String: Any]
        #expect(manifest?["version"] as? String != nil && manifest?["created_at"] as? String != nil)
        #expect(((manifest?["files"] as? [[String: Any]])?.first?["sha256"] as? String)?.count == 64)
        // The live store keeps working after a backup.
        _ = try await Self.addMessage(store, body: "Subject: after\r\n\r\nnot in the backup\r\n")
        try store.close()

        let restored = try RelayBackup.restore(from: s.backup, into: s.restored, secretKeyFile: s.restored + "/secret.key")
        #expect(restored.keyRestored && restored.bodies == 2 && restored.rowsWithoutBody == 1)
        #expect(try Self.mode(s.restored) == 0o700)
        let copy = try s.open(s.restored)
        defer { try? copy.close() }
        #expect(try await copy.message(id: queued)?.status == .queued)
        #expect(try await copy.message(id: held)?.status == .held)
        #expect(try await copy.message(id: sent)?.status == .sent)
        #expect(try await copy.message(id: sent + 1) == nil, "written after the snapshot")
        let queuedPath = try #require(try await copy.message(id: queued)?.spoolPath)
        #expect(queuedPath.hasPrefix(s.restored + "/spool/messages/"))
        #expect(try String(contentsOfFile: queuedPath, encoding: .utf8) == "Subject: queued\r\n\r\nstill to send\r\n")
        #expect(try await copy.message(id: sent)?.spoolPath == nil, "a sent body is not in the backup")
        #expect(try await copy.accountSecret(named: "shop") == Data("refresh-token".utf8), "the grant opens with the restored key")
        #expect(try String(contentsOfFile: s.restored + "/web-admin-token", encoding: .utf8) == "token\n")
    }

    @Test func withoutIncludeKeyNoSecretIsCopied() async throws {
        let s = try Scratch()
        let store = try s.open(s.data)
        defer { try? store.close() }
        try await store.addAccount(name: "shop", kind: .oauthUser, secret: Data("grant".utf8), state: .ok)
        try Data("token\n".utf8).write(to: URL(fileURLWithPath: s.data + "/web-admin-token"))
        let summary = try RelayBackup.create(store, webAdminTokenFile: s.webAdminTokenFile(store), into: s.backup, includeKey: false)
        #expect(!summary.manifest.includesKey)
        #expect(!FileManager.default.fileExists(atPath: s.backup + "/secret.key"))
        #expect(!FileManager.default.fileExists(atPath: s.backup + "/web-admin-token"))
        let restored = try RelayBackup.restore(from: s.backup, into: s.restored, secretKeyFile: s.restored + "/secret.key")
        #expect(!restored.keyRestored)
        #expect(!FileManager.default.fileExists(atPath: s.restored + "/secret.key"))
    }

    @Test func aDamagedBackupIsRefusedBeforeAnythingIsWritten() async throws {
        let s = try Scratch()
        let store = try s.open(s.data)
        try await store.addAccount(name: "shop", kind: .sandbox, state: .ok)
        _ = try await Self.addMessage(store, body: "Subject: q\r\n\r\nbody\r\n")
        let summary = try RelayBackup.create(store, webAdminTokenFile: s.webAdminTokenFile(store), into: s.backup, includeKey: false)
        try store.close()
        let body = try #require(summary.manifest.files.first { $0.path.hasPrefix("spool/") })
        // Same size, one byte changed.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: s.backup + "/" + body.path))
        bytes[bytes.count - 3] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: s.backup + "/" + body.path))
        #expect(throws: BackupError.checksumMismatch(path: body.path, expectedSize: body.size, actualSize: body.size)) {
            try RelayBackup.restore(from: s.backup, into: s.restored, secretKeyFile: s.restored + "/secret.key")
        }
        #expect(!FileManager.default.fileExists(atPath: s.restored), "nothing was written")
    }

    @Test func restoreRefusesANonEmptyDataDirectoryAndBackupRefusesANonEmptyTarget() async throws {
        let s = try Scratch()
        let store = try s.open(s.data)
        defer { try? store.close() }
        #expect(throws: BackupError.self) { try RelayBackup.create(store, webAdminTokenFile: s.webAdminTokenFile(store), into: s.data, includeKey: false) }
        _ = try RelayBackup.create(store, webAdminTokenFile: s.webAdminTokenFile(store), into: s.backup, includeKey: false)
        do {
            _ = try RelayBackup.restore(from: s.backup, into: s.data, secretKeyFile: s.data + "/secret.key")
            Issue.record("restored over a live data directory")
        } catch let error as BackupError {
            guard case .directoryNotEmpty(let path, _, _) = error else { Issue.record("\(error)"); return }
            #expect(path == s.data)
            #expect("\(error)".contains("not empty"))
        }
    }

    @Test func aManifestNamingOtherFilesIsRefused() throws {
        #expect(BackupManifest.isAllowed("spool/0f1e2d3c-aaaa-4bbb-8ccc-1234567890ab.eml"))
        #expect(BackupManifest.isAllowed("relay.sqlite"))
        for path in ["../relay.sqlite", "/etc/passwd", "spool/../../x.eml", "spool/a/b.eml", "spool/.eml", "other.txt"] {
            #expect(!BackupManifest.isAllowed(path), "\(path)")
        }
    }

    @Test func anInterruptedBackupIsNotABackup() throws {
        let s = try Scratch()
        try FileManager.default.createDirectory(atPath: s.backup, withIntermediateDirectories: true)
        #expect(throws: BackupError.notABackup(path: s.backup)) { try RelayBackup.verify(s.backup) }
    }
}
