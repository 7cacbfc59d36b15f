import ArgumentParser
import Foundation
import RelayStore

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
            let store = try global.openStore(configuration)
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
                return [id, created, message.status.rawValue, message.account, recipients, message.subject ?? "", message.problem ?? ""]
            }
            print(TextTable.render(header: ["ID", "CREATED", "STATUS", "ACCOUNT", "TO", "SUBJECT", "PROBLEM"], rows: rows), terminator: "")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "One message with every attempt and its full response body.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The log id (the number in the SMTP reply).") var id: Int64
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try global.openStore(configuration)
            guard let message = try await store.message(id: id) else {
                throw OperatorError("no message with log id \(id)")
            }
            let detail = MessageDetail(
                message: message, attempts: try await store.attempts(messageID: id), events: try await store.events(messageID: id)
            )
            if json {
                print(try JSONOutput.encode(detail))
                return
            }
            print(detail.humanReadable())
        }
    }
}

/// `log show`: the message row with its attempts and history.
struct MessageDetail: Encodable {
    let message: MessageRecord
    let attempts: [AttemptRecord]
    let events: [EventRecord]

    func encode(to encoder: any Encoder) throws {
        // The message's own keys, then what only `show` has. Here `attempts` is the list of attempts
        // (in `log` it is their count, which `show` keeps as `attempt_count`).
        try message.encode(to: encoder)
        var container = encoder.container(keyedBy: ExtraKeys.self)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(message.attempts, forKey: .attemptCount)
        try container.encode(events, forKey: .events)
        try container.encode(message.spoolPath, forKey: .spoolPath)
        try container.encode(message.rewrittenHeaders, forKey: .rewrittenHeaders)
        try container.encode(message.credentialUsername, forKey: .credential)
    }

    enum ExtraKeys: String, CodingKey {
        case attempts
        case attemptCount = "attempt_count"
        case events
        case spoolPath = "spool_path"
        case rewrittenHeaders = "rewritten_headers"
        case credential
    }

    func humanReadable() -> String {
        var lines = [
            "message \(message.id): \(message.status.rawValue)\(message.sandbox ? " (sandbox)" : "")",
            "  account:    \(message.account)",
            "  from:       \(message.mailFrom.isEmpty ? "<>" : message.mailFrom)",
            "  to:         \(message.recipients.joined(separator: ", "))",
            "  subject:    \(message.subject ?? "")",
            "  message-id: \(message.messageID ?? "")",
            "  size:       \(message.size) bytes",
            "  received:   \(ISO8601.string(message.createdAt)) from \(message.peer)\(message.tls ? " over TLS" : "")",
        ]
        if let gmailID = message.gmailID { lines.append("  gmail id:   \(gmailID)") }
        if let problem = message.problem { lines.append("  problem:    \(problem)") }
        if let headers = message.rewrittenHeaders, !headers.isEmpty {
            lines.append("  headers sent to Gmail:")
            lines += headers.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0.trimmingCharacters(in: .newlines) }
        }
        lines.append("  attempts: \(attempts.count)")
        for (index, attempt) in attempts.enumerated() {
            let status = attempt.httpStatus.map { "HTTP \($0)" } ?? "no HTTP answer"
            lines.append("  #\(index + 1) \(ISO8601.string(attempt.startedAt)) -> \(ISO8601.string(attempt.finishedAt)) \(attempt.endpoint) \(status) \(attempt.problem ?? "")")
            if let body = attempt.responseBody, !body.isEmpty {
                lines += body.split(separator: "\n", omittingEmptySubsequences: false).map { "     | " + $0 }
            }
        }
        if !events.isEmpty {
            lines.append("  history:")
            for event in events { lines.append("    \(ISO8601.string(event.at)) \(event.kind)\(event.detail.isEmpty ? "" : ": " + event.detail)") }
        }
        return lines.joined(separator: "\n")
    }
}
