import ArgumentParser
import Foundation
import Logging
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
            handler.logLevel = configuration.log.level
            return handler
        }
        let logger = Logger(label: "gmail-relay")
        let store = try global.openStore(configuration)
        store.recoverAfterRestart()
        let application = try RelayApplication(configuration: configuration, store: store, logger: logger)
        logger.info("gmail-relay starting", metadata: ["data.dir": "\(configuration.dataDirectory)"])
        try await application.serviceGroup().run()
        logger.info("gmail-relay stopped")
    }
}
