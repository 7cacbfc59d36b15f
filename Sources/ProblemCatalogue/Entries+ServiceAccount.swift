import Foundation
import RelayVocabulary

extension ProblemCatalogue {
    /// Service accounts with domain-wide delegation: the JWT-bearer grant and Gmail's failedPrecondition (docs/google-api.md 3, 4.2, 5).
    static let serviceAccountEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .saInvalidSignature,
            title: "Service account key refused (invalid JWT signature)",
            meaning: "Google answered invalid_grant \"Invalid JWT Signature\": the key the relay signs with is not a valid key of this service account.",
            causes: [
                "The key was deleted or disabled in the Google Cloud console (or it expired).",
                "The key file belongs to a different service account, or the service account was deleted.",
            ],
            disposition: .held,
            steps: { c in [
                "Compare `private_key_id` in the key file with the keys listed at \(Console.serviceAccounts) → the account → Keys.",
                "If it is not listed, create a new key there: Keys → Add key → Create new key → JSON.",
                Steps.readdServiceAccount(c, key: "NEW-KEY.json"),
            ] }
        ),
        CatalogueEntry(
            .saClockSkew,
            title: "Service account token times refused (server clock)",
            meaning: "Google answered invalid_grant \"Invalid JWT: Token must be a short-lived token … Check your iat and exp values\": the issue and expiry times the relay put in the signed request are not within Google's window, which almost always means this server's clock is wrong.",
            causes: [
                "The server's clock is off by minutes (no NTP, or a VM resumed from suspend).",
                "The server's time zone is set but its UTC time is wrong.",
            ],
            disposition: .held,
            facts: { c in c.isPlaceholder ? [] : ["This server's clock read \(Facts.date(c.now)) when the problem was explained."] },
            steps: { c in [
                "Compare the server's `date -u` with the real UTC time; `timedatectl status` shows whether NTP is synchronised.",
                "Turn on time synchronisation: `timedatectl set-ntp true` (or install chrony).",
                "Then `gmail-relay queue retry --all`.",
            ] }
        ),
        CatalogueEntry(
            .saWrongAudience,
            title: "Service account token sent to the wrong token URL",
            meaning: "Google answered invalid_grant \"Invalid JWT: Failed audience check\": the `aud` of the signed request is not the token URL it was sent to.",
            causes: [
                "The key file's `token_uri` was edited, or google.token_url points at another endpoint.",
            ],
            disposition: .held,
            steps: { c in [
                "Check `token_uri` in the key file (https://oauth2.googleapis.com/token) and google.token_url in the configuration.",
                Steps.readdServiceAccount(c),
            ] }
        ),
        CatalogueEntry(
            .saUnknownSubject,
            title: "Impersonated user does not exist",
            meaning: "Google answered invalid_grant \"Invalid email or User ID\": the user the service account impersonates (the `--subject`) is not a user of the Workspace domain.",
            causes: [
                "The subject address is mistyped, or is an alias or group rather than a user's primary address.",
                "The user was deleted or suspended.",
            ],
            disposition: .held,
            facts: { c in c.subject.map { ["The account impersonates \($0)."] } ?? [] },
            steps: { c in [
                "Look the user up in the Google Admin console (https://admin.google.com) → Directory → Users; use the user's primary address.",
                Steps.readdServiceAccount(c),
            ] }
        ),
        CatalogueEntry(
            .saNotAuthorized,
            title: "Domain-wide delegation not granted",
            meaning: "Google answered unauthorized_client (or access_denied): the Workspace domain has not authorised this service account's client ID for the Gmail send scope, so it may not act as the domain's users.",
            causes: [
                "Domain-wide delegation was never set up for this service account in the Admin console.",
                "It was set up with the service account's e-mail address instead of its numeric client ID.",
                "The delegated scopes do not include \(Console.sendScope) (they must match exactly).",
                "The subject user belongs to a different domain than the one that granted delegation.",
                "It was granted minutes ago: it can take up to 24 hours to apply.",
            ],
            disposition: .held,
            facts: { c in c.subject.map { c.isPlaceholder ? [] : ["The account impersonates \($0)."] } ?? [] },
            steps: { c in [
                Steps.delegation(c),
                "Then `gmail-relay queue retry --all`.",
            ] }
        ),
        .unexplained(
            .saGrantRejected, title: "Service account grant refused",
            answer: "Google refused the service account's token request with invalid_grant and a description", words: "description",
            otherCauses: ["The key or the service account was deleted or disabled."],
            then: { c in Steps.readdServiceAccount(c) }
        ),
        CatalogueEntry(
            .saNoSubject,
            title: "Service account has no user to send as",
            meaning: "Gmail answered failedPrecondition because the service account is acting as itself. A service account has no Gmail mailbox of its own: it can only send as a Workspace user it impersonates through domain-wide delegation, named with `--subject`.",
            causes: [
                "The account was added without `--subject USER@DOMAIN`.",
                "The subject is the service account's own address (…iam.gserviceaccount.com).",
            ],
            disposition: .held,
            steps: { c in [
                "Pick the Workspace user the mail should come from (e.g. info@yourdomain).",
                Steps.delegation(c),
                "Give the account that subject: `gmail-relay account update \(c.name) --subject USER@DOMAIN`. Its held mail is then tried again.",
            ] }
        ),
        CatalogueEntry(
            .saConsumerAccount,
            title: "Service account cannot send as a gmail.com address",
            meaning: "Gmail answered failedPrecondition because the service account impersonates a consumer address (@gmail.com). Domain-wide delegation exists only for Google Workspace and Cloud Identity domains; no one can grant it for a gmail.com mailbox.",
            causes: ["The `--subject` is a @gmail.com or @googlemail.com address."],
            disposition: .held,
            facts: { c in c.subject.map { c.isPlaceholder ? [] : ["The account impersonates \($0)."] } ?? [] },
            steps: { c in [
                "Use a user grant instead: create an OAuth client of type \"Desktop app\" at \(Console.credentials) and download its JSON.",
                "`gmail-relay account add \(c.name)-user --client-secret-file client_secret.json --from \(c.subject ?? c.user)`, then `gmail-relay reauth \(c.name)-user`, and move the CMS's SMTP login to it: `gmail-relay credential remove USERNAME`, `gmail-relay credential add USERNAME --account \(c.name)-user`.",
                "Or send as a Workspace user: \(Steps.readdServiceAccount(c))",
            ] }
        ),
    ]
}
