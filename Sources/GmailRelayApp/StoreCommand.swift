import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresStore
import RelayConfig
import RelayStore
import RelayVocabulary

/// `gmail-relay store ...`: the store itself, as a whole.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Work on the store as a whole (copy a SQLite install into PostgreSQL).",
        subcommands: [StoreCopyCommand.self]
    )
}

/// `gmail-relay store copy --to postgres://...`: moves the SQLite store of data.dir (accounts, logins,
/// messages with their bodies, attempts, events) into an empty PostgreSQL store, in one transaction.
struct StoreCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy the SQLite store of data.dir (accounts, logins, messages and bodies, the log) into an empty PostgreSQL store.",
        discussion: """
            Stop the relay first (it refuses while something answers on smtp.listen or smtp.tls_listen). The copy is one transaction: \
            it succeeds whole or leaves the target empty. The target is migrated first and must hold no accounts, \
            logins or messages. Log ids stay the same; messages that were being sent are queued again. \
            The data directory is not changed. See docs/operations.md, "Moving to PostgreSQL (store copy)".
            """
    )
    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The PostgreSQL store: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=...] (as store.url).")
    var to: String
    @Option(name: .long, help: "A file holding the database password (one line), instead of the URL or GMAIL_RELAY_STORE_PASSWORD.")
    var passwordFile: String?

    func run() async throws {
        // GMAIL_RELAY_STORE_PASSWORD is the target's password here, not the (SQLite) configuration's.
        let configuration = try global.loadConfiguration(ignoring: ["GMAIL_RELAY_STORE_PASSWORD"])
        let location: PostgresLocation
        do {
            location = try PostgresLocation.commandLineTarget(to, passwordFile: passwordFile, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw ValidationError("\(error)")
        }
        if let current = configuration.store.postgres {
            throw OperatorError(
                "store.url is already set (\(current)): this relay's store is PostgreSQL; store copy reads the SQLite store of "
                    + "data.dir, so run it with the configuration that has no store.url")
        }
        guard FileManager.default.fileExists(atPath: configuration.dataDirectory + "/relay.sqlite") else {
            throw OperatorError("there is no SQLite store in data.dir (\(configuration.dataDirectory)/relay.sqlite): nothing to copy")
        }
        // serve holds no lock on data.dir while it runs (relay.lock only while opening), so a running relay
        // is recognised by its SMTP listeners.
        for (key, listen) in [("smtp.listen", configuration.smtp.listen), ("smtp.tls_listen", configuration.smtp.tlsListen)] {
            guard let listen, await Self.somethingAnswers(listen) else { continue }
            throw OperatorError(
                "something answers on \(key) (\(listen)): stop the relay (gmail-relay serve) before copying its store, "
                    + "so that no mail arrives or is sent during the copy")
        }
        let store = try global.openSQLiteStore(configuration)
        defer { try? store.close() }
        let source = PostgresImporter.Source(
            rows: { table, afterID, limit in try store.exportRows(table: table, afterID: afterID, limit: limit) },
            body: { id in
                switch try store.exportBody(messageID: id) {
                case nil: nil
                case .inline(let data): .inline(data)
                case .file(let path): .file(path)
                }
            })
        var logger = Logger(label: "gmail-relay.store")
        logger.logLevel = .error
        let summary: PostgresImporter.Summary
        do {
            summary = try await PostgresImporter.copy(
                into: PostgresSettings(location: location, relayName: configuration.store.relayName), from: source, logger: logger)
        } catch let error as StoreCopyError {
            throw OperatorError("store copy: \(error)")
        } catch let error as PostgresStoreError {
            throw OperatorError("store copy: \(error)")
        }
        print(Self.report(summary, location: location))
        // Nothing may write the SQLite store during the copy (pages are read one at a time); if something
        // did (a relay started meanwhile, a CLI command), the copy missed it: say so rather than let it pass.
        let after = try store.exportCounts()
        let copied: [String: Int] = [
            "accounts": summary.accounts, "credentials": summary.credentials, "messages": summary.messages.values.reduce(0, +),
            "attempts": summary.attempts, "events": summary.events - summary.requeued,
        ]
        let changed = copied.keys.sorted().filter { after[$0] != copied[$0] }
        if !changed.isEmpty {
            printError("warning: the SQLite store changed during the copy (\(changed.map { "\($0): \(after[$0] ?? 0) now, \(copied[$0] ?? 0) copied" }.joined(separator: ", "))): "
                + "was a relay or another gmail-relay command running? Drop the PostgreSQL database, stop them, and copy again")
            throw ExitCode(1)
        }
    }

    static func report(_ summary: PostgresImporter.Summary, location: PostgresLocation) -> String {
        let statuses = MessageStatus.allCases.compactMap { status in summary.messages[status].map { "\($0) \(status.rawValue)" } }
        let total = summary.messages.values.reduce(0, +)
        var lines = [
            "copied into \(location):",
            "  accounts: \(summary.accounts)",
            "  logins: \(summary.credentials)",
            "  messages: \(total)\(statuses.isEmpty ? "" : " (\(statuses.joined(separator: ", ")))")",
            "  bodies: \(summary.inlineBodies + summary.spoolFileBodies) (\(summary.inlineBodies) inline, \(summary.spoolFileBodies) spool files, \(summary.bodyBytes) bytes)",
            "  attempts: \(summary.attempts)",
            "  events: \(summary.events)",
        ]
        if summary.requeued > 0 {
            lines.append("note: \(summary.requeued) messages were being sent when the relay stopped; they are queued again (Gmail may have received them already)")
        }
        if !summary.missingBodies.isEmpty {
            lines.append("note: \(summary.missingBodies.count) unsent messages had no body left in the spool (log ids \(summary.missingBodies.map(String.init).joined(separator: ", "))); they were copied without one")
        }
        lines += [
            "next: set store.url = \(location) (the password in store.password_file or GMAIL_RELAY_STORE_PASSWORD), keep the same secret key file",
            "      (GMAIL_RELAY_SECRET_KEY_FILE or data.dir/secret.key) on every relay, then start the relays: gmail-relay serve",
            "      data.dir still holds the SQLite store; keep it until the relays run on PostgreSQL",
        ]
        return lines.joined(separator: "\n")
    }

    /// Whether a listener (a running `serve`) accepts connections on the SMTP address.
    static func somethingAnswers(_ listen: SocketAddressSpec) async -> Bool {
        var host = listen.host
        if host == "0.0.0.0" || host.isEmpty { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .connect(host: host, port: listen.port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
