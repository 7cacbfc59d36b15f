import Foundation
import RelayVocabulary

extension ProblemCatalogue {
    /// A user's grant and its OAuth client: answers of the token endpoint (docs/google-api.md 4.2, 4.3).
    static let oauthEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .grantRevoked,
            title: "Authorization expired or revoked",
            meaning: "Google no longer accepts the account's stored authorization (refresh token): it answered invalid_grant \"Token has been expired or revoked\". No mail can be sent until someone signs in again.",
            causes: [
                "The access was removed at \(Console.permissions) (by the user, or by `gmail-relay account remove --revoke`).",
                "The Google account's password was changed: Google then ends every grant that has Gmail scopes.",
                "The grant was not used for six months.",
                "More than 100 grants were made for the same OAuth client and Google account: each new consent silently ends the oldest.",
                "The OAuth app is in Testing mode: its grants end 7 days after consent (see testing_mode_expiry).",
                "A Google Workspace administrator removed the app's access.",
            ],
            disposition: .held,
            facts: { c in
                var facts: [String] = []
                if let consent = Facts.consent(c) {
                    facts.append(consent)
                    if let consented = c.consentedAt, c.now.timeIntervalSince(consented) < 6.5 * 86_400 {
                        facts.append("That is less than 7 days, so the Testing-mode expiry is not the cause.")
                    }
                }
                return facts
            },
            steps: { c in [
                "Check \(Console.permissions) while signed in as \(c.user): if the app is no longer listed, access was removed there.",
                "If the password was changed recently, that ended the grant: nothing else to fix.",
                Steps.reauth(c),
                "If the OAuth app is still in Testing mode, publish it first (\(Console.audience) → Publish app), or the new grant ends again in 7 days.",
            ] }
        ),
        CatalogueEntry(
            .testingModeExpiry,
            title: "Authorization expired after 7 days (OAuth app in Testing mode)",
            meaning: "Google ended the authorization about 7 days after consent. Google does this for every grant of an OAuth app whose consent screen is in Testing mode with the External user type when it asks for Gmail scopes.",
            causes: [
                "The OAuth consent screen's publishing status is Testing (the default for a new External app).",
                "Less likely: the grant was revoked or the password changed by coincidence 7 days after consent.",
            ],
            disposition: .held,
            facts: { c in
                guard let consented = c.consentedAt else { return [] }
                let end = consented.addingTimeInterval(7 * 86_400)
                return ["Consent was given on \(Facts.date(consented)); 7 days later is \(Facts.date(end))."]
            },
            steps: { c in [
                "Publish the app: \(Console.audience) → Publishing status → Publish app (\"In production\"). Google's verification is not needed for your own accounts: on the consent screen choose Advanced → Go to … (unsafe).",
                "Grants made while the app was in Testing keep their 7-day life, so after publishing sign in again: `gmail-relay reauth \(c.name)`. Held mail goes out once it succeeds.",
                "Alternatively, with Google Workspace, make the app Internal (same page, User type → Internal): Internal apps have no 7-day limit.",
            ] }
        ),
        CatalogueEntry(
            .grantUnrecognized,
            title: "Stored authorization not recognised",
            meaning: "Google answered invalid_grant \"Bad Request\" to the stored refresh token: it is malformed, or it was issued to a different OAuth client than the one stored with the account.",
            causes: [
                "The refresh token was imported with `--refresh-token` together with another client's ID and secret.",
                "The refresh token was copied incompletely.",
            ],
            disposition: .held,
            steps: { c in [
                Steps.reauth(c),
                "When importing a grant, give the client ID and secret it was issued to: `gmail-relay account update \(c.name) --client-id ID --client-secret-stdin --refresh-token-stdin` (the secret, then the token, one per line on standard input).",
            ] }
        ),
        CatalogueEntry(
            .sessionReauthRequired,
            title: "Google Cloud session control requires signing in again",
            meaning: "Google answered invalid_grant with error_subtype invalid_rapt: a Google Cloud session-control policy of the user's organisation limits how long a grant lasts before the user must sign in again.",
            causes: [
                "The Workspace administrator set a re-authentication frequency (Admin console → Security → Access and data control → Google Cloud session control).",
            ],
            disposition: .held,
            steps: { c in [
                Steps.reauth(c),
                "To stop it recurring, ask the Workspace administrator to exempt this app or user from Google Cloud session control (Admin console → Security → Access and data control → Google Cloud session control).",
            ] }
        ),
        CatalogueEntry(
            .authCodeInvalid,
            title: "Authorization code refused",
            meaning: "Google refused the code from the consent screen during `reauth`: it was already used, mistyped, expired, or did not match the PKCE verifier of this run.",
            causes: [
                "The final address was pasted from an older `reauth` run, or pasted twice.",
                "The URL was cut off when pasting.",
                "Too much time passed between consent and pasting (codes are short-lived).",
            ],
            disposition: .held,
            steps: { c in [
                "Run `gmail-relay reauth \(c.name)` again and paste the whole final address (starting with http://127.0.0.1) right after consenting.",
            ] }
        ),
        CatalogueEntry(
            .clientInvalid,
            title: "OAuth client not found",
            meaning: "Google answered invalid_client \"The OAuth client was not found\": the client ID stored with the account does not exist (mistyped, or deleted more than 30 days ago).",
            causes: [
                "The client ID was mistyped or copied from another project.",
                "The OAuth client was deleted more than 30 days ago.",
            ],
            disposition: .held,
            steps: { c in [
                "Check the client at \(Console.credentials). If it is gone, create one: Create credentials → OAuth client ID → Application type \"Desktop app\", and download its JSON.",
                Steps.readdClient(c),
            ] }
        ),
        CatalogueEntry(
            .clientSecretInvalid,
            title: "OAuth client secret wrong",
            meaning: "Google answered invalid_client \"Unauthorized\": the client secret stored with the account is not the client's secret.",
            causes: [
                "The client's secret was reset or rotated in the console.",
                "The secret was mistyped when the account was added.",
            ],
            disposition: .held,
            steps: { c in [
                "Download the client's current JSON from \(Console.credentials) (the client → Download JSON).",
                Steps.readdClient(c),
            ] }
        ),
        CatalogueEntry(
            .clientDeleted,
            title: "OAuth client deleted",
            meaning: "Google answered deleted_client: the OAuth client the account signs in with was deleted. A deleted client can be restored for 30 days.",
            causes: ["Someone deleted the OAuth client in the Google Cloud console (or the whole project)."],
            disposition: .held,
            steps: { c in [
                "Within 30 days of deletion: \(Console.credentials) → Deleted credentials → Restore. Then `gmail-relay queue retry --all`.",
                "Otherwise create a new \"Desktop app\" client there and download its JSON.",
                Steps.readdClient(c),
            ] }
        ),
        CatalogueEntry(
            .clientDisabled,
            title: "OAuth client or service account key disabled",
            meaning: "Google answered disabled_client: the OAuth client, or the key the service account signs with, is disabled.",
            causes: [
                "The service account key was disabled (\(Console.serviceAccounts) → the account → Keys).",
                "The OAuth client or the service account itself was disabled.",
            ],
            disposition: .held,
            steps: { c in [
                c.isUserGrant
                    ? "Enable the OAuth client again at \(Console.credentials), or create a new \"Desktop app\" client."
                    : "Enable the key (or the service account) again at \(Console.serviceAccounts), or create a new key there (Keys → Add key → Create new key → JSON).",
                c.isUserGrant ? Steps.readdClient(c) : Steps.readdServiceAccount(c, key: "NEW-KEY.json"),
            ] }
        ),
        CatalogueEntry(
            .clientMismatch,
            title: "Authorization belongs to another OAuth client",
            meaning: "Google answered unauthorized_client: the stored refresh token was issued to a different OAuth client ID than the one stored with the account.",
            causes: ["The refresh token was imported with the wrong client ID, or the account's client was replaced after consent."],
            disposition: .held,
            steps: { c in [Steps.reauth(c)] }
        ),
        CatalogueEntry(
            .accessDenied,
            title: "Access denied",
            meaning: "Google answered access_denied: the user declined the consent screen, or an administrator does not allow this app.",
            causes: [
                "\"Cancel\" was chosen on the consent screen, or the send permission was left unticked.",
                "A Google Workspace administrator blocks third-party access for this user.",
            ],
            disposition: .held,
            steps: { c in [
                Steps.reauth(c),
                "With Google Workspace, ask the administrator to trust the app: Admin console → Security → Access and data control → API controls → Manage Third-Party App Access.",
            ] }
        ),
        CatalogueEntry(
            .orgInternal,
            title: "OAuth app is internal to another organisation",
            meaning: "Google answered org_internal: the OAuth app's user type is Internal, so only accounts of the organisation that owns the Cloud project may use it.",
            causes: ["The account signs in with an address outside the organisation that owns the app."],
            disposition: .held,
            steps: { c in [
                "Sign in with an account of the app's organisation, or change the app to External: \(Console.audience) → User type → Make external (then publish it, see testing_mode_expiry).",
                "Then `gmail-relay reauth \(c.name)`.",
            ] }
        ),
        CatalogueEntry(
            .scopeInvalid,
            title: "OAuth scope refused",
            meaning: "Google answered invalid_scope: the scope in the token request is empty or unknown to Google.",
            causes: [
                "A service account's scopes were written comma-separated instead of space-separated.",
                "The relay's configured scope was changed to a value Google does not know.",
            ],
            disposition: .held,
            steps: { c in [
                "The relay asks for \(Console.sendScope); check the OAuth client's Data Access page lists it: \(Console.dataAccess).",
                Steps.readLog(c),
            ] }
        ),
        CatalogueEntry(
            .tokenRequestInvalid,
            title: "Token request refused as malformed",
            meaning: "Google answered invalid_request, unsupported_grant_type or redirect_uri_mismatch: it rejected the token request itself.",
            causes: [
                "The OAuth client is not of type \"Desktop app\", so the loopback redirect of `reauth` is not allowed (redirect_uri_mismatch).",
                "google.token_url points at something that is not Google's token endpoint.",
            ],
            disposition: .held,
            steps: { c in [
                "Check the client's type at \(Console.credentials): it must be \"Desktop app\"; create one if not, and re-add the account with its JSON.",
                "Check google.token_url in the configuration (default https://oauth2.googleapis.com/token).",
                Steps.readLog(c),
            ] }
        ),
        .unexplained(
            .oauthError, title: "Token endpoint refused",
            answer: "Google's token endpoint refused with an OAuth error", words: "description", otherCauses: [],
            then: { c in c.isServiceAccount ? Steps.readdServiceAccount(c) : Steps.reauth(c) }
        ),
    ]
}
