import Foundation
import Hummingbird
import Mustache

/// What the page may do about alerts, handed in by the app (this module does not send alerts itself).
public struct AlertControls: Sendable {
    /// Where alerts go, in words without secrets ("Slack-style webhook", "email to ops@example.com").
    public var destinations: [String]
    /// The last thing that went wrong (e.g. no healthy account for the email), or nil.
    public var lastProblem: @Sendable () -> String?
    /// Sends one test alert now; `delivered` false when a destination refused or could not be used.
    public var sendTest: @Sendable () async -> (delivered: Bool, lines: [String])

    public init(destinations: [String], lastProblem: @escaping @Sendable () -> String?,
                sendTest: @escaping @Sendable () async -> (delivered: Bool, lines: [String])) {
        self.destinations = destinations
        self.lastProblem = lastProblem
        self.sendTest = sendTest
    }
}

/// The alerts panel under the overview and `POST /alerts/test` (the "Send test alert" button). Kept in
/// one file with its own templates so it stays apart from the rest of the page.
extension StatusWebServer {
    static let alertTemplates: MustacheLibrary? = {
        var library = MustacheLibrary()
        do {
            try library.register(alertPanelTemplate, named: "alertPanel")
            try library.register(alertResultTemplate, named: "alertResult")
        } catch {
            return nil
        }
        return library
    }()

    static let alertPanelTemplate = """
        <section class="alerts" id="alerts">
        <h2>Alerts</h2>
        <p>Alerts go to: {{destinations}}.</p>
        {{#problem}}<p class="warning">{{problem}}</p>{{/problem}}
        {{#canSend}}<form method="post" action="/alerts/test"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Send test alert</button></form>{{/canSend}}
        </section>

        """

    static let alertResultTemplate = """
        <h1>Test alert</h1>
        <p class="{{#delivered}}ok{{/delivered}}{{^delivered}}warning{{/delivered}}">{{#delivered}}The test alert went out.{{/delivered}}{{^delivered}}The test alert did not get through everywhere.{{/delivered}}</p>
        <ul>
        {{#lines}}<li>{{.}}</li>
        {{/lines}}
        </ul>
        <p><a href="/#alerts">Back to the status page</a></p>

        """

    /// The panel's HTML for the overview; empty when no alerts are configured.
    func alertPanel(_ request: Request) -> String {
        guard let alerts, let library = Self.alertTemplates else { return "" }
        // A reader's session may look but not send: no button it could only get a 403 from.
        let isReader = security.requiresLogin && security.sessionRole(session(request), now: clock()) == .reader
        let data: [String: Any] = [
            "destinations": alerts.destinations.joined(separator: "; "), "problem": alerts.lastProblem() ?? false,
            "canSend": !isReader, "csrf": csrf(request),
        ]
        return library.render(data, withTemplate: "alertPanel") ?? ""
    }

    func addAlertRoutes(_ router: Router<BasicRequestContext>) {
        router.post("/alerts/test") { request, _ -> Response in
            guard let alerts = self.alerts else {
                return self.errorPage(request, .notFound, "Alerts are off", "Set alerts.webhook_url or alerts.email_to to send alerts.")
            }
            let form = try await Self.form(request)
            guard self.security.isValidCSRF(form["csrf"], session: self.session(request)) else {
                return self.errorPage(request, .forbidden, "Refused", "The form's CSRF token is missing or wrong. Reload the page and try again.")
            }
            let result = await alerts.sendTest()
            let body = Self.alertTemplates?.render(["delivered": result.delivered, "lines": result.lines], withTemplate: "alertResult") ?? ""
            return self.page(request, title: "Test alert", body: body, status: result.delivered ? .ok : .badGateway)
        }
    }
}
