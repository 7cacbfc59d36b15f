import Foundation
import Testing

@testable import RelayConfig

/// alerts.webhook_format, alerts.remind_hours, alerts.email_to and web.public_url: defaults, and errors that
/// name the file, the line and the key.
@Suite struct AlertKeys {
    func error(_ text: String, env: [String: String] = [:]) -> String? {
        do {
            _ = try load(text, env: env)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func defaults() throws {
        let c = try load("")
        #expect(c.alerts.webhookFormat == .json && c.alerts.remindHours == 24 && c.alerts.emailTo.isEmpty)
        #expect(c.web.publicURL == nil)
    }

    @Test func valuesAreRead() throws {
        let c = try load("""
            [alerts]
            webhook_url = "https://hooks.slack.com/services/T0/B0/x"
            webhook_format = "Slack"
            remind_hours = 0
            email_to = "ops@example.com,oncall@example.org"
            [web]
            public_url = "https://relay.example.com"
            """)
        #expect(c.alerts.webhookFormat == .slack && c.alerts.remindHours == 0)
        #expect(c.alerts.emailTo == ["ops@example.com", "oncall@example.org"])
        #expect(c.web.publicURL == URL(string: "https://relay.example.com"))
    }

    @Test func badValuesNameTheKeyAndLine() {
        #expect(error("alerts.webhook_url = \"https://h.example/x\"\nalerts.webhook_format = \"telegram\"")
            == "config.toml:2: alerts.webhook_format: expected one of json, slack, discord, teams, ntfy, got \"telegram\"")
        #expect(error("alerts.remind_hours = -1")?.hasPrefix("config.toml:1: alerts.remind_hours: must be between 0 and") == true)
        #expect(error("alerts.remind_hours = 99999999")?.hasPrefix("config.toml:1: alerts.remind_hours: must be between 0 and") == true)
        #expect(error("\n\nalerts.email_to = \"ops@example.com, Ops <ops@example.com>\"")
            == "config.toml:3: alerts.email_to: expected addresses like ops@example.com separated by commas, got \"Ops <ops@example.com>\"")
        #expect(error("alerts.email_to = \"ops@example.com\\r\\nBcc: x@example.com\"")?.hasPrefix("config.toml:1: alerts.email_to: expected addresses") == true)
        #expect(error("alerts.email_to = \"nobody\"")?.hasPrefix("config.toml:1: alerts.email_to:") == true)
        let many = (1...21).map { "a\($0)@example.com" }.joined(separator: ",")
        #expect(error("alerts.email_to = \"\(many)\"") == "config.toml:1: alerts.email_to: at most 20 addresses, got 21")
        #expect(error("web.public_url = \"relay.example.com\"")?.hasPrefix("config.toml:1: web.public_url: expected an http:// or https:// URL") == true)
        // A chat format with nowhere to send it would silently do nothing.
        #expect(error("\nalerts.webhook_format = \"teams\"") == "config.toml:2: alerts.webhook_format: needs alerts.webhook_url (the teams webhook's address)")
        #expect(error("", env: ["GMAIL_RELAY_ALERTS_WEBHOOK_FORMAT": "ntfy"])?.contains("needs alerts.webhook_url") == true)
    }
}
