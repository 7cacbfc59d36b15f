import ArgumentParser
import Foundation
import RelayBackup
import RelayConfig
import RelayStore
import RelayVocabulary

/// `gmail-relay backup DIR [--include-key]`: safe while `serve` runs (see docs/operations.md).
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the database, the bodies of unsent and failed mail, and a checksummed manifest into DIR (safe while serve runs)."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A new (or empty) directory for the backup; it is made 0700.") var directory: String
    @Flag(help: "Also copy the secret key (and the status page token file): the backup then unlocks every stored Google grant.")
    var includeKey = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        try Self.refuseSharedStore(configuration)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.dataDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OperatorError("\(BackupError.noDataDirectory(path: configuration.dataDirectory))")
        }
        let store = try global.openSQLiteStore(configuration)
        let summary: RelayBackup.BackupSummary
        do {
            summary = try RelayBackup.create(
                store, webAdminTokenFile: WebAdminToken.path(configuration), into: directory, includeKey: includeKey)
        } catch let error as BackupError {
            throw OperatorError("backup: \(error)")
        }
        print("backup written to \(directory): the database (\(RelayBackup.describe(summary.messages))), \(summary.bodies) message bodies, manifest.json")
        if !summary.missingBodies.isEmpty {
            print("note: \(summary.missingBodies.count) bodies were already gone from the spool (log ids \(summary.missingBodies.map(String.init).joined(separator: ", "))); those rows are restored without a body")
        }
        if includeKey {
            if summary.keyAbsent {
                printError("note: there is no secret key yet (\(store.secretKeyFile)): no secret has been stored, so there was none to copy")
            }
            if summary.manifest.includesKey {
                printError("warning: this backup holds the secret key: anyone who can read \(directory) can use every Google grant stored in it. Keep it as private as the data directory (it is 0700, its files 0600).")
            }
        } else {
            printError("note: the secret key is not in this backup (add --include-key to copy it). Restored grants need the original key: keep \(store.secretKeyFile) safe, or set GMAIL_RELAY_SECRET_KEY_FILE to it after a restore.")
        }
    }
}

/// `gmail-relay restore DIR`: into an empty or missing data.dir only.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Verify a backup's checksums and restore it into an empty (or missing) data.dir."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "A directory written by `gmail-relay backup`.") var directory: String

    func run() async throws {
        let configuration = try global.loadConfiguration()
        try Self.refuseSharedStore(configuration)
        let dataDirectory = configuration.dataDirectory.hasSuffix("/") && configuration.dataDirectory.count > 1
            ? String(configuration.dataDirectory.dropLast()) : configuration.dataDirectory
        let keyFile = configuration.secretKeyFile ?? dataDirectory + "/secret.key"
        let summary: RelayBackup.RestoreSummary
        do {
            summary = try RelayBackup.restore(from: directory, into: dataDirectory, secretKeyFile: keyFile)
        } catch let error as BackupError {
            throw OperatorError("restore: \(error)")
        }
        // Opening checks modes and brings an older backup's schema up to date.
        try global.openSQLiteStore(configuration).close()
        print("restored the backup of \(summary.manifest.createdAt) (gmail-relay \(summary.manifest.version)) into \(dataDirectory): \(RelayBackup.describe(summary.messages)), \(summary.bodies) message bodies")
        if summary.rowsWithoutBody > 0 {
            print("note: \(summary.rowsWithoutBody) sent or discarded messages are in the log without their body (bodies of finished mail are not backed up)")
        }
        if summary.keyRestored {
            print("the secret key was restored to \(keyFile)")
        } else {
            printError("note: the backup has no secret key. Stored Google grants need the original key: copy it to \(keyFile) (mode 0600) or point GMAIL_RELAY_SECRET_KEY_FILE at it before `gmail-relay serve`; without it those accounts show secret_unreadable and need `reauth` or `account update`.")
        }
        print("start the relay with: gmail-relay serve")
    }
}

extension RelayBackup {
    /// The messages by status, as in "2 queued, 1 failed", or "no messages".
    static func describe(_ messages: [MessageStatus: Int]) -> String {
        let counts = MessageStatus.allCases.compactMap { status in messages[status].map { "\($0) \(status.rawValue)" } }
        return counts.isEmpty ? "no messages" : counts.joined(separator: ", ")
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

extension ParsableCommand {
    /// backup and restore copy the SQLite store of data.dir; a shared PostgreSQL store is backed up with
    /// PostgreSQL's own tools, which a relay must not pretend to replace.
    static func refuseSharedStore(_ configuration: RelayConfiguration) throws {
        guard let location = configuration.store.postgres else { return }
        throw OperatorError(
            "store.url is set (\(location)): \(configuration.store.relayName)'s mail is in PostgreSQL, not in data.dir; "
                + "back it up with pg_dump (docs/scaling.md, \"Backups\")")
    }
}
