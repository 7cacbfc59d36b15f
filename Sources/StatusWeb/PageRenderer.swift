import BuildInfo
import Foundation
import Mustache
import ProblemCatalogue
import RelayStatus
import RelayStore
import RelayVocabulary

/// Renders the Mustache templates. View data are plain dictionaries; an absent optional is `false`, never a
/// missing key, because Mustache would otherwise look the name up in the enclosing context.
struct PageRenderer: Sendable {
    let library: MustacheLibrary

    init() throws {
        library = try Templates.library()
    }

    func page(title: String, body: String, csrf: String?, loggedIn: Bool, now: Date) -> String {
        let data: [String: Any] = [
            "title": title, "body": body, "csrf": csrf ?? "", "loggedIn": loggedIn,
            "footer": "gmail-relay \(RelayVersion.version) · page made \(ISO8601.string(now))",
        ]
        return library.render(data, withTemplate: "layout") ?? body
    }

    func render(_ template: String, _ data: [String: Any]) -> String {
        library.render(data, withTemplate: template) ?? ""
    }

    // MARK: View data

    static func opt(_ value: String?) -> Any { value.flatMap { $0.isEmpty ? nil : $0 } ?? false }

    static func time(_ date: Date?, now: Date) -> String {
        guard let date else { return "never" }
        let seconds = date.timeIntervalSince(now)
        let magnitude = abs(seconds)
        let span: String
        if magnitude < 90 { span = "\(Int(magnitude)) s" }
        else if magnitude < 90 * 60 { span = "\(Int(magnitude / 60)) min" }
        else if magnitude < 48 * 3600 { span = "\(Int(magnitude / 3600)) h" }
        else { span = "\(Int(magnitude / 86_400)) days" }
        return "\(ISO8601.string(date)) (\(seconds >= 0 ? "in " + span : span + " ago"))"
    }

    static func problem(_ explanation: Explanation?) -> Any {
        guard let explanation else { return false }
        return [
            "code": explanation.code.rawValue, "title": explanation.title, "explanation": explanation.explanation,
            "disposition": explanation.disposition.rawValue, "dispositionSentence": explanation.disposition.sentence,
            "stepsHTML": explanation.steps.map(HTMLText.rich), "causesHTML": explanation.causes.map(HTMLText.rich),
        ] as [String: Any]
    }

    static func label(_ state: AccountState) -> String {
        switch state {
        case .ok: return "ok"
        case .needsReauth: return "needs reauthorization"
        case .blocked: return "blocked"
        case .unconfigured: return "not configured"
        }
    }

    static func label(_ kind: AccountKind) -> String {
        switch kind {
        case .sandbox: return "sandbox (not sent to Google)"
        case .oauthUser: return "OAuth user grant"
        case .serviceAccount: return "service account (domain-wide delegation)"
        }
    }

    static func overview(_ report: StatusReport, now: Date) -> [String: Any] {
        let accounts: [[String: Any]] = report.accounts.map { account in
            var warning: Any = false
            if let w = account.warning { warning = ["level": w.level, "text": w.text] as [String: Any] }
            return [
                "name": account.name, "email": account.email ?? "(none)", "state": account.state.rawValue,
                "stateLabel": label(account.state),
                "kindLabel": label(account.kind),
                "tokenExpires": account.kind == .sandbox ? "no token (sandbox)"
                    : account.tokenExpiresAt.map { time($0, now: now) } ?? "no access token yet",
                "lastSuccess": time(account.lastSuccessAt, now: now),
                "lastChecked": account.kind == .sandbox ? "not checked (sandbox)" : time(account.checkedAt, now: now),
                "consented": account.consentedAt.map { time($0, now: now) as Any } ?? false,
                "messages": ["queued": account.messages.queued, "held": account.messages.held, "failed": account.messages.failed],
                "warning": warning,
                "warnings": account.warnings.map { problem($0) },
                "problem": problem(account.problem),
                "fallback": account.fallback.map { name -> Any in
                    account.fallbackInUse
                        ? "\(name): in use, this account's mail goes out through \(name) (From is \(name)'s address, the original in Reply-To)"
                        : "\(name), while this account needs reauthorization or is blocked"
                } ?? false,
            ]
        }
        let q = report.queue
        return [
            "accounts": accounts,
            "relayProblems": report.relayProblems.map { problem($0) },
            "hasLogins": !report.logins.isEmpty,
            "logins": report.logins.map { login -> [String: Any] in
                [
                    "username": login.username, "account": login.account, "sentToday": login.sentToday,
                    "limit": login.dailyLimit.map(String.init) ?? "none", "atLimit": login.isAtLimit,
                ]
            },
            "hasRelays": !report.relays.isEmpty,
            "relays": report.relays.map { relay -> [String: Any] in
                [
                    "name": relay.name, "state": relay.state.rawValue, "gone": relay.state == .gone,
                    "started": ISO8601.string(relay.startedAt), "lastSeen": ISO8601.string(relay.lastSeen),
                    "claimed": relay.claimed,
                ]
            },
            "queue": ["queued": q.queued, "sending": q.sending, "held": q.held, "failed": q.failed, "sent24h": q.sent24h],
        ]
    }

    static func message(_ document: MessageDocument, csrf: String, notice: String?, noticeError: String?, now: Date) -> [String: Any] {
        let m = document.message
        let attempts: [[String: Any]] = document.attempts.enumerated().map { index, attempt in
            let body = attempt.responseBody.map { JSONPretty.format($0) ?? $0 }
            return [
                "number": index + 1, "started": ISO8601.string(attempt.startedAt), "endpoint": attempt.endpoint,
                "httpStatus": attempt.httpStatus.map { "HTTP \($0)" } ?? "no HTTP answer",
                "problem": opt(attempt.problem?.rawValue),
                "duration": String(format: "%.2f s", attempt.finishedAt.timeIntervalSince(attempt.startedAt)),
                "nextDelay": attempt.nextDelaySeconds.map { String(format: "%.0f s", $0) as Any } ?? false,
                "body": opt(body),
            ]
        }
        let events: [[String: Any]] = document.events.map {
            ["at": ISO8601.string($0.at), "kind": $0.kind.rawValue, "detail": $0.detail]
        }
        let canRetry = [.held, .failed, .queued].contains(m.status)
        let canDiscard = [.held, .failed, .queued].contains(m.status)
        return [
            "id": m.id, "status": m.status.rawValue, "subject": m.subject ?? "(no subject)", "account": m.account,
            "from": m.mailFrom.isEmpty ? "<>" : m.mailFrom, "to": m.recipients.joined(separator: ", "),
            "messageID": m.messageID ?? "(none)", "size": m.size, "created": time(m.createdAt, now: now),
            "updated": time(m.updatedAt, now: now), "peer": m.peer, "tls": m.tls, "credential": opt(m.credentialUsername),
            "gmailID": opt(m.gmailID), "sandbox": m.sandbox, "sentThrough": opt(m.sentThrough),
            "canAct": canRetry || canDiscard, "canRetry": canRetry, "canDiscard": canDiscard, "csrf": csrf,
            "problem": problem(document.explanation), "headers": opt(m.rewrittenHeaders),
            "attempts": attempts, "attemptCount": attempts.count, "events": events,
            "notice": opt(notice), "noticeError": opt(noticeError),
        ]
    }
}
