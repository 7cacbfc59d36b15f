import ArgumentParser
import Foundation
import ProblemCatalogue
import RelayStatus
import RelayStore
import RelayVocabulary

/// `gmail-relay status [--json]`: what the status page shows; the JSON is what /api/status serves.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Accounts, their problems with the steps to fix them, and the queue (what the status page shows)."
    )
    @OptionGroup var global: GlobalOptions
    @Flag(help: "JSON output (the same as GET /api/status).") var json = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let store = try await global.openStore(configuration)
        // A separate process: it checks the certificate file, which is what serve has loaded unless it
        // was renewed without a SIGHUP.
        let served = RelayApplication.certificateOnDisk(configuration)
        let report = try await StatusReporter(
            store: store, subject: RelayApplication.serviceAccountSubject(store), certificate: { served },
            fleet: RelayStorage.fleet(of: store)).report()
        print(json ? try StatusJSON.encode(report) : Self.text(report))
    }

    static func text(_ report: StatusReport) -> String {
        var lines: [String] = []
        let q = report.queue
        lines.append("queue: \(q.queued) queued, \(q.sending) sending, \(q.held) held, \(q.failed) failed, \(q.sent24h) sent in 24 h")
        for problem in report.relayProblems {
            lines.append("relay problem: \(problem.code.rawValue): \(problem.title) (mail \(problem.disposition.rawValue))")
            lines.append("    \(problem.explanation)")
            lines.append("  what to do:")
            for (index, step) in problem.steps.enumerated() { lines.append("    \(index + 1). \(step)") }
        }
        if report.accounts.isEmpty {
            lines.append("no accounts; add one with: gmail-relay account add NAME --sandbox")
        }
        for account in report.accounts {
            lines.append("")
            lines.append("\(account.name): \(account.state) (\(account.kind), \(account.email ?? "no address"))")
            lines.append("  token expires: \(account.tokenExpiresAt.map(ISO8601.string) ?? "-")   last success: \(account.lastSuccessAt.map(ISO8601.string) ?? "never")")
            let m = account.messages
            lines.append("  messages: \(m.queued) queued, \(m.held) held, \(m.failed) failed")
            if let warning = account.warning { lines.append("  \(warning.level): \(warning.text)") }
            for warning in account.warnings {
                lines.append("  warning: \(warning.code): \(warning.title) (mail \(warning.disposition.rawValue))")
                lines.append("    \(warning.explanation)")
                lines.append("  what to do:")
                for (index, step) in warning.steps.enumerated() { lines.append("    \(index + 1). \(step)") }
            }
            if let problem = account.problem {
                lines.append("  problem: \(problem.code.rawValue): \(problem.title) (mail \(problem.disposition.rawValue))")
                lines.append("    \(problem.explanation)")
                lines.append("  what to do:")
                for (index, step) in problem.steps.enumerated() { lines.append("    \(index + 1). \(step)") }
            }
        }
        if !report.logins.isEmpty {
            lines.append("")
            lines.append("SMTP logins today (since 00:00 UTC):")
            for login in report.logins {
                let limit = login.dailyLimit.map { " of \($0)" + (login.isAtLimit ? ", limit reached" : "") } ?? ", no daily limit"
                lines.append("  \(login.username) (\(login.account)): \(login.sentToday)\(limit)")
            }
        }
        if !report.relays.isEmpty {
            lines.append("")
            lines.append("Relays sharing the store:")
            for relay in report.relays {
                lines.append("  \(relay.name): \(relay.state.rawValue), last heartbeat \(ISO8601.string(relay.lastSeen)), sending \(relay.claimed)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Prints docs/troubleshooting.md from the explanation catalogue (hidden: for maintainers).
struct TroubleshootingDocCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "troubleshooting-doc",
        abstract: "Print docs/troubleshooting.md, generated from the explanation catalogue.",
        shouldDisplay: false
    )
    // Every subcommand takes --config; this one reads nothing from it.
    @OptionGroup var global: GlobalOptions

    func run() throws {
        print(ProblemCatalogue.troubleshootingMarkdown(), terminator: "")
    }
}
