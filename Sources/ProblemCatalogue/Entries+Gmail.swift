import Foundation
import RelayVocabulary

extension ProblemCatalogue {
    /// The Gmail account, the Cloud project or the domain (docs/google-api.md 2.1, 2.3-2.6, 3).
    static let gmailEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .mailServiceDisabled,
            title: "Gmail is not enabled for this user",
            meaning: "Gmail answered failedPrecondition \"Mail service not enabled\": the Google account has no Gmail mailbox, so it cannot send through the Gmail API.",
            causes: [
                "A Google Workspace user whose organisational unit has the Gmail service turned off, or who has no Workspace licence with Gmail.",
                "A Google account created with a non-Gmail address (e.g. a Hotmail address), which has no mailbox.",
                "A new Workspace user whose mailbox is not set up yet (can take up to 24 hours).",
            ],
            disposition: .held,
            facts: { c in c.isPlaceholder ? [] : ["The account sends as \(c.subject ?? c.user)."] },
            steps: { c in [
                "Workspace: Google Admin console (https://admin.google.com) → Apps → Google Workspace → Gmail → Service status: turn it ON for the user's organisational unit, and check the user has a licence that includes Gmail (Directory → Users → the user → Licences).",
                "Check by signing in as \(c.subject ?? c.user) at https://mail.google.com: the mailbox must open.",
                "A Google account without Gmail cannot send through the API: use an account that has a mailbox.",
                Steps.retryHeld(c),
            ] }
        ),
        CatalogueEntry(
            .preconditionTransient,
            title: "Gmail answered failedPrecondition (retrying once)",
            meaning: "Gmail answered 400 failedPrecondition \"Precondition check failed\" and nothing about this account explains it. Google gives this answer to a small share of calls that succeed when repeated, so the relay tries once more before holding mail.",
            causes: [
                "A passing fault at Google (reported for about 1-2 % of calls at times).",
                "If it repeats: the account's configuration (see precondition_failed).",
            ],
            disposition: .retried,
            steps: { c in [
                "Nothing yet: the relay retries by itself. If the retry fails too the code becomes precondition_failed.",
                Steps.readLog(c),
            ] }
        ),
        CatalogueEntry(
            .preconditionFailed,
            title: "Gmail keeps answering failedPrecondition",
            meaning: "Gmail answered 400 failedPrecondition again after a retry: something about this Google account stops it from sending, and Google does not say what.",
            causes: [
                "The user's mailbox is not set up or is suspended (sign in at https://mail.google.com to check).",
                "A service account impersonating a user of a domain that has not granted it domain-wide delegation, or acting as itself.",
                "An account-specific state at Google that only an administrator or Google support can see.",
            ],
            disposition: .held,
            steps: { c in [
                "Sign in as \(c.subject ?? c.user) at https://mail.google.com and send a message by hand: any warning shown there is the cause.",
                c.isServiceAccount
                    ? "Check the subject and domain-wide delegation: \(Steps.delegation(c))"
                    : "Check the account with `gmail-relay doctor \(c.name)`.",
                Steps.retryHeld(c),
            ] }
        ),
        CatalogueEntry(
            .scopeInsufficient,
            title: "The authorization does not allow sending",
            meaning: "Gmail answered 403 insufficientPermissions (ACCESS_TOKEN_SCOPE_INSUFFICIENT): the grant does not include a scope that allows sending mail.",
            causes: [
                "On Google's consent screen the \"Send email on your behalf\" box was left unticked (Google lets users grant only some scopes).",
                "The OAuth client's Data Access page does not list the Gmail send scope.",
                "For a service account: the domain-wide delegation entry lacks the send scope.",
            ],
            disposition: .held,
            facts: { c in
                var facts = ["Sending needs one of: \(Console.sendScopes.joined(separator: ", "))."]
                if let granted = c.grantedScopes {
                    facts.append("The grant has: \(granted.isEmpty ? "no scopes" : granted.joined(separator: ", ")).")
                } else if !c.isPlaceholder {
                    facts.append("The scopes the grant has are not known to the relay; `gmail-relay doctor \(c.name)` reads them from Google.")
                }
                return facts
            },
            steps: { c in
                if c.isServiceAccount {
                    return [Steps.delegation(c), "Then `gmail-relay queue retry --all`."]
                }
                return [
                    "Make sure the app asks for the send scope: \(Console.dataAccess) → Add or remove scopes → \(Console.sendScope).",
                    Steps.reauth(c) + " Tick every box on the consent screen.",
                ]
            }
        ),
        CatalogueEntry(
            .apiDisabled,
            title: "Gmail API disabled in the Cloud project",
            meaning: "Gmail answered 403 accessNotConfigured (SERVICE_DISABLED): the Gmail API is not enabled in the Google Cloud project that owns the OAuth client or service account.",
            causes: [
                "The Gmail API was never enabled in this project (it is off in new projects).",
                "It was enabled a few minutes ago and has not propagated yet.",
                "Someone disabled it.",
            ],
            disposition: .held,
            steps: { c in
                var steps: [String] = []
                if let url = c.detail?.activationURL {
                    steps.append("Open \(url.absoluteString) (signed in as a project owner) and click Enable.")
                } else {
                    steps.append("Enable it: \(Console.gmailAPI), in the project of the account's OAuth client or service account (Google's answer names it: \(c.isPlaceholder ? "see the activation URL on the status page" : "see the raw answer")).")
                }
                steps.append("Wait a few minutes for it to propagate.")
                steps.append(Steps.retryHeld(c))
                return steps
            }
        ),
        CatalogueEntry(
            .delegationDenied,
            title: "Delegation denied",
            meaning: "Gmail answered 403 \"Delegation denied\": the request addressed a mailbox that is not the authorised user's own.",
            causes: [
                "The grant was made by a different Google user than the account's address (someone signed in with another account on the consent screen).",
                "The mailbox addressed is a send-as alias or another user rather than the authorised user.",
            ],
            disposition: .held,
            facts: { c in
                guard let message = c.detail?.googleMessage, let range = message.range(of: "Delegation denied for ") else { return [] }
                return ["The authorised user is \(message[range.upperBound...])."]
            },
            steps: { c in [
                c.isServiceAccount
                    ? "Check the subject: \(Steps.readdServiceAccount(c))"
                    : "Run `gmail-relay reauth \(c.name)` and sign in as \(c.user) itself, not another Google account.",
                "Aliases must be verified send-as addresses of that user (Gmail → Settings → Accounts → Send mail as) and listed with `--from` on the account.",
            ] }
        ),
        CatalogueEntry(
            .domainPolicy,
            title: "Blocked by the Workspace administrator",
            meaning: "Google refused because a Google Workspace administrator's policy blocks this app or Gmail API access (domainPolicy or admin_policy_enforced).",
            causes: [
                "The domain restricts third-party apps and this OAuth client is not trusted.",
                "The administrator disabled Gmail API access for the domain or the user's organisational unit.",
            ],
            disposition: .held,
            steps: { c in [
                "Ask the Workspace administrator to allow the app: Google Admin console (https://admin.google.com) → Security → Access and data control → API controls → Manage Third-Party App Access → add the OAuth client ID as Trusted.",
                c.isServiceAccount ? "Then `gmail-relay queue retry --all`." : "Then `gmail-relay reauth \(c.name)`.",
            ] }
        ),
        .unexplained(
            .permissionDenied, title: "Gmail denied permission", answer: "Gmail answered 403 with a reason", words: "message",
            otherCauses: ["The account or domain is restricted by Google or an administrator."],
            then: Steps.retryHeld
        ),
        CatalogueEntry(
            .accessTokenRejected,
            title: "Gmail rejected a fresh access token",
            meaning: "Gmail answered 401 even to an access token the relay had just obtained from Google, so the grant cannot be used for Gmail right now.",
            causes: [
                "The grant was revoked between the token refresh and the send.",
                "google.gmail_url and google.token_url point at different systems (e.g. one at a test server).",
                "This server's clock is far off.",
            ],
            disposition: .held,
            steps: { c in [
                "Check google.gmail_url and google.token_url in the configuration, and the server clock (`date -u`).",
                c.isServiceAccount ? Steps.retryHeld(c) : Steps.reauth(c),
            ] }
        ),
    ]
}
