import AccountAlerts
import ArgumentParser
import Foundation
import Logging
import RelayConfig
import RelayStore
import StatusWeb

extension RelayApplication {
    /// The alerts.* keys as AccountAlerts takes them; nil when neither a webhook nor email_to is set (or
    /// email_to is set but there is no store to queue the email in). `wake` tells a running delivery
    /// worker about a queued alert email.
    static func alertDispatcher(
        _ configuration: RelayConfiguration, store: (accounts: any AccountStore, intake: any MessageIntake)?,
        wake: @escaping @Sendable () -> Void, logger: Logger
    ) -> AlertDispatcher? {
        let alerts = configuration.alerts
        let mailer = alerts.emailTo.isEmpty ? nil : store.map {
            AlertMailer(store: $0.accounts, intake: $0.intake, recipients: alerts.emailTo, hostname: configuration.smtp.hostname, wake: wake)
        }
        let settings = AlertSettings(
            webhook: alerts.webhookURL, format: AlertFormat(rawValue: alerts.webhookFormat.rawValue) ?? .json,
            remindHours: alerts.remindHours, statusPage: configuration.web.publicURL, mailer: mailer)
        guard settings.isEnabled else { return nil }
        return AlertDispatcher(settings: settings, logger: logger)
    }

    /// Where alerts go, for the page: the kind of webhook (its URL is a secret) and the email addresses.
    static func alertDestinations(_ configuration: RelayConfiguration) -> [String] {
        var destinations: [String] = []
        if configuration.alerts.webhookURL != nil {
            let kind = switch configuration.alerts.webhookFormat {
            case .json: "a JSON webhook"
            case .slack: "a Slack-compatible webhook"
            case .discord: "a Discord webhook"
            case .teams: "a Microsoft Teams webhook"
            case .ntfy: "an ntfy topic"
            }
            destinations.append(kind)
        }
        if !configuration.alerts.emailTo.isEmpty {
            destinations.append("email to " + configuration.alerts.emailTo.joined(separator: ", "))
        }
        return destinations
    }

    static func alertControls(_ configuration: RelayConfiguration, _ dispatcher: AlertDispatcher?) -> AlertControls? {
        guard let dispatcher else { return nil }
        return AlertControls(
            destinations: alertDestinations(configuration), lastProblem: { dispatcher.notices.lastProblem },
            sendTest: {
                let result = await dispatcher.test(at: Date())
                return (result.delivered, result.lines)
            })
    }
}

/// `gmail-relay alerts test`: one test alert to every configured destination, now.
struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Alerts (alerts.webhook_url, alerts.email_to).",
        subcommands: [AlertsTestCommand.self]
    )
}

struct AlertsTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send a test alert to the webhook (and queue one for alerts.email_to); exit 1 when it is refused.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let configuration = try global.loadConfiguration()
        var logger = Logger(label: "gmail-relay")
        logger.logLevel = .critical  // the outcome is printed below, in words
        // The store only when an email is to be queued: a webhook test needs no data directory.
        let store = configuration.alerts.emailTo.isEmpty ? nil : try await global.openStore(configuration)
        let mailStore = store.map { (accounts: $0 as any AccountStore, intake: RelayStorage.intake(for: $0)) }
        guard let dispatcher = RelayApplication.alertDispatcher(configuration, store: mailStore, wake: {}, logger: logger) else {
            throw OperatorError("no alerts configured: set alerts.webhook_url (and alerts.webhook_format) or alerts.email_to")
        }
        let result = await dispatcher.test(at: Date())
        for line in result.lines { print(line) }
        if store != nil {
            print("(a queued email is sent by the running `gmail-relay serve`)")
        }
        if !result.delivered { throw ExitCode(1) }
    }
}
