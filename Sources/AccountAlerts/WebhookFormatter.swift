import Foundation
import RelayVocabulary
import RelayStatus

/// `alerts.webhook_format`: what the webhook at alerts.webhook_url understands.
public enum AlertFormat: String, Sendable, Equatable, CaseIterable {
    /// `AccountStateAlert` as JSON (for scripts and automation tools).
    case json
    /// `{"text": ...}`: Slack incoming webhooks; Mattermost and Rocket.Chat take the same body.
    case slack
    /// `{"content": ...}`: a Discord channel webhook.
    case discord
    /// An Office 365 connector MessageCard: a Microsoft Teams incoming webhook.
    case teams
    /// A plain-text body with Title, Priority and Tags headers: an ntfy topic URL.
    case ntfy
}

/// One HTTP POST, ready to send.
public struct WebhookRequest: Sendable, Equatable {
    public var body: Data
    public var contentType: String
    /// Extra headers (ntfy's Title, Priority, Tags, Click); ASCII only, no line breaks.
    public var headers: [String: String]

    public init(body: Data, contentType: String, headers: [String: String] = [:]) {
        self.body = body
        self.contentType = contentType
        self.headers = headers
    }
}

/// Turns an alert into the body (and headers) of one format. Pure.
///
/// The shapes, as each service documents them:
/// - Slack: incoming webhooks take `{"text": "..."}`; `&`, `<` and `>` are control characters and must be
///   sent as `&amp;`, `&lt;`, `&gt;` (https://api.slack.com/messaging/webhooks,
///   https://api.slack.com/reference/surfaces/formatting#escaping).
/// - Discord: "Execute Webhook" takes `content`, at most 2000 characters; `allowed_mentions` with an empty
///   `parse` list keeps text such as "@everyone" from pinging anyone
///   (https://discord.com/developers/docs/resources/webhook#execute-webhook).
/// - Teams: the legacy actionable MessageCard, `@type: MessageCard`, `@context`, `summary` (required when
///   there is no text), `themeColor` (hex, no #), `title`, `text`, `sections` with `facts`, and
///   `potentialAction` with an `OpenUri` target (https://learn.microsoft.com/en-us/outlook/actionable-messages/message-card-reference).
/// - ntfy: the message is the plain request body; `Title`, `Priority` (min, low, default, high, urgent),
///   `Tags` (comma-separated, emoji short codes) and `Click` are headers; a header that is not ASCII may be
///   an RFC 2047 encoded word (https://docs.ntfy.sh/publish/).
public enum WebhookFormatter {
    /// Discord's documented limit for `content`.
    public static let discordLimit = 2000

    public static func request(_ alert: AccountStateAlert, format: AlertFormat, statusPage: URL?) throws -> WebhookRequest {
        let text = AlertText(alert, statusPage: statusPage)
        switch format {
        case .json:
            return WebhookRequest(body: Data(try StatusJSON.encode(alert).utf8), contentType: "application/json")
        case .slack:
            return try json(["text": slackEscaped(text.title + "\n" + text.body)])
        case .discord:
            return try json(["content": capped(text.title + "\n" + text.body, to: discordLimit), "allowed_mentions": ["parse": [String]()]])
        case .teams:
            return try json(teamsCard(alert, text))
        case .ntfy:
            var headers = [
                "Title": headerValue(text.title),
                "Priority": alert.event == .stateChange || alert.event == .reminder ? "high" : "default",
                "Tags": tags(alert),
            ]
            if let link = text.link { headers["Click"] = headerValue(link) }
            return WebhookRequest(body: Data(text.body.utf8), contentType: "text/plain; charset=utf-8", headers: headers)
        }
    }

    static func json(_ object: [String: Any]) throws -> WebhookRequest {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return WebhookRequest(body: data, contentType: "application/json")
    }

    /// Only Slack's three control characters, `&` first so the others' entities survive.
    static func slackEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// At most `limit` characters (Unicode scalars: never more than Discord counts), ending in "…" when cut.
    static func capped(_ text: String, to limit: Int) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return text }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars.prefix(limit - 1))
        view.append("…")
        return String(view)
    }

    static func teamsCard(_ alert: AccountStateAlert, _ text: AlertText) -> [String: Any] {
        let color = switch alert.event {
        case .resolved: "2EB886"
        case .test: "0078D7"
        case .stateChange, .reminder: "D13438"
        }
        var facts: [[String: String]] = []
        if alert.event != .test {
            facts.append(["name": "Account", "value": alert.account])
            facts.append(["name": "State", "value": "\(AlertText.words(alert.fromState)) → \(AlertText.words(alert.toState))"])
            if let problem = alert.problem { facts.append(["name": "Problem", "value": problem.title]) }
            if let command = text.command { facts.append(["name": "Run", "value": command]) }
        }
        var card: [String: Any] = [
            "@type": "MessageCard", "@context": "https://schema.org/extensions",
            "summary": text.title, "title": text.title, "themeColor": color,
            // Teams reads text as Markdown: one paragraph per line.
            "text": text.lines.joined(separator: "\n\n"),
        ]
        if !facts.isEmpty { card["sections"] = [["facts": facts]] }
        if let link = text.link {
            card["potentialAction"] = [["@type": "OpenUri", "name": "Open the status page", "targets": [["os": "default", "uri": link]]]]
        }
        return card
    }

    static func tags(_ alert: AccountStateAlert) -> String {
        switch alert.event {
        case .resolved: "white_check_mark,gmail-relay"
        case .test: "bell,gmail-relay"
        case .stateChange, .reminder: "warning,gmail-relay"
        }
    }

    /// A header value: line breaks become spaces; anything not printable ASCII makes it an RFC 2047
    /// encoded word (base64 of the UTF-8), which ntfy decodes.
    public static func headerValue(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if flat.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) { return flat }
        return "=?UTF-8?B?" + Data(flat.utf8).base64EncodedString() + "?="
    }
}
