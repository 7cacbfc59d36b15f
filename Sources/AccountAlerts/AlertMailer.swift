import Foundation
import RelayVocabulary
import RelayStore

/// `alerts.email_to`: the alert as an email, queued in the store like any message a site sends, so the
/// delivery worker sends, retries and logs it. It goes through a healthy account (state ok, not a sandbox,
/// with an address), never through the account the alert is about: that one cannot send.
public struct AlertMailer: Sendable {
    public enum Outcome: Sendable, Equatable {
        case queued(id: Int64, account: String)
        /// No account could send it; the watcher logs this and the status page shows it.
        case noHealthyAccount
    }

    let store: any AccountStore
    let intake: any MessageIntake
    let recipients: [String]
    let hostname: String
    let wake: @Sendable () -> Void
    let clock: @Sendable () -> Date

    /// `wake` tells a running delivery worker that a message is queued (`serve`); without one, the next
    /// `serve` sends it.
    public init(store: any AccountStore, intake: any MessageIntake, recipients: [String], hostname: String,
                wake: @escaping @Sendable () -> Void = {}, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.intake = intake
        self.recipients = recipients
        self.hostname = hostname
        self.wake = wake
        self.clock = clock
    }

    /// On the SQLite store, through a group committer of its own.
    public init(store: RelayStore, recipients: [String], hostname: String,
                wake: @escaping @Sendable () -> Void = {}, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.init(store: store, intake: GroupCommitter(store: store), recipients: recipients, hostname: hostname, wake: wake, clock: clock)
    }

    public func send(_ alert: AccountStateAlert, statusPage: URL?) async throws -> Outcome {
        guard let sender = Self.healthyAccount(try await store.accounts(), excluding: alert.account),
              let address = sender.primaryAddress
        else { return .noHealthyAccount }
        let text = AlertText(alert, statusPage: statusPage)
        let messageID = "<alert-\(UUID().uuidString.lowercased())@\(hostname)>"
        let bytes = Self.message(from: address, to: recipients, text: text, event: alert.event, messageID: messageID, date: clock())
        // The same accept path as SMTP's (one transaction, its "accepted" event).
        let id = try await intake.accept(NewMessage(
            account: sender.name, credentialUsername: nil, peer: "gmail-relay alerts", tls: false, mailFrom: address,
            recipients: recipients, subject: text.title, messageID: messageID, size: Int64(bytes.count), spoolPath: nil,
            inlineBody: bytes, sandbox: false, status: .queued)).id
        wake()
        return .queued(id: id, account: sender.name)
    }

    /// The first account by name that can send: ok, not a sandbox (it would not reach anyone), with an
    /// address, and not the one in trouble.
    public static func healthyAccount(_ accounts: [Account], excluding broken: String) -> Account? {
        accounts
            .filter { $0.state == .ok && $0.kind != .sandbox && $0.primaryAddress != nil && $0.name != broken }
            .sorted { $0.name < $1.name }
            .first
    }

    /// A plain-text RFC 5322 message. `Auto-Submitted: auto-generated` (RFC 3834) keeps vacation
    /// responders from answering it.
    static func message(from: String, to: [String], text: AlertText, event: AlertEvent, messageID: String, date: Date) -> [UInt8] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let headers = [
            "From: gmail-relay <\(from)>",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(WebhookFormatter.headerValue(text.title))",
            "Date: \(formatter.string(from: date))",
            "Message-ID: \(messageID)",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "Auto-Submitted: auto-generated",
            "X-Gmail-Relay-Alert: \(event.rawValue)",
        ]
        let body = text.lines.map { $0.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "\r\n") }
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body.joined(separator: "\r\n") + "\r\n").utf8)
    }
}
