import Foundation
import RelayVocabulary
import ProblemCatalogue
import RelayStore

/// The words of one alert for people: a title and a few plain lines (account, old -> new state, the
/// problem's title, the command to run, a link to the status page). Every chat format and the email are
/// made from this, so they say the same thing. Pure.
///
/// Nothing secret goes in: no token, no webhook URL, no Google body beyond the catalogue's explanation.
public struct AlertText: Sendable, Equatable {
    public var title: String
    public var lines: [String]
    /// The first `gmail-relay ...` command of the problem's steps, if any.
    public var command: String?
    /// The status page (web.public_url), pointed at the account.
    public var link: String?

    public var body: String { lines.joined(separator: "\n") }

    static func words(_ state: AccountState) -> String {
        switch state {
        case .ok: return "ok"
        case .needsReauth: return "needs reauthorization"
        case .blocked: return "blocked"
        case .unconfigured: return "not configured"
        }
    }

    public init(_ alert: AccountStateAlert, statusPage: URL?) {
        let name = alert.account
        let state = Self.words(alert.toState)
        switch alert.event {
        case .test:
            title = "gmail-relay: test alert"
        case .resolved:
            title = "gmail-relay: \(name) is ok again"
        case .reminder:
            title = "gmail-relay: \(name) still \(alert.toState == .needsReauth ? "needs reauthorization" : "is " + state)"
        case .stateChange:
            title = "gmail-relay: \(name) \(alert.toState == .needsReauth ? "needs reauthorization" : "is " + state)"
        }
        var lines: [String] = []
        if alert.event == .test {
            lines.append("This is a test alert from gmail-relay: alerts reach this place.")
        } else {
            let address = alert.email.map { " (\($0))" } ?? ""
            lines.append("Account \(name)\(address): \(Self.words(alert.fromState)) → \(state)")
            if let problem = alert.problem {
                lines.append("Problem: \(problem.title)")
                if alert.event != .resolved { lines.append(problem.disposition.sentence) }
            }
            if alert.event == .resolved { lines.append("Mail for this account goes out again.") }
        }
        command = alert.event == .resolved ? nil : alert.problem.flatMap { Self.command(in: $0.steps) }
        if let command { lines.append("Run: \(command)") }
        if let statusPage {
            let base = statusPage.absoluteString.hasSuffix("/") ? String(statusPage.absoluteString.dropLast()) : statusPage.absoluteString
            let page = alert.event == .test || name.isEmpty
                ? base + "/" : base + "/#account-" + (name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name)
            link = page
            lines.append("Status page: \(page)")
        } else {
            link = nil
        }
        lines.append("At: \(ISO8601.string(alert.at))")
        self.lines = lines
    }

    /// The first backtick-quoted `gmail-relay ...` in the steps: the catalogue writes commands that way,
    /// with the account's real name in them.
    static func command(in steps: [String]) -> String? {
        for step in steps {
            let parts = step.split(separator: "`", omittingEmptySubsequences: false)
            // Odd indices are inside backticks.
            for (index, part) in parts.enumerated() where index % 2 == 1 && part.hasPrefix("gmail-relay ") {
                return String(part)
            }
        }
        return nil
    }
}
