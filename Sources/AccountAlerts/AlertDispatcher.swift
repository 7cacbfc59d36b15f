import Foundation
import RelayVocabulary
import Logging
import RelayStore

/// Where alerts go (the alerts.* keys, as the app hands them over).
public struct AlertSettings: Sendable {
    public var webhook: URL?
    public var format: AlertFormat
    /// `alerts.remind_hours`; 0 means no reminders.
    public var remindHours: Int
    /// `web.public_url`: alerts link to the status page when it is set.
    public var statusPage: URL?
    /// `alerts.email_to`, when set.
    public var mailer: AlertMailer?

    public init(webhook: URL?, format: AlertFormat = .json, remindHours: Int = 24, statusPage: URL? = nil, mailer: AlertMailer? = nil) {
        self.webhook = webhook
        self.format = format
        self.remindHours = remindHours
        self.statusPage = statusPage
        self.mailer = mailer
    }

    /// Whether there is anywhere to send to.
    public var isEnabled: Bool { webhook != nil || mailer != nil }
}

/// What the status page shows about alerts: where they go, and the last thing that went wrong.
/// Shared by the watcher (writes) and the page (reads); the webhook URL itself is never kept here.
public final class AlertNotices: @unchecked Sendable {
    public enum Channel: Sendable { case webhook, email }
    private let lock = NSLock()
    private var problems: [Channel: String] = [:]

    public init() {}

    /// The current problems, webhook first; nil when each channel's last alert went out.
    public var lastProblem: String? {
        lock.withLock { [problems[.webhook], problems[.email]].compactMap { $0 }.joined(separator: " ") }.nilIfEmpty
    }

    /// A problem on `channel`, or nil once an alert went out there again.
    func set(_ channel: Channel, _ text: String?) { lock.withLock { problems[channel] = text } }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}

/// Sends one alert to the webhook (in its format, retried with bounded backoff) and as email.
public struct AlertDispatcher: Sendable {
    public let settings: AlertSettings
    let retry: AlertRetryPolicy
    let sender: any WebhookSending
    public let notices: AlertNotices
    let logger: Logger

    public init(settings: AlertSettings, retry: AlertRetryPolicy = AlertRetryPolicy(), sender: any WebhookSending = URLSessionWebhookSender(),
                notices: AlertNotices = AlertNotices(), logger: Logger) {
        self.settings = settings
        self.retry = retry
        self.sender = sender
        self.notices = notices
        self.logger = logger
    }

    public func deliver(_ alert: AccountStateAlert) async {
        if let webhook = settings.webhook { await post(alert, to: webhook) }
        if let mailer = settings.mailer { _ = await mail(alert, mailer) }
    }

    /// Tries until a 2xx, a 4xx that repeating cannot fix, or `retry.attempts` tries.
    func post(_ alert: AccountStateAlert, to webhook: URL) async {
        let metadata: Logger.Metadata = [
            "account": "\(alert.account)", "alert.event": "\(alert.event.rawValue)", "alert.to_state": "\(alert.toState.rawValue)",
            "alert.format": "\(settings.format.rawValue)",
        ]
        guard let request = try? WebhookFormatter.request(alert, format: settings.format, statusPage: settings.statusPage) else { return }
        for attempt in 1...max(retry.attempts, 1) {
            var outcome: String
            do {
                let answer = try await sender.send(request, to: webhook)
                if (200..<300).contains(answer.status) {
                    logger.info("account alert delivered", metadata: metadata.merging(["http.status": "\(answer.status)"]) { $1 })
                    notices.set(.webhook, nil)
                    return
                }
                outcome = "HTTP \(answer.status)"
                if !AlertRetryPolicy.isRetryable(status: answer.status) {
                    logger.error("account alert refused by the webhook", metadata: metadata.merging([
                        "http.status": "\(answer.status)", "http.body": "\(answer.bodyText(limit: 300))",
                    ]) { $1 })
                    notices.set(.webhook, "The alert webhook refused an alert: HTTP \(answer.status).")
                    return
                }
            } catch {
                outcome = "\(error)"
            }
            if attempt == retry.attempts {
                logger.error("account alert not delivered, giving up", metadata: metadata.merging(["error": "\(outcome)", "attempts": "\(attempt)"]) { $1 })
                notices.set(.webhook, "An alert could not be delivered to the webhook (\(outcome)).")
                return
            }
            logger.warning("account alert not delivered, retrying", metadata: metadata.merging(["error": "\(outcome)", "attempt": "\(attempt)"]) { $1 })
            do { try await Task.sleep(for: retry.delay(after: attempt)) } catch { return }
        }
    }

    func mail(_ alert: AccountStateAlert, _ mailer: AlertMailer) async -> AlertMailer.Outcome? {
        let metadata: Logger.Metadata = ["account": "\(alert.account)", "alert.event": "\(alert.event.rawValue)"]
        do {
            let outcome = try await mailer.send(alert, statusPage: settings.statusPage)
            switch outcome {
            case .queued(let id, let through):
                logger.info("alert email queued", metadata: metadata.merging(["message.id": "\(id)", "alert.sent_through": "\(through)"]) { $1 })
                notices.set(.email, nil)
            case .noHealthyAccount:
                logger.error("alert email not sent: no healthy account to send it through (an account in state ok that is not a sandbox and is not the one the alert is about)", metadata: metadata)
                notices.set(.email, "An alert email about \(alert.account.isEmpty ? "a test" : alert.account) could not be sent at \(ISO8601.string(alert.at)): no healthy account to send it through.")
            }
            return outcome
        } catch {
            logger.error("alert email could not be queued", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            notices.set(.email, "An alert email could not be queued: \(error).")
            return nil
        }
    }

    /// The result of one test alert, in words for the page and the CLI.
    public struct TestResult: Sendable, Equatable {
        public var delivered: Bool
        public var lines: [String]
    }

    /// One try to each destination, no retries: the person waiting wants to know now.
    public func test(at date: Date) async -> TestResult {
        let alert = AccountStateAlert(event: .test, account: "", email: nil, kind: nil, fromState: .ok, toState: .ok, problem: nil, at: date)
        var delivered = true
        var lines: [String] = []
        if let webhook = settings.webhook {
            do {
                let request = try WebhookFormatter.request(alert, format: settings.format, statusPage: settings.statusPage)
                let answer = try await sender.send(request, to: webhook)
                if (200..<300).contains(answer.status) {
                    lines.append("webhook (\(settings.format.rawValue)): delivered, HTTP \(answer.status)")
                    logger.info("test alert delivered", metadata: ["http.status": "\(answer.status)"])
                } else {
                    delivered = false
                    let body = answer.bodyText()
                    lines.append("webhook (\(settings.format.rawValue)): refused, HTTP \(answer.status)" + (body.isEmpty ? "" : ": \(body)"))
                    logger.error("test alert refused by the webhook", metadata: ["http.status": "\(answer.status)", "http.body": "\(answer.bodyText(limit: 300))"])
                }
            } catch {
                delivered = false
                lines.append("webhook (\(settings.format.rawValue)): no answer: \(error)")
            }
        }
        if let mailer = settings.mailer {
            switch await mail(alert, mailer) {
            case .queued(let id, let through)?:
                lines.append("email to \(mailer.recipients.joined(separator: ", ")): queued as log id \(id), through account \(through)")
            case .noHealthyAccount?:
                delivered = false
                lines.append("email to \(mailer.recipients.joined(separator: ", ")): not sent, no healthy account to send it through")
            case nil:
                delivered = false
                lines.append("email: could not be queued (see the log)")
            }
        }
        if lines.isEmpty {
            delivered = false
            lines.append("no alerts configured: set alerts.webhook_url or alerts.email_to")
        }
        return TestResult(delivered: delivered, lines: lines)
    }
}
