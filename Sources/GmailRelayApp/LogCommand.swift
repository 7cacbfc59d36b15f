import ArgumentParser
import Foundation
import RelayStatus
import RelayStore
import RelayVocabulary

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "The send log: every message and every attempt, newest first.",
        subcommands: [List.self, Show.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List messages.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only messages in this state: queued, sending, sent, held, failed, discarded.") var status: String?
        @Option(help: "Only messages of this account.") var account: String?
        @Option(help: "At most this many messages.") var limit: Int = 50
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            let states = ["queued", "sending", "sent", "held", "failed", "discarded"]
            if let status, !states.contains(status) {
                throw ValidationError("--status must be one of \(states.joined(separator: ", "))")
            }
            guard limit > 0 else { throw ValidationError("--limit must be positive") }
        }

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            let messages = try await store.messages(
                status: status.flatMap(MessageStatus.init(rawValue:)), account: account, query: nil, limit: limit, offset: 0
            )
            if json {
                print(try JSONOutput.encode(messages))
                return
            }
            let rows: [[String]] = messages.map { message in
                let id = "\(message.id)"
                let created = ISO8601.string(message.createdAt)
                let recipients = message.recipients.joined(separator: ",")
                return [id, created, message.status.rawValue, message.account, recipients, message.subject ?? "", message.problem?.rawValue ?? ""]
            }
            print(TextTable.render(header: ["ID", "CREATED", "STATUS", "ACCOUNT", "TO", "SUBJECT", "PROBLEM"], rows: rows), terminator: "")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "One message with every attempt and its full response body.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The log id (the number in the SMTP reply).") var id: Int64
        @Flag(help: "JSON output.") var json = false
        @Flag(help: "Print the message itself, byte for byte as received (from the database or the spool).") var raw = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            if raw {
                guard let message = try await store.message(id: id) else { throw OperatorError("no message with log id \(id)") }
                if let path = message.spoolPath, let data = FileManager.default.contents(atPath: path) {
                    FileHandle.standardOutput.write(data)
                } else if let body = try await store.inlineBody(messageID: id) {
                    FileHandle.standardOutput.write(Data(body))
                } else {
                    throw OperatorError("the body of message \(id) is no longer stored (log.retention_days)")
                }
                return
            }
            let reporter = StatusReporter(store: store, subject: RelayApplication.serviceAccountSubject(store))
            guard let detail = try await reporter.messageDocument(id: id) else {
                throw OperatorError("no message with log id \(id)")
            }
            if json {
                print(try JSONOutput.encode(detail))
                return
            }
            print(detail.humanReadable())
        }
    }
}
