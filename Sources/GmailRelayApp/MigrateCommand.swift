import ArgumentParser
import Foundation
import Logging
import PostgresStore
import RelayConfig
import RelayStore

/// `gmail-relay migrate`: brings the configured store's schema to this binary's version and prints it.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Bring the store's schema (SQLite in data.dir, or PostgreSQL with store.url) up to date and print its version.",
        discussion: """
            Safe to run while relays serve, and from several machines at once: PostgreSQL migrations run in one \
            transaction under an advisory lock. A store migrated by a newer gmail-relay is refused: upgrade this one.
            """
    )
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let configuration = try global.loadConfiguration()
        guard let location = configuration.store.postgres else {
            let store = try global.openSQLiteStore(configuration)  // opening migrates SQLite
            defer { try? store.close() }
            print("SQLite store \(store.databasePath): schema version \(try store.schemaVersion()) (up to date)")
            return
        }
        let outcome = try await PostgresStoreStartup.migrate(location, configuration: configuration)
        if outcome.applied.isEmpty {
            print("PostgreSQL store \(location): schema version \(outcome.to) (up to date)")
        } else {
            print("PostgreSQL store \(location): schema version \(outcome.to) (migrated from \(outcome.from))")
        }
    }
}

/// `migrate` on a PostgreSQL store.
enum PostgresStoreStartup {
    /// Connects and migrates; a schema newer than this binary, or a database that cannot be reached, is
    /// an operator error with one sentence (the password never in it).
    static func migrate(_ location: PostgresLocation, configuration: RelayConfiguration) async throws -> PostgresMigrator.Outcome {
        let settings = PostgresSettings(location: location, relayName: configuration.store.relayName)
        do {
            // The commands print the outcome themselves; `serve` logs its migrations through its own logger.
            var logger = Logger(label: "gmail-relay.store")
            logger.logLevel = .warning
            return try await PostgresMigrator.migrate(settings, logger: logger)
        } catch let error as PostgresStoreError {
            throw OperatorError(error.description)
        }
    }
}
