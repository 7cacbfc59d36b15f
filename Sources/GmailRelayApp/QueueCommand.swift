import ArgumentParser
import Foundation
import RelayStore

/// `queue retry ID|--all`, `queue discard ID`: an operator's hand on held and failed mail. A running
/// `serve` shares the database and picks released messages up within a second.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Retry or discard held, failed or waiting messages.",
        subcommands: [Retry.self, Discard.self]
    )

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a held, failed or waiting message again now (or all held and failed ones).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The log id.") var id: Int64?
        @Flag(help: "Every held and failed message that still has its body.") var all = false

        func validate() throws {
            guard (id != nil) != all else { throw ValidationError("give a log id or --all") }
        }

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            if all {
                let count = try await store.retryAll()
                print("\(count) message(s) queued for another attempt")
                return
            }
            do {
                try await store.retry(id: id!)
            } catch let error as StoreError {
                throw OperatorError("\(error)")
            }
            print("message \(id!) queued for another attempt")
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drop a waiting, held or failed message on purpose (recorded in its history).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The log id.") var id: Int64

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            do {
                try await store.discard(id: id, detail: "discarded by operator (gmail-relay queue discard)")
            } catch let error as StoreError {
                throw OperatorError("\(error)")
            }
            print("message \(id) discarded")
        }
    }
}
