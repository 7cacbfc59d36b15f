import Foundation
import RelayVocabulary

extension ProblemCatalogue {
    /// Rate and sending limits (docs/google-api.md 1.8, 1.9, 2.7, 2.8).
    static let limitEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .rateLimited,
            title: "Gmail is rate limiting this account",
            meaning: "Gmail answered rateLimitExceeded (HTTP 429 or 403): the account sent too much in a short time. The relay waits and tries again.",
            causes: [
                "A burst of mail: Gmail allows about 60 sends a minute per user per project (6,000 quota units a minute; a send costs 100).",
                "Other programs use the same Google account or project at the same time.",
            ],
            disposition: .retried,
            facts: { c in [Facts.retryAfter(c)].compactMap { $0 } },
            steps: { c in [
                c.detail?.retryAfter.map { "Nothing to do: the relay sends again after \(Facts.date($0))." }
                    ?? "Nothing to do: the relay sends again after Gmail's retry time, or with a growing delay.",
                "If it happens every day, spread the CMS's mail out (batch newsletters) or use more than one account.",
            ] }
        ),
        CatalogueEntry(
            .concurrencyLimited,
            title: "Too many concurrent requests for this Gmail user",
            meaning: "Gmail answered 429 \"Too many concurrent requests for user\": too many calls for the same user were in flight at once.",
            causes: ["Several programs (or several relays) send as the same user at the same moment."],
            disposition: .retried,
            facts: { c in [Facts.retryAfter(c)].compactMap { $0 } },
            steps: { _ in [
                "Nothing to do: the relay retries with a growing delay.",
                "If it persists, stop other programs sending as the same user at the same time.",
            ] }
        ),
        CatalogueEntry(
            .dailyLimit,
            title: "Daily sending limit reached",
            meaning: "Gmail answered \"User-rate limit exceeded (Mail sending)\": the account reached Gmail's daily sending limit, which counts mail sent from the web, phones, SMTP and the API together over a rolling 24 hours. Gmail refuses further sends for up to 24 hours.",
            causes: [
                "More mail than the limit in 24 hours: Google Workspace allows 2,000 messages a day (500 during a trial) and 10,000 recipients a day; consumer gmail.com accounts about 500 a day (published limits: https://support.google.com/a/answer/166852 and https://support.google.com/mail/answer/22839).",
                "A CMS loop or a compromised form sending in bulk.",
            ],
            disposition: .retried,
            facts: { c in [Facts.retryAfter(c)].compactMap { $0 } },
            steps: { c in [
                c.detail?.retryAfter.map { "Wait: the relay sends the queued mail after \(Facts.date($0)) (Gmail's time)." }
                    ?? "Wait: the relay sends the queued mail when Gmail's stated retry time has passed.",
                "Look at the send log for an unexpected burst: `gmail-relay log --account \(c.name) --limit 200`.",
                "For more volume, use a Workspace account (2,000 a day) or several accounts.",
            ] }
        ),
        CatalogueEntry(
            .projectDailyLimit,
            title: "Cloud project's daily API quota used up",
            meaning: "Gmail answered 403 dailyLimitExceeded: the Google Cloud project's own daily quota for the Gmail API is used up (a cap set on the project, not the user's sending limit).",
            causes: ["A quota cap lowered in the project, or other software using the same project."],
            disposition: .retried,
            facts: { c in [Facts.retryAfter(c)].compactMap { $0 } },
            steps: { _ in [
                "Check the quota: Google Cloud console → APIs & Services → Gmail API → Quotas & system limits (https://console.cloud.google.com/apis/api/gmail.googleapis.com/quotas), and raise the cap.",
                "The relay keeps the mail queued and retries; the quota resets daily.",
            ] }
        ),
    ]

    /// The message itself (docs/google-api.md 1.3, 2.2).
    static let messageEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .messageRejected,
            title: "Gmail refused the message",
            meaning: "Gmail refused this message (HTTP 400) because of its content or headers. The relay does not retry it; the CMS got a 554 reply with Gmail's words.",
            causes: [
                "A malformed recipient header (e.g. `To: name@host` without a domain ending, unbalanced quotes, a list printed as text).",
                "No recipient at all in To, Cc or Bcc.",
                "Other malformed headers or encoding produced by the CMS or a plugin.",
            ],
            disposition: .failed,
            facts: { c in Facts.quoting(c.detail?.googleMessage) { "Gmail's own words: “\($0)”." } },
            steps: { c in [
                "Read the headers the relay sent: `gmail-relay log show \(c.logID)` (or the message page), and fix the field Gmail names in the CMS or plugin that builds the mail.",
                "Send it again from the CMS; a refused message is not retried.",
            ] }
        ),
        CatalogueEntry(
            .messageTooLarge,
            title: "Message too large for Gmail",
            meaning: "Gmail refused the message as too large (HTTP 413, or \"Request payload size exceeds the limit\"). Gmail accepts at most 35 MiB (36,700,160 bytes) of message through its upload endpoint, attachments included after encoding.",
            causes: ["Large attachments: base64 encoding makes them a third bigger than the files."],
            disposition: .failed,
            steps: { c in [
                "Send smaller attachments, or a link to the file instead.",
                "smtp.max_message_bytes (default 36700160) makes the relay refuse such mail already at SMTP time.",
                Steps.readLog(c),
            ] }
        ),
    ]

    /// No usable answer (docs/google-api.md 2.9).
    static let answerEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .backendError,
            title: "Google had a server error",
            meaning: "Google answered with a server error (HTTP 5xx, or 408). The relay retries with a growing delay.",
            causes: [
                "A passing fault or overload at Google.",
                "A Google outage (https://www.google.com/appsstatus/dashboard/).",
            ],
            disposition: .retried,
            steps: { c in [
                "Nothing to do: the relay retries with backoff.",
                "A server error after the upload can still mean the mail was sent: if a recipient reports a duplicate, that is why.",
                Steps.readLog(c),
            ] }
        ),
        CatalogueEntry(
            .networkError,
            title: "Google could not be reached",
            meaning: "The relay got no answer from Google: the name did not resolve, the connection or TLS failed, or the call timed out. The relay retries with a growing delay.",
            causes: [
                "No outbound HTTPS from this server (firewall, proxy, DNS).",
                "google.token_url or google.gmail_url points at a host that is down.",
                "A passing network fault.",
            ],
            disposition: .retried,
            facts: { c in Facts.quoting(c.detail?.transportError) { "The error was: \($0)." } },
            steps: { _ in [
                "From this server: `curl -sS -o /dev/null -w '%{http_code}\\n' https://gmail.googleapis.com/` must print a number (404 is fine).",
                "Check DNS (`getent hosts gmail.googleapis.com`), the firewall and any HTTPS proxy, and google.* URLs in the configuration.",
            ] }
        ),
        CatalogueEntry(
            .unexpectedResponse,
            title: "Answer the relay cannot interpret",
            meaning: "Something answered that is not one of Google's answers (for example an HTML page with a 4xx). The relay holds the mail and keeps the whole answer in the send log.",
            causes: [
                "A proxy or captive portal between this server and Google.",
                "google.* URLs in the configuration point at something other than Google.",
            ],
            disposition: .held,
            facts: { c in c.detail?.httpStatus.map { ["The answer was HTTP \($0), \(c.detail?.bodyFormat.rawValue ?? "unknown") body."] } ?? [] },
            steps: { c in [
                Steps.readLog(c),
                "Check the google.* URLs in the configuration and any HTTPS proxy.",
                Steps.retryHeld(c),
            ] }
        ),
    ]

    /// The relay's own problems (not an answer from Google): the codes of origin `.relay`.
    static let relayEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .grantMissing,
            title: "Not authorized yet",
            meaning: "The account has no Google authorization yet: it was added with an OAuth client but nobody has signed in on Google's consent screen, so there is no refresh token.",
            causes: ["`gmail-relay account add` with `--client-secret-file` (or without `--refresh-token`) was not followed by `reauth`."],
            disposition: .held,
            steps: { c in [Steps.reauth(c)] }
        ),
        CatalogueEntry(
            .secretUnreadable,
            title: "Stored credentials cannot be read",
            meaning: "The relay cannot decrypt or parse the account's stored secret (refresh token or service account key): the secret key file is not the one it was sealed with, or the stored key is damaged.",
            causes: [
                "data.dir was copied or restored without its secret.key, or GMAIL_RELAY_SECRET_KEY_FILE points at another key.",
                "secret.key was replaced or regenerated.",
                "The service account key stored with the account is not a valid key file.",
            ],
            disposition: .held,
            steps: { c in [
                "Put back the secret.key that belongs to this data directory (or point GMAIL_RELAY_SECRET_KEY_FILE at it) and restart `gmail-relay serve`.",
                c.isServiceAccount
                    ? "If that key is lost: \(Steps.readdServiceAccount(c))"
                    : "If that key is lost, sign in again: `gmail-relay reauth \(c.name)` (for an imported grant: remove and add the account again).",
            ] }
        ),
        CatalogueEntry(
            .accountRemoved,
            title: "Account removed",
            meaning: "The message's account was removed while the message waited, so it could not be sent.",
            causes: ["`gmail-relay account remove` ran while mail was queued or held."],
            disposition: .failed,
            steps: { c in [
                "Add the account again under the same name (`gmail-relay account add \(c.name) …`).",
                "Then `gmail-relay queue retry \(c.logID)`.",
            ] }
        ),
        CatalogueEntry(
            .spoolMissing,
            title: "Message file missing",
            meaning: "The message's body file is gone from the spool directory, so there is nothing to send. The send log keeps the envelope and headers.",
            causes: [
                "Files under data.dir/spool were deleted or the disk was restored from an older backup.",
                "data.dir is on a volume that was not mounted when the relay started.",
            ],
            disposition: .failed,
            steps: { c in [
                "Check that data.dir and its spool/messages directory are the ones the relay was using.",
                "Ask the site to send the message again; `gmail-relay log show \(c.logID)` shows its recipients and subject.",
            ] }
        ),
        CatalogueEntry(
            .maxAgeExceeded,
            title: "Gave up: too old",
            meaning: "The message kept failing for longer than delivery.max_age_hours (72 hours by default), so the relay gave up on it.",
            causes: ["A problem that lasted longer than the limit; the message's attempts show which."],
            disposition: .failed,
            steps: { c in [
                Steps.readLog(c),
                "Fix the problem the last attempt shows, then `gmail-relay queue retry \(c.logID)` if it should still go out.",
            ] }
        ),
    ]
}
