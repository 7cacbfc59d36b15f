import Foundation
import ProblemCatalogue
import RelayStore
import RelayVocabulary

/// One message with its attempts and history: `log show --json` and /api/messages/{id}.
///
/// The message's own keys (as in `log --json`), with `attempts` the list of attempts (in `log` it is
/// their count, kept here as `attempt_count`), then `events`, `spool_path`, `rewritten_headers`,
/// `credential` and `explanation` (the catalogue's text for its problem, or null).
public struct MessageDocument: Encodable, Sendable {
    public let message: MessageRecord
    public let attempts: [AttemptRecord]
    public let events: [EventRecord]
    public let explanation: Explanation?

    public init(message: MessageRecord, attempts: [AttemptRecord], events: [EventRecord], explanation: Explanation?) {
        self.message = message
        self.attempts = attempts
        self.events = events
        self.explanation = explanation
    }

    public func encode(to encoder: any Encoder) throws {
        try message.encode(to: encoder)
        var container = encoder.container(keyedBy: ExtraKeys.self)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(message.attempts, forKey: .attemptCount)
        try container.encode(events, forKey: .events)
        try container.encode(message.spoolPath, forKey: .spoolPath)
        try container.encode(message.rewrittenHeaders, forKey: .rewrittenHeaders)
        try container.encode(message.credentialUsername, forKey: .credential)
        try container.encode(explanation, forKey: .explanation)
    }

    enum ExtraKeys: String, CodingKey {
        case attempts
        case attemptCount = "attempt_count"
        case events
        case spoolPath = "spool_path"
        case rewrittenHeaders = "rewritten_headers"
        case credential
        case explanation
    }

    /// `log show` without --json.
    public func humanReadable() -> String {
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
        if let through = message.sentThrough { lines.append("  sent through: fallback \(through)") }
        if let problem = message.problem { lines.append("  problem:    \(problem.rawValue)") }
        if let explanation {
            lines.append("  \(explanation.title) (mail \(explanation.disposition.rawValue))")
            lines.append("    " + explanation.explanation)
            for (index, step) in explanation.steps.enumerated() { lines.append("    \(index + 1). \(step)") }
        }
        if let headers = message.rewrittenHeaders, !headers.isEmpty {
            lines.append("  headers sent to Gmail:")
            lines += Self.lines(of: headers).map { "    " + $0 }
        }
        lines.append("  attempts: \(attempts.count)")
        for (index, attempt) in attempts.enumerated() {
            let status = attempt.httpStatus.map { "HTTP \($0)" } ?? "no HTTP answer"
            lines.append("  #\(index + 1) \(ISO8601.string(attempt.startedAt)) -> \(ISO8601.string(attempt.finishedAt)) \(attempt.endpoint) \(status) \(attempt.problem?.rawValue ?? "")")
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

    /// The lines of a header block without its final line break. Headers are stored as sent, with CRLF:
    /// "\r\n" is one Character in Swift, so splitting on "\n" alone would leave them one line.
    static func lines(of text: String) -> [Substring] {
        var text = Substring(text)
        while text.last?.isNewline == true { text = text.dropLast() }
        return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    }
}

extension StatusReporter {
    /// The message, its attempts and history, with its problem explained; nil when there is no such id.
    public func messageDocument(id: Int64) async throws -> MessageDocument? {
        guard let message = try await store.message(id: id) else { return nil }
        let attempts = try await store.attempts(messageID: id)
        let events = try await store.events(messageID: id)
        return MessageDocument(
            message: message, attempts: attempts, events: events,
            explanation: try await explanation(of: message, attempts: attempts))
    }

    /// The message's problem with the account's facts and the answer that caused it: the account's stored
    /// detail when it is the same problem, else the detail stored with the attempt that had it (classified
    /// once, when the answer came; rows from before v5 got theirs in the migration).
    func explanation(of message: MessageRecord, attempts: [AttemptRecord]) async throws -> Explanation? {
        guard let code = message.problem else { return nil }
        let account = try await store.account(named: message.account)
        var context: ProblemContext
        if let account {
            context = await self.context(for: account, messageID: message.id)
            if account.problemCode != code { context.detail = nil }
        } else {
            context = ProblemContext(accountName: message.account, accountKind: nil, messageID: message.id, now: clock())
        }
        if context.detail == nil {
            context.detail = (attempts.last(where: { $0.problem == code }) ?? attempts.last)?.detail
        }
        return ProblemCatalogue.explain(code: code, context: context)
    }
}
