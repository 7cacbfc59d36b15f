import ArgumentParser
import BuildInfo
import Foundation
import Logging
import PostgresStore
import RelayConfig
import RelayStore

/// `gmail-relay`: the one executable. Each subcommand is a thin shell over the app's functions.
public struct RelayCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gmail-relay",
        abstract: "An SMTP relay for CMS sites that sends through Gmail's API and explains why sending fails.",
        version: RelayVersion.version,
        subcommands: [
            ServeCommand.self, AccountCommand.self, ReauthCommand.self, CredentialCommand.self, LogCommand.self,
            QueueCommand.self, DoctorCommand.self, SendTestCommand.self, StatusCommand.self, WebTokenCommand.self,
            BackupCommand.self, RestoreCommand.self, AlertsCommand.self, MigrateCommand.self, StoreCommand.self, TroubleshootingDocCommand.self,
        ]
    )

    public init() {}
}

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (also GMAIL_RELAY_CONFIG).")
    var config: String?

    /// Loads the configuration: the file, then GMAIL_RELAY_* variables on top (but `ignoring`: variables
    /// a command reads for itself, such as store copy's GMAIL_RELAY_STORE_PASSWORD for its target).
    func loadConfiguration(ignoring ignored: Set<String> = []) throws -> RelayConfiguration {
        let environment = ProcessInfo.processInfo.environment.filter { !ignored.contains($0.key) }
        let path = config ?? environment["GMAIL_RELAY_CONFIG"]
        do {
            return try RelayConfiguration.load(file: path, environment: environment)
        } catch let error as ConfigurationError {
            throw ValidationError("configuration: \(error)")
        }
    }

    /// The configured store for a command: the shared PostgreSQL of store.url (brought to this binary's
    /// schema first, as a relay start does; a newer schema is refused), or SQLite in data.dir.
    func openStore(_ configuration: RelayConfiguration) async throws -> any RelayStoreAPI {
        guard let location = configuration.store.postgres else { return try openSQLiteStore(configuration) }
        // A command prints what matters itself (and `migrate` its outcome); the pool's and the migrator's
        // notices are not for the operator.
        var logger = Logger(label: "gmail-relay.store")
        logger.logLevel = .error
        let store: PostgresRelayStore
        do {
            // The pool runs for the rest of the command; the process ends with it.
            store = try await RelayStorage.connectPostgres(
                configuration, location: location, migrationLogger: logger, storeLogger: logger, maximumConnections: 2).store
        } catch let error as PostgresStoreError {
            throw OperatorError(error.description)
        }
        return store
    }

    /// SQLite in data.dir, for what only exists there (backup, restore, the data directory itself).
    func openSQLiteStore(_ configuration: RelayConfiguration) throws -> RelayStore {
        var options = RelayStore.Options()
        options.secretKeyFile = configuration.secretKeyFile
        return try RelayStore.open(dataDirectory: configuration.dataDirectory, options: options)
    }
}

/// Errors shown to the operator as one line, without a stack of Swift type names.
struct OperatorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
