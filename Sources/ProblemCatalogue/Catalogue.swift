import Foundation
import RelayVocabulary

/// What happens to mail while a problem lasts; the same three words on the page, in the API and the docs.
public enum Disposition: String, Sendable, Codable, CaseIterable {
    /// Accepted and kept; nothing for this account is sent until a person acts.
    case held
    /// Kept in the queue; the relay tries again by itself (at Gmail's retry time, or with backoff).
    case retried
    /// Given up for this message; other messages are unaffected.
    case failed
    /// Not a sending problem (yet): mail flows as usual; a warning to act on before it stops.
    case unaffected
    /// Mail may not reach the relay: clients refuse to hand it over (an expired SMTP certificate).
    case refused

    public var sentence: String {
        switch self {
        case .held: return "Mail for this account is held (accepted and kept, not sent) until this is fixed; nothing is lost."
        case .retried: return "Mail stays queued and the relay retries by itself."
        case .failed: return "This message has failed for good; other messages are not affected."
        case .unaffected: return "Mail is accepted and sent as usual for now; act before it stops."
        case .refused: return "SMTP clients that check the certificate refuse to send through the relay; the CMS keeps or drops those messages by its own rules."
        }
    }
}

/// One problem explained: the catalogue's text for a code, rendered for one account and one answer from Google.
///
/// Its JSON form is the `problem` object of /api/status, `status --json`, the alert webhook and /api/messages/{id}.
public struct Explanation: Sendable, Codable, Equatable {
    public var code: ProblemCode
    public var title: String
    /// What it means in plain words, followed by what is known about this occurrence (Google's words, times).
    public var explanation: String
    /// Likely causes, most likely first.
    public var causes: [String]
    /// What to do, in order, with the account's real name in the commands.
    public var steps: [String]
    public var disposition: Disposition
}

/// One row of the catalogue. `facts` and `steps` are templates: functions of the account and of
/// what Google said, so a command reads `gmail-relay reauth shop`, not `reauth NAME`.
public struct CatalogueEntry: Sendable {
    public let code: ProblemCode
    public let title: String
    public let meaning: String
    public let causes: [String]
    public let disposition: Disposition
    let facts: @Sendable (ProblemContext) -> [String]
    let steps: @Sendable (ProblemContext) -> [String]

    init(
        _ code: ProblemCode, title: String, meaning: String, causes: [String], disposition: Disposition,
        facts: @escaping @Sendable (ProblemContext) -> [String] = { _ in [] },
        steps: @escaping @Sendable (ProblemContext) -> [String]
    ) {
        self.code = code
        self.title = title
        self.meaning = meaning
        self.causes = causes
        self.disposition = disposition
        self.facts = facts
        self.steps = steps
    }

    /// The catch-all of an endpoint: Google answered with something no entry explains, so Google's own words
    /// (which `explain` adds below the meaning) are the explanation, and the first step is to read them.
    static func unexplained(
        _ code: ProblemCode, title: String, answer: String, words: String, otherCauses: [String],
        then step: @escaping @Sendable (ProblemContext) -> String
    ) -> CatalogueEntry {
        CatalogueEntry(
            code, title: title,
            meaning: "\(answer) the relay has no specific explanation for; Google's words are below.",
            causes: ["See Google's \(words) in the answer."] + otherCauses,
            disposition: .held,
            steps: { c in [Steps.readLog(c), step(c)] })
    }

    /// The entry filled in for one account and one answer from Google.
    public func explain(_ context: ProblemContext) -> Explanation {
        var parts = [meaning]
        parts += facts(context)
        if let said = context.googleSaid(), !mentionsGoogleWords { parts.append(said) }
        return Explanation(
            code: code, title: title, explanation: parts.joined(separator: " "), causes: causes,
            steps: steps(context), disposition: disposition)
    }

    /// Entries whose facts already quote Google's message (message_rejected) do not quote it twice.
    private var mentionsGoogleWords: Bool { code == .messageRejected }
}

/// The account and the answer a problem is explained for. Built by the status report from the store;
/// `ProblemContext.placeholder` (NAME, USER@DOMAIN) renders the generic text of docs/troubleshooting.md.
public struct ProblemContext: Sendable {
    public var accountName: String
    /// Nil when not known (the generic docs text covers both kinds).
    public var accountKind: AccountKind?
    /// The account's address (its first from address).
    public var address: String?
    /// The user a service account impersonates (`--subject`), nil when it has none.
    public var subject: String?
    /// When the person consented (the refresh token was issued).
    public var consentedAt: Date?
    /// What Google said, when the problem came from an answer.
    public var detail: ProblemDetail?
    /// The scopes the grant has, when known (token response or tokeninfo).
    public var grantedScopes: [String]?
    /// The send-log id, for problems of one message.
    public var messageID: Int64?
    /// The SMTP certificate file and its notAfter, for the relay's own certificate problems.
    public var certificatePath: String?
    public var certificateNotAfter: Date?
    /// When the relay stored a service account's key (the key file has no creation date), for the key-age warning.
    public var keyStoredAt: Date?
    public var now: Date
    /// Whether this is the generic rendering for the docs.
    public var isPlaceholder: Bool

    public init(
        accountName: String, accountKind: AccountKind?, address: String? = nil, subject: String? = nil,
        consentedAt: Date? = nil, detail: ProblemDetail? = nil, grantedScopes: [String]? = nil,
        messageID: Int64? = nil, now: Date
    ) {
        self.accountName = accountName
        self.accountKind = accountKind
        self.address = address
        self.subject = subject
        self.consentedAt = consentedAt
        self.detail = detail
        self.grantedScopes = grantedScopes
        self.messageID = messageID
        self.now = now
        self.isPlaceholder = false
    }

    /// NAME, USER@DOMAIN and no answer: the text of docs/troubleshooting.md.
    public static var placeholder: ProblemContext {
        var context = ProblemContext(
            accountName: "NAME", accountKind: nil, address: "USER@DOMAIN", subject: "USER@DOMAIN",
            now: Date(timeIntervalSince1970: 0))
        context.isPlaceholder = true
        return context
    }

    var name: String { accountName }
    var user: String { address ?? "the account's Google user" }
    var isServiceAccount: Bool { accountKind == .serviceAccount }
    var isUserGrant: Bool { accountKind == .oauthUser }
    var logID: String { messageID.map(String.init) ?? "ID" }

    /// "Google answered HTTP 400 (failedPrecondition): “Precondition check failed.”"
    func googleSaid() -> String? {
        guard let detail else { return nil }
        var head = "Google answered"
        if let status = detail.httpStatus { head += " HTTP \(status)" } else { head += " nothing" }
        if let reason = detail.reason { head += " (\(reason))" }
        if let message = detail.googleMessage, !message.isEmpty {
            return head + ": “\(message)”"
        }
        if let transport = detail.transportError, !transport.isEmpty {
            return head + ": \(transport)"
        }
        return detail.httpStatus == nil && detail.reason == nil ? nil : head + "."
    }
}

/// The explanation catalogue: every problem code the relay can report, with its text.
///
/// Keyed by `ProblemCode` (Google's codes and the relay's own, one enum). The status page, `status`,
/// `log show`, the JSON API, alerts and docs/troubleshooting.md all read it; a test fails when a code
/// has no entry.
public enum ProblemCatalogue {
    /// Every entry, in the order of the docs.
    public static let entries: [CatalogueEntry] = oauthEntries + serviceAccountEntries + gmailEntries
        + limitEntries + messageEntries + answerEntries + relayEntries + serverEntries + warningEntries

    private static let byCode: [ProblemCode: CatalogueEntry] = Dictionary(
        entries.map { ($0.code, $0) }, uniquingKeysWith: { first, _ in first })

    public static func entry(for code: ProblemCode) -> CatalogueEntry? { byCode[code] }

    /// The explanation of a code for one account and answer. Every code has an entry (CatalogueTests);
    /// the fallback only keeps a missing one visible, with its name, rather than hidden.
    public static func explain(code: ProblemCode, context: ProblemContext) -> Explanation {
        if let entry = byCode[code] { return entry.explain(context) }
        var parts = [code.summary + "."]
        if let said = context.googleSaid() { parts.append(said) }
        return Explanation(
            code: code, title: code.summary, explanation: parts.joined(separator: " "), causes: [],
            steps: ["Run `gmail-relay log show \(context.logID)` for Google's whole answer."], disposition: .held)
    }
}

// MARK: - Shared wording

enum Console {
    static let credentials = "Google Cloud console → APIs & Services → Credentials (https://console.cloud.google.com/apis/credentials)"
    static let audience = "Google Cloud console → Google Auth Platform → Audience (https://console.cloud.google.com/auth/audience; older consoles: APIs & Services → OAuth consent screen)"
    static let dataAccess = "Google Cloud console → Google Auth Platform → Data Access (https://console.cloud.google.com/auth/scopes)"
    static let serviceAccounts = "Google Cloud console → IAM & Admin → Service accounts (https://console.cloud.google.com/iam-admin/serviceaccounts)"
    static let gmailAPI = "Google Cloud console → APIs & Services → Library → Gmail API → Enable (https://console.cloud.google.com/apis/library/gmail.googleapis.com)"
    static let delegation = "Google Admin console (https://admin.google.com) → Security → Access and data control → API controls → Manage Domain Wide Delegation"
    static let permissions = "https://myaccount.google.com/permissions"
    static let sendScope = "https://www.googleapis.com/auth/gmail.send"
    static let sendScopes = [
        "https://www.googleapis.com/auth/gmail.send", "https://www.googleapis.com/auth/gmail.compose",
        "https://www.googleapis.com/auth/gmail.modify", "https://mail.google.com/",
    ]
}

enum Steps {
    static func reauth(_ c: ProblemContext) -> String {
        "Run `gmail-relay reauth \(c.name)` and sign in as \(c.user) on Google's consent screen, allowing \"Send email on your behalf\" (on a server without a browser: `gmail-relay reauth \(c.name) --no-browser`, open the URL elsewhere and paste the final address back). Held mail goes out once it succeeds."
    }

    static func retryHeld(_ c: ProblemContext) -> String {
        "Then send the held mail again: `gmail-relay queue retry --all` (or the Retry button of each message on the status page)."
    }

    static func readLog(_ c: ProblemContext) -> String {
        "`gmail-relay log show \(c.logID)` shows every attempt with Google's whole answer."
    }

    static func readdServiceAccount(_ c: ProblemContext, key: String = "KEY.json") -> String {
        "Store the new key: `gmail-relay account update \(c.name) --service-account \(key) --subject \(c.subject ?? "USER@DOMAIN")`. The account's held mail is then tried again."
    }

    static func readdClient(_ c: ProblemContext) -> String {
        "Store the new client: `gmail-relay account update \(c.name) --client-secret-file client_secret.json`, then `gmail-relay reauth \(c.name)`. The account's held mail goes out after the consent."
    }

    static func delegation(_ c: ProblemContext) -> String {
        "\(Console.delegation) → Add new (or edit the entry): the service account's numeric Client ID (`client_id` in the key file, not its e-mail address) and the scope \(Console.sendScope). It usually takes effect within minutes, at most 24 hours."
    }
}

enum Facts {
    /// "2026-12-02 06:40 UTC"
    static func date(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return f.string(from: date)
    }

    /// "in 2 h 5 min", "3 days ago"
    static func relative(_ date: Date, now: Date) -> String {
        let seconds = date.timeIntervalSince(now)
        let text = span(abs(seconds))
        return seconds >= 0 ? "in \(text)" : "\(text) ago"
    }

    static func span(_ seconds: TimeInterval) -> String {
        let minutes = Int((seconds / 60).rounded())
        if minutes < 1 { return "less than a minute" }
        if minutes < 60 { return "\(minutes) min" }
        let hours = minutes / 60
        if hours < 48 { return minutes % 60 == 0 ? "\(hours) h" : "\(hours) h \(minutes % 60) min" }
        let days = Double(hours) / 24
        return String(format: "%.1f days", days)
    }

    static func consent(_ c: ProblemContext) -> String? {
        guard let consented = c.consentedAt else { return nil }
        return "The grant was given on \(date(consented)) (\(relative(consented, now: c.now)))."
    }

    /// One fact quoting a text of the answer (Google's message, the transport error); none without one.
    static func quoting(_ text: String?, _ sentence: (String) -> String) -> [String] {
        guard let text, !text.isEmpty else { return [] }
        return [sentence(text)]
    }

    static func retryAfter(_ c: ProblemContext) -> String? {
        guard let at = c.detail?.retryAfter else { return nil }
        return "Gmail said to wait until \(date(at)) (\(relative(at, now: c.now)))."
    }
}
