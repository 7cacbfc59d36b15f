import BuildInfo
import Foundation
import RelayStore
import RelayVocabulary

/// `gmail-relay backup` and `restore`: a directory with a consistent copy of the database, the bodies of
/// mail still to send (and of failed mail), optionally the secrets, and a manifest with every file's SHA-256.
public enum RelayBackup {
    public struct BackupSummary: Sendable {
        public var manifest: BackupManifest
        public var messages: [MessageStatus: Int]
        public var bodies: Int
        /// Bodies the database named that were gone from the spool when copied (purged or lost meanwhile).
        public var missingBodies: [Int64]
        /// With --include-key but there was no key file yet (no secret stored so far).
        public var keyAbsent: Bool
    }

    /// Writes a backup into `directory` (created 0700; an existing one must be empty). The database first
    /// (one snapshot), then the bodies its unfinished and failed rows name, then the secrets, the manifest last.
    /// The secrets, copied only with `includeKey`: the store's key file (`secret.key` or GMAIL_RELAY_SECRET_KEY_FILE)
    /// and the status page's token file.
    public static func create(
        _ store: RelayStore, webAdminTokenFile: String, into directory: String, includeKey: Bool, now: Date = Date()
    ) throws -> BackupSummary {
        try PrivateFiles.makeEmptyDirectory(directory, what: "the backup directory")
        let databasePath = directory + "/" + BackupManifest.database
        try store.backupDatabase(to: databasePath)
        var files: [BackupManifest.File] = [try entry(BackupManifest.database, in: directory)]

        try PrivateFiles.makeDirectory(directory + "/" + BackupManifest.spoolDirectory)
        var missing: [Int64] = []
        var bodies = 0
        for body in try RelayStore.bodiesToBackUp(databaseAt: databasePath) {
            let relative = BackupManifest.spoolDirectory + "/" + (body.spoolPath as NSString).lastPathComponent
            guard BackupManifest.isAllowed(relative), FileManager.default.fileExists(atPath: body.spoolPath) else {
                missing.append(body.messageID)
                continue
            }
            let copied = try PrivateFiles.copy(body.spoolPath, to: directory + "/" + relative)
            files.append(.init(path: relative, size: copied.size, sha256: copied.sha256))
            bodies += 1
        }

        var keyAbsent = false
        if includeKey {
            if FileManager.default.fileExists(atPath: store.secretKeyFile) {
                let copied = try PrivateFiles.copy(store.secretKeyFile, to: directory + "/" + BackupManifest.secretKey)
                files.append(.init(path: BackupManifest.secretKey, size: copied.size, sha256: copied.sha256))
            } else {
                keyAbsent = true
            }
            if FileManager.default.fileExists(atPath: webAdminTokenFile) {
                let copied = try PrivateFiles.copy(webAdminTokenFile, to: directory + "/" + BackupManifest.webAdminToken)
                files.append(.init(path: BackupManifest.webAdminToken, size: copied.size, sha256: copied.sha256))
            }
        }

        let manifest = BackupManifest(
            format: BackupManifest.currentFormat, version: RelayVersion.version, createdAt: iso8601(now),
            includesKey: files.contains { $0.path == BackupManifest.secretKey }, files: files)
        PrivateFiles.syncDirectory(directory + "/" + BackupManifest.spoolDirectory)
        try PrivateFiles.writeNew(Array(try encode(manifest)), to: directory + "/" + BackupManifest.fileName)
        PrivateFiles.syncDirectory(directory)
        return BackupSummary(
            manifest: manifest, messages: try RelayStore.messageCounts(databaseAt: databasePath), bodies: bodies,
            missingBodies: missing, keyAbsent: keyAbsent)
    }

    /// Reads the manifest and checks every file it lists: present, same size, same SHA-256.
    public static func verify(_ directory: String) throws -> BackupManifest {
        let path = directory + "/" + BackupManifest.fileName
        guard FileManager.default.fileExists(atPath: path) else { throw BackupError.notABackup(path: directory) }
        let manifest: BackupManifest
        do {
            manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw BackupError.unreadableManifest(path: path, reason: "\(error)")
        }
        guard manifest.format <= BackupManifest.currentFormat else { throw BackupError.unsupportedFormat(manifest.format) }
        guard manifest.files.contains(where: { $0.path == BackupManifest.database }) else {
            throw BackupError.missingFile(BackupManifest.database)
        }
        for file in manifest.files {
            guard BackupManifest.isAllowed(file.path) else { throw BackupError.unsafePath(file.path) }
            let full = directory + "/" + file.path
            guard FileManager.default.fileExists(atPath: full) else { throw BackupError.missingFile(file.path) }
            let actual = try PrivateFiles.checksum(full)
            guard actual.sha256 == file.sha256.lowercased(), actual.size == file.size else {
                throw BackupError.checksumMismatch(path: file.path, expectedSize: file.size, actualSize: actual.size)
            }
        }
        return manifest
    }

    public struct RestoreSummary: Sendable {
        public var manifest: BackupManifest
        public var bodies: Int
        /// Rows whose body was not in the backup (sent or discarded mail): kept without a body.
        public var rowsWithoutBody: Int
        public var keyRestored: Bool
        public var messages: [MessageStatus: Int]
    }

    /// Restores `backup` into `dataDirectory`, which must be empty or missing. Every checksum is verified
    /// before anything is written. The key goes to `secretKeyFile` (the data directory's or
    /// GMAIL_RELAY_SECRET_KEY_FILE); an existing different key there is never overwritten.
    public static func restore(from backup: String, into dataDirectory: String, secretKeyFile: String) throws -> RestoreSummary {
        let manifest = try verify(backup)
        let hasKey = manifest.files.contains { $0.path == BackupManifest.secretKey }
        var keyAlreadyThere = false
        if hasKey, FileManager.default.fileExists(atPath: secretKeyFile) {
            // A key outside data.dir (GMAIL_RELAY_SECRET_KEY_FILE) may already be in place: fine if it is this one.
            guard try PrivateFiles.checksum(secretKeyFile).sha256 == manifest.files.first(where: { $0.path == BackupManifest.secretKey })?.sha256 else {
                throw BackupError.keyFileDiffers(path: secretKeyFile)
            }
            keyAlreadyThere = true
        }
        try PrivateFiles.makeEmptyDirectory(dataDirectory, what: "the data directory (data.dir)")

        let databasePath = dataDirectory + "/" + BackupManifest.database
        try PrivateFiles.copy(backup + "/" + BackupManifest.database, to: databasePath)
        let messagesDirectory = dataDirectory + "/spool/messages"
        try PrivateFiles.makeDirectory(dataDirectory + "/spool")
        try PrivateFiles.makeDirectory(messagesDirectory)
        var restored = Set<String>()
        for file in manifest.files where file.path.hasPrefix(BackupManifest.spoolDirectory + "/") {
            let name = (file.path as NSString).lastPathComponent
            try PrivateFiles.copy(backup + "/" + file.path, to: messagesDirectory + "/" + name)
            restored.insert(name)
        }
        PrivateFiles.syncDirectory(messagesDirectory)
        let cleared = try RelayStore.relocateSpool(databaseAt: databasePath, messagesDirectory: messagesDirectory, restoredFiles: restored)

        if hasKey && !keyAlreadyThere {
            try PrivateFiles.copy(backup + "/" + BackupManifest.secretKey, to: secretKeyFile)
        }
        if manifest.files.contains(where: { $0.path == BackupManifest.webAdminToken }) {
            try PrivateFiles.copy(backup + "/" + BackupManifest.webAdminToken, to: dataDirectory + "/" + BackupManifest.webAdminToken)
        }
        PrivateFiles.syncDirectory(dataDirectory)
        return RestoreSummary(
            manifest: manifest, bodies: restored.count, rowsWithoutBody: cleared, keyRestored: hasKey,
            messages: try RelayStore.messageCounts(databaseAt: databasePath))
    }

    static func entry(_ relative: String, in directory: String) throws -> BackupManifest.File {
        let sum = try PrivateFiles.checksum(directory + "/" + relative)
        return BackupManifest.File(path: relative, size: sum.size, sha256: sum.sha256)
    }

    static func encode(_ manifest: BackupManifest) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(manifest) + Data("\n".utf8)
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
