import Foundation
import RelayVocabulary

/// Warnings about an account that still sends: something known to stop it soon. The status report
/// lists them in the account's `warnings` (page, /api/status, `gmail-relay status`) before any mail is held.
/// Their codes are `ProblemCode`s of origin `.warning`; these are the ages that raise them.
public enum AccountWarnings {
    /// Google advises rotating service-account keys at least every 90 days.
    public static let keyMaximumAge: TimeInterval = 90 * 86_400
    /// Testing-mode apps' grants end 7 days after consent; the warning starts on day 5.
    public static let testingGrantLifetime: TimeInterval = 7 * 86_400
    public static let testingWarningAfter: TimeInterval = 5 * 86_400
}

extension ProblemCatalogue {
    static let warningEntries: [CatalogueEntry] = [
        CatalogueEntry(
            .serviceAccountKeyOld,
            title: "Service account key older than 90 days",
            meaning: "The service account's key has been in use for more than 90 days. Google advises rotating service-account keys at least every 90 days, and an organisation policy (iam.serviceAccountKeyExpiryHours) can make keys expire; a leaked old key keeps working until it is deleted. The key file carries no creation date (its `private_key_id` is only an identifier), so the relay counts from when the key was stored in the relay (`account add` or `account update --service-account`): the key itself may be older.",
            causes: [
                "The key was created once when the relay was set up and never rotated.",
            ],
            disposition: .unaffected,
            facts: { c in
                guard let stored = c.keyStoredAt else { return [] }
                return ["The relay stored this key on \(Facts.date(stored)) (\(Facts.relative(stored, now: c.now)))."]
            },
            steps: { c in [
                "Create a new key: \(Console.serviceAccounts) → the account → Keys → Add key → Create new key → JSON.",
                Steps.readdServiceAccount(c, key: "NEW-KEY.json"),
                "Check that mail still goes out (`gmail-relay status`, or send a test from the site), then delete the old key in the same Keys list (the one whose ID is the old file's `private_key_id`) and destroy the old file.",
            ] }
        ),
        CatalogueEntry(
            .grantTestingExpirySoon,
            title: "Grant ends in 2 days (OAuth app in Testing mode)",
            meaning: "This account's previous grant ended 7 days after consent, which is what Google does to grants of an OAuth app whose publishing status is Testing. The current grant is 5 days old: if the app is still in Testing, Google ends it in 2 days and the account's mail is then held until someone signs in again.",
            causes: [
                "The OAuth consent screen was never published (Google Auth Platform → Audience still says Testing).",
            ],
            disposition: .unaffected,
            facts: { c in
                guard let consented = c.consentedAt else { return [] }
                let end = consented.addingTimeInterval(AccountWarnings.testingGrantLifetime)
                return ["The grant was given on \(Facts.date(consented)); in Testing mode it ends on \(Facts.date(end)) (\(Facts.relative(end, now: c.now)))."]
            },
            steps: { c in [
                "Publish the app: \(Console.audience) → Publishing status → Publish app (an app that only sends as your own accounts does not need Google's verification to be published; users then see an \"unverified app\" screen once).",
                Steps.reauth(c) + " Grants given after publishing do not end after 7 days.",
            ] }
        ),
    ]
}
