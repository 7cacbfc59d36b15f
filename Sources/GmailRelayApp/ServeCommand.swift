import ArgumentParser
import Foundation
import Logging
import PostgresStore
import RelayStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the SMTP listener(s) until SIGTERM or SIGINT."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let configuration = try global.loadConfiguration()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: configuration.log.level.rawValue) ?? .info
            return EscapingLogHandler(wrapped: handler)
        }
        let logger = Logger(label: "gmail-relay")
        let storage: RelayStorage
        if let location = configuration.store.postgres {
            do {
                storage = try await RelayStorage.postgres(configuration, location: location, logger: logger)
            } catch let error as PostgresStoreError {
                throw OperatorError(error.description)
            }
        } else {
            storage = RelayStorage.sqlite(try global.openSQLiteStore(configuration))
        }
        try await storage.recover(logger)
        let application = try RelayApplication(configuration: configuration, storage: storage, logger: logger)
        logger.info("gmail-relay starting", metadata: ["data.dir": "\(configuration.dataDirectory)", "store": "\(storage.description)"])
        if application.webAdminToken.created, let token = application.webAdminToken.token {
            // First start without web.admin_token: the page is locked; this link opens it once.
            logger.notice("status page locked with a new admin token; sign in once with this link (one use, 60 minutes), or run `gmail-relay web-token` for a new one", metadata: [
                "web.token_file": "\(application.webAdminToken.origin)",
                "web.sign_in_url": "\(WebAdminToken.signInURL(configuration, token: token))",
            ])
        }
        try await application.serviceGroup().run()
        logger.info("gmail-relay stopped")
    }
}
