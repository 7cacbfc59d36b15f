/// Every problem the relay can report, as one stable snake_case name: why a call to Google failed
/// (the classifier's verdicts), and the relay's own problems (no grant, no body, too old, its SMTP
/// certificate).
///
/// The raw values are in stored rows (`problem_code` columns), the status page, `status`, `log show`,
/// the JSON API, the SMTP reply text (`held: <code>`) and the anchors of docs/troubleshooting.md: never
/// rename a case, only add. The explanation catalogue (title, causes, steps) is keyed by this enum.
public enum ProblemCode: String, Sendable, Codable, CaseIterable, Hashable {
    // MARK: A user's OAuth grant and its OAuth client (token endpoint)

    /// invalid_grant "Token has been expired or revoked." (docs/google-api.md 4.2, 4.3).
    case grantRevoked = "grant_revoked"
    /// The same answer 6.5 to 7.5 days after consent: the OAuth app is in Testing mode (4.3 item 5).
    case testingModeExpiry = "testing_mode_expiry"
    /// invalid_grant "Bad Request": the stored refresh token is malformed or belongs to another client.
    case grantUnrecognized = "grant_unrecognized"
    /// invalid_grant with error_subtype invalid_rapt: a Google Cloud session-control policy wants a new sign-in.
    case sessionReauthRequired = "session_reauth_required"
    /// invalid_grant on the authorization-code exchange (bad or reused code, PKCE verifier mismatch).
    case authCodeInvalid = "auth_code_invalid"
    /// invalid_client "The OAuth client was not found." (unknown client ID).
    case clientInvalid = "client_invalid"
    /// invalid_client "Unauthorized": the client secret is wrong.
    case clientSecretInvalid = "client_secret_invalid"
    /// deleted_client: the OAuth client was deleted (restorable for 30 days).
    case clientDeleted = "client_deleted"
    /// disabled_client: the OAuth client, or the key a service account signs with, is disabled.
    case clientDisabled = "client_disabled"
    /// unauthorized_client on a refresh: the refresh token was issued to a different client ID.
    case clientMismatch = "client_mismatch"
    /// access_denied for a user grant: the user or an administrator refused the app.
    case accessDenied = "access_denied"
    /// org_internal: an Internal-type app used by an account outside its organisation.
    case orgInternal = "org_internal"
    /// invalid_scope: an empty or unknown scope in the request.
    case scopeInvalid = "scope_invalid"
    /// invalid_request, unsupported_grant_type, redirect_uri_mismatch: the request itself is wrong.
    case tokenRequestInvalid = "token_request_invalid"
    /// Any other OAuth `error` from the token endpoint.
    case oauthError = "oauth_error"

    // MARK: Service accounts (JWT bearer grant)

    /// invalid_grant "Invalid JWT Signature.": the key does not belong to the service account, or was deleted.
    case saInvalidSignature = "sa_invalid_signature"
    /// invalid_grant "Invalid JWT: Token must be a short-lived token ...": clock skew or bad iat/exp.
    case saClockSkew = "sa_clock_skew"
    /// invalid_grant "Invalid JWT: Failed audience check.": the JWT `aud` is not the token URL.
    case saWrongAudience = "sa_wrong_audience"
    /// invalid_grant "Invalid email or User ID" / "Not a valid email.": the subject user does not exist.
    case saUnknownSubject = "sa_unknown_subject"
    /// unauthorized_client / access_denied: domain-wide delegation not granted for this client ID or scope.
    case saNotAuthorized = "sa_not_authorized"
    /// Any other invalid_grant for a service account.
    case saGrantRejected = "sa_grant_rejected"
    /// failedPrecondition for a service account acting as itself (no subject): it has no mailbox.
    case saNoSubject = "sa_no_subject"
    /// failedPrecondition for a service account impersonating a consumer @gmail.com address.
    case saConsumerAccount = "sa_consumer_account"

    // MARK: The Gmail account, project or domain (Gmail API)

    /// failedPrecondition "Mail service not enabled": the user has no Gmail mailbox.
    case mailServiceDisabled = "mail_service_disabled"
    /// A first failedPrecondition that the account's kind does not explain: Google answers it transiently too.
    case preconditionTransient = "precondition_transient"
    /// failedPrecondition again for the same message: the account's state, not luck.
    case preconditionFailed = "precondition_failed"
    /// 403 insufficientPermissions / ACCESS_TOKEN_SCOPE_INSUFFICIENT: the token lacks a send scope.
    case scopeInsufficient = "scope_insufficient"
    /// 403 accessNotConfigured / SERVICE_DISABLED: the Gmail API is off in the Cloud project.
    case apiDisabled = "api_disabled"
    /// 403 "Delegation denied for ...": the mailbox addressed is not the token's user.
    case delegationDenied = "delegation_denied"
    /// 403 domainPolicy, or admin_policy_enforced from the token endpoint: a Workspace admin blocks the app.
    case domainPolicy = "domain_policy"
    /// Any other 403 from Gmail.
    case permissionDenied = "permission_denied"
    /// 401 from Gmail even after a fresh token, or invalid_token from tokeninfo.
    case accessTokenRejected = "access_token_rejected"

    // MARK: Limits

    /// 429 or 403 rateLimitExceeded / userRateLimitExceeded / "Resource has been exhausted".
    case rateLimited = "rate_limited"
    /// 429 "Too many concurrent requests for user".
    case concurrencyLimited = "concurrency_limited"
    /// "User-rate limit exceeded ... (Mail sending)": the user's daily sending limit (hours).
    case dailyLimit = "daily_limit"
    /// 403 dailyLimitExceeded: the Cloud project's own daily API quota.
    case projectDailyLimit = "project_daily_limit"

    // MARK: The message

    /// 400 invalidArgument / badRequest and other 400s: Gmail refuses this message.
    case messageRejected = "message_rejected"
    /// 413, or "Request payload size exceeds the limit".
    case messageTooLarge = "message_too_large"

    // MARK: No usable answer

    /// 5xx (or 408) from Google.
    case backendError = "backend_error"
    /// No HTTP answer: DNS, connection, TLS or time-out.
    case networkError = "network_error"
    /// An answer the relay cannot interpret (e.g. an HTML page with a 4xx); kept whole in the log.
    case unexpectedResponse = "unexpected_response"

    // MARK: The relay's own (not an answer from Google)

    /// The message's account was removed before it could be sent (RelayStore writes this one).
    case accountRemoved = "account_removed"
    /// An OAuth account without a refresh token yet (`account add --client-secret-file`): run `reauth`.
    case grantMissing = "grant_missing"
    /// The stored secret cannot be decrypted: the secret key file is not the one it was sealed with.
    case secretUnreadable = "secret_unreadable"
    /// The message's body file is gone from the spool, so there is nothing to send.
    case spoolMissing = "spool_missing"
    /// The message kept failing transiently for longer than `delivery.max_age_hours`.
    case maxAgeExceeded = "max_age_exceeded"

    // MARK: The relay itself rather than an account (shown above the accounts)

    /// The SMTP certificate ends soon.
    case smtpCertificateExpiring = "smtp_certificate_expiring"
    /// The SMTP certificate has ended.
    case smtpCertificateExpired = "smtp_certificate_expired"

    // MARK: Warnings about an account that still sends (listed in its `warnings`, nothing is held)

    /// The service account's key was stored more than 90 days ago: rotate it.
    case serviceAccountKeyOld = "service_account_key_old"
    /// The grant is 5 days old and the previous one ended after 7: Testing mode will end this one too.
    case grantTestingExpirySoon = "grant_testing_expiry_soon"

    /// Who gives the code: Google's answer (through the classifier), the relay for one message or
    /// account, the relay about itself, or the relay warning about an account that still sends.
    public enum Origin: Sendable { case google, relay, server, warning }

    public var origin: Origin {
        switch self {
        case .accountRemoved, .grantMissing, .secretUnreadable, .spoolMissing, .maxAgeExceeded: return .relay
        case .smtpCertificateExpiring, .smtpCertificateExpired: return .server
        case .serviceAccountKeyOld, .grantTestingExpirySoon: return .warning
        default: return .google
        }
    }

    /// A stored code; nil for one this version does not know (written by a newer relay).
    public init?(stored text: String?) {
        guard let text else { return nil }
        self.init(rawValue: text)
    }

    /// Codes that `reauth NAME` fixes for a user grant (a new consent yields a new refresh token).
    public var isFixedByReauth: Bool {
        switch self {
        case .grantRevoked, .testingModeExpiry, .grantUnrecognized, .sessionReauthRequired, .clientMismatch,
             .accessDenied, .scopeInsufficient, .authCodeInvalid:
            return true
        default:
            return false
        }
    }

    /// One plain line for logs, the CLI and SMTP texts; the catalogue has the long explanation.
    public var summary: String {
        switch self {
        case .grantRevoked: return "Google says the account's authorization has expired or was revoked"
        case .testingModeExpiry: return "The authorization expired after 7 days because the OAuth app is in Testing mode"
        case .grantUnrecognized: return "Google does not recognise the stored refresh token"
        case .sessionReauthRequired: return "A Google Cloud session-control policy requires signing in again"
        case .authCodeInvalid: return "Google refused the authorization code"
        case .clientInvalid: return "Google does not know the OAuth client ID"
        case .clientSecretInvalid: return "The OAuth client secret is wrong"
        case .clientDeleted: return "The OAuth client was deleted"
        case .clientDisabled: return "The OAuth client or service account key is disabled"
        case .clientMismatch: return "The refresh token belongs to a different OAuth client"
        case .accessDenied: return "Google denied access for this account"
        case .orgInternal: return "The OAuth app is internal to another organisation"
        case .scopeInvalid: return "Google rejected the requested OAuth scope"
        case .tokenRequestInvalid: return "Google rejected the token request as malformed"
        case .oauthError: return "The token endpoint refused with an unknown OAuth error"
        case .saInvalidSignature: return "Google rejected the service account key (invalid JWT signature)"
        case .saClockSkew: return "Google rejected the service account JWT times (check the server clock)"
        case .saWrongAudience: return "The service account JWT names the wrong token URL"
        case .saUnknownSubject: return "The user the service account impersonates does not exist"
        case .saNotAuthorized: return "Domain-wide delegation is not granted for this client ID or scope"
        case .saGrantRejected: return "Google refused the service account grant"
        case .saNoSubject: return "The service account has no user to impersonate"
        case .saConsumerAccount: return "A service account cannot impersonate a consumer Gmail address"
        case .mailServiceDisabled: return "Gmail is not enabled for this user"
        case .preconditionTransient: return "Gmail answered failedPrecondition; retrying once"
        case .preconditionFailed: return "Gmail keeps answering failedPrecondition for this account"
        case .scopeInsufficient: return "The token lacks a scope that allows sending"
        case .apiDisabled: return "The Gmail API is disabled in the Google Cloud project"
        case .delegationDenied: return "Gmail denied access to a mailbox that is not the token's user"
        case .domainPolicy: return "A Google Workspace administrator blocks this app"
        case .permissionDenied: return "Gmail denied permission"
        case .accessTokenRejected: return "Gmail rejected a freshly issued access token"
        case .rateLimited: return "Gmail is rate limiting this account"
        case .concurrencyLimited: return "Too many concurrent requests for this Gmail user"
        case .dailyLimit: return "The account reached Gmail's daily sending limit"
        case .projectDailyLimit: return "The Google Cloud project's daily API quota is used up"
        case .messageRejected: return "Gmail refused the message"
        case .messageTooLarge: return "The message is too large for Gmail"
        case .backendError: return "Google had a server error"
        case .networkError: return "Google could not be reached"
        case .unexpectedResponse: return "Google answered something the relay cannot interpret"
        case .accountRemoved: return "The message's account was removed"
        case .grantMissing: return "The account has no Google grant yet"
        case .secretUnreadable: return "The account's stored secret cannot be read"
        case .spoolMissing: return "The message's body is missing"
        case .maxAgeExceeded: return "The message kept failing for longer than delivery.max_age_hours"
        case .smtpCertificateExpiring: return "The SMTP certificate ends soon"
        case .smtpCertificateExpired: return "The SMTP certificate has ended"
        case .serviceAccountKeyOld: return "The service account key is older than 90 days"
        case .grantTestingExpirySoon: return "The grant ends in 2 days if the OAuth app is in Testing mode"
        }
    }
}

extension ProblemCode: CustomStringConvertible {
    /// The stored word, so that a code in a sentence or a log line reads as everywhere else.
    public var description: String { rawValue }
}
