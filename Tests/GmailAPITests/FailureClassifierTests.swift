import Foundation
import GoogleFixtures
import RelayVocabulary
import Testing

@testable import GmailAPI

private typealias F = GoogleErrorFixture

/// 2026-11-22T18:00:00Z: every row is classified at this instant.
private let now = Date(timeIntervalSince1970: 1_795_370_400)
private let days: TimeInterval = 86_400

/// One failure as Google answered it, and the classification it must get.
struct ClassifierCase: Sendable, CustomTestStringConvertible {
    var name: String
    var endpoint: GoogleFailure.Endpoint
    var status: Int?
    var body: String
    var headers: [String: String]
    var kind: GoogleFailure.AccountKind
    var consentedDaysAgo: Double?
    var previousPreconditionFailures: Int
    var transportError: String?

    var failureClass: FailureClass
    var problem: ProblemCode
    var message: String?
    var reason: String?
    var errorStatus: String?
    var infoReason: String?
    var format: ProblemDetail.BodyFormat
    var activationURL: String?
    var retryAfter: Date?
    var reauth: Bool

    init(
        _ name: String, _ endpoint: GoogleFailure.Endpoint, _ status: Int?, _ body: String,
        headers: [String: String] = [:], kind: GoogleFailure.AccountKind = .userGrant, consentedDaysAgo: Double? = nil,
        preconditions: Int = 0, transportError: String? = nil,
        expect failureClass: FailureClass, _ problem: ProblemCode, message: String?, reason: String?,
        status errorStatus: String? = nil, infoReason: String? = nil, format: ProblemDetail.BodyFormat,
        activationURL: String? = nil, retryAfter: Date? = nil, reauth: Bool = false
    ) {
        self.name = name
        self.endpoint = endpoint
        self.status = status
        self.body = body
        self.headers = headers
        self.kind = kind
        self.consentedDaysAgo = consentedDaysAgo
        self.previousPreconditionFailures = preconditions
        self.transportError = transportError
        self.failureClass = failureClass
        self.problem = problem
        self.message = message
        self.reason = reason
        self.errorStatus = errorStatus
        self.infoReason = infoReason
        self.format = format
        self.activationURL = activationURL
        self.retryAfter = retryAfter
        self.reauth = reauth
    }

    var testDescription: String { name }

    var failure: GoogleFailure {
        GoogleFailure(
            endpoint: endpoint, status: status, headers: headers, body: Data(body.utf8), transportError: transportError,
            accountKind: kind, consentedAt: consentedDaysAgo.map { now.addingTimeInterval(-$0 * days) }, now: now,
            previousPreconditionFailures: previousPreconditionFailures)
    }
}

private let workspaceSA = GoogleFailure.AccountKind.serviceAccount(subject: "relay@example.com")
private let oauthHeaders = [
    "Content-Type": "application/json; charset=utf-8", "Server": "ESF",
    "Cache-Control": "no-cache, no-store, max-age=0, must-revalidate", "Pragma": "no-cache",
    "Expires": "Mon, 01 Jan 1990 00:00:00 GMT",
]
private let blocked = FailureClass.accountBlocked
private let rejected = FailureClass.messageRejected
private func limited(_ retryAfter: Date? = nil, daily: Bool = false) -> FailureClass {
    .rateLimited(retryAfter: retryAfter, dailyLimit: daily)
}
private func at(_ seconds: Double) -> Date { Date(timeIntervalSince1970: seconds) }
private let disabledMessage = "Gmail API has not been used in project 861228239640 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
private let activation861 = "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640"
private let clockSkewCurrent = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
private let dwdDescription = "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."

// MARK: Token endpoint (docs/google-api.md 4.2, 7)

private let tokenCases: [ClassifierCase] = [
    ClassifierCase("invalid_grant revoked, consent time unknown", .token, 400, F.invalidGrantRevoked, headers: oauthHeaders,
        expect: blocked, .grantRevoked, message: "Token has been expired or revoked.", reason: "invalid_grant",
        format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant revoked, consent 7 days ago: Testing mode", .token, 400, F.invalidGrantRevoked, consentedDaysAgo: 7,
        expect: blocked, .testingModeExpiry, message: "Token has been expired or revoked.", reason: "invalid_grant",
        format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant revoked, consent 6.5 days ago (window start)", .token, 400, F.invalidGrantRevoked, consentedDaysAgo: 6.5,
        expect: blocked, .testingModeExpiry, message: "Token has been expired or revoked.", reason: "invalid_grant",
        format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant revoked, consent 7.5 days ago (window end)", .token, 400, F.invalidGrantRevoked, consentedDaysAgo: 7.5,
        expect: blocked, .testingModeExpiry, message: "Token has been expired or revoked.", reason: "invalid_grant",
        format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant revoked, consent 3 days ago", .token, 400, F.invalidGrantRevoked, consentedDaysAgo: 3,
        expect: blocked, .grantRevoked, message: "Token has been expired or revoked.", reason: "invalid_grant",
        format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant revoked, consent 7.6 days ago", .token, 400, F.invalidGrantRevoked, consentedDaysAgo: 7.6,
        expect: blocked, .grantRevoked, message: "Token has been expired or revoked.", reason: "invalid_grant",
        format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant Bad Request (refresh token of another client)", .token, 400, F.invalidGrantBadRequest,
        expect: blocked, .grantUnrecognized, message: "Bad Request", reason: "invalid_grant", format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant invalid_rapt", .token, 400, F.invalidGrantRapt,
        expect: blocked, .sessionReauthRequired, message: "reauth related error (invalid_rapt)", reason: "invalid_grant",
        format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant Malformed auth code.", .token, 400, F.invalidGrantMalformedCode,
        expect: blocked, .authCodeInvalid, message: "Malformed auth code.", reason: "invalid_grant", format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant Invalid code verifier.", .token, 400, F.invalidGrantCodeVerifier,
        expect: blocked, .authCodeInvalid, message: "Invalid code verifier.", reason: "invalid_grant", format: .oauthError, reauth: true),
    ClassifierCase("invalid_grant code_verifier not needed", .token, 400, F.invalidGrantVerifierNotNeeded,
        expect: blocked, .authCodeInvalid, message: "code_verifier or verifier is not needed.", reason: "invalid_grant",
        format: .oauthError, reauth: true),

    // Service accounts: every invalid_grant variant of the JWT-bearer grant.
    ClassifierCase("SA invalid_grant Invalid JWT Signature.", .token, 400, F.invalidGrantBadSignature, kind: workspaceSA,
        expect: blocked, .saInvalidSignature, message: "Invalid JWT Signature.", reason: "invalid_grant", format: .oauthError),
    ClassifierCase("SA invalid_grant clock skew, current wording", .token, 400, F.invalidGrantClockSkew, kind: workspaceSA,
        expect: blocked, .saClockSkew, message: clockSkewCurrent, reason: "invalid_grant", format: .oauthError),
    ClassifierCase("SA invalid_grant clock skew, older wording", .token, 400, F.invalidGrantClockSkewOlder, kind: workspaceSA,
        expect: blocked, .saClockSkew,
        message: "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values and use a clock with skew to account for clock differences between systems.",
        reason: "invalid_grant", format: .oauthError),
    ClassifierCase("SA invalid_grant clock skew, oldest wording", .token, 400, F.invalidGrantClockSkewOldest, kind: workspaceSA,
        expect: blocked, .saClockSkew, message: "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe",
        reason: "invalid_grant", format: .oauthError),
    ClassifierCase("SA invalid_grant failed audience check", .token, 400, F.invalidGrantAudience, kind: workspaceSA,
        expect: blocked, .saWrongAudience,
        message: "Invalid JWT: Failed audience check. The right audience is https://oauth2.googleapis.com/token",
        reason: "invalid_grant", format: .oauthError),
    ClassifierCase("SA invalid_grant Invalid email or User ID", .token, 400, F.invalidGrantUnknownSubject, kind: workspaceSA,
        expect: blocked, .saUnknownSubject, message: "Invalid email or User ID", reason: "invalid_grant", format: .oauthError),
    ClassifierCase("SA invalid_grant Not a valid email.", .token, 400, F.invalidGrantNotValidEmail, kind: workspaceSA,
        expect: blocked, .saUnknownSubject, message: "Not a valid email.", reason: "invalid_grant", format: .oauthError),
    ClassifierCase("SA invalid_grant account not found", .token, 400, F.invalidGrantAccountNotFound, kind: workspaceSA,
        expect: blocked, .saInvalidSignature, message: "Invalid grant: account not found", reason: "invalid_grant",
        format: .oauthError),
    ClassifierCase("SA invalid_grant Bad Request", .token, 400, F.invalidGrantBadRequest, kind: workspaceSA,
        expect: blocked, .saGrantRejected, message: "Bad Request", reason: "invalid_grant", format: .oauthError),

    // unauthorized_client / invalid_client and the rest of the table.
    ClassifierCase("SA unauthorized_client (DWD not granted), with Google's headers", .token, 401, F.unauthorizedClient,
        headers: oauthHeaders, kind: workspaceSA,
        expect: blocked, .saNotAuthorized, message: dwdDescription, reason: "unauthorized_client", format: .oauthError),
    ClassifierCase("SA unauthorized_client, scope or domain", .token, 401, F.unauthorizedClientScope, kind: workspaceSA,
        expect: blocked, .saNotAuthorized, message: "Unauthorized client or scope in request.", reason: "unauthorized_client",
        format: .oauthError),
    ClassifierCase("user unauthorized_client Unauthorized (refresh token of another client ID)", .token, 401,
        F.unauthorizedClientMismatch,
        expect: blocked, .clientMismatch, message: "Unauthorized", reason: "unauthorized_client", format: .oauthError, reauth: true),
    ClassifierCase("invalid_client not found", .token, 401, F.invalidClientNotFound,
        expect: blocked, .clientInvalid, message: "The OAuth client was not found.", reason: "invalid_client", format: .oauthError),
    ClassifierCase("invalid_client Unauthorized (wrong secret)", .token, 401, F.invalidClientSecret,
        expect: blocked, .clientSecretInvalid, message: "Unauthorized", reason: "invalid_client", format: .oauthError),
    ClassifierCase("deleted_client", .token, 401, F.deletedClient,
        expect: blocked, .clientDeleted, message: "The OAuth client was deleted.", reason: "deleted_client", format: .oauthError),
    ClassifierCase("disabled_client", .token, 401, F.disabledClient, kind: workspaceSA,
        expect: blocked, .clientDisabled, message: "The OAuth client was disabled.", reason: "disabled_client", format: .oauthError),
    ClassifierCase("SA access_denied", .token, 400, F.accessDenied, kind: workspaceSA,
        expect: blocked, .saNotAuthorized, message: nil, reason: "access_denied", format: .oauthError),
    ClassifierCase("user access_denied", .token, 400, F.accessDenied,
        expect: blocked, .accessDenied, message: nil, reason: "access_denied", format: .oauthError, reauth: true),
    ClassifierCase("admin_policy_enforced", .token, 400, F.adminPolicyEnforced,
        expect: blocked, .domainPolicy, message: "Admin policy enforced", reason: "admin_policy_enforced", format: .oauthError),
    ClassifierCase("org_internal", .token, 400, F.orgInternal,
        expect: blocked, .orgInternal, message: "This client is restricted to users within its organization.",
        reason: "org_internal", format: .oauthError),
    ClassifierCase("invalid_scope", .token, 400, F.invalidScope, kind: workspaceSA,
        expect: blocked, .scopeInvalid, message: "Invalid OAuth scope or ID token audience provided.", reason: "invalid_scope",
        format: .oauthError),
    ClassifierCase("invalid_scope on the device flow", .token, 400, F.invalidScopeDeviceFlow,
        expect: blocked, .scopeInvalid,
        message: "Invalid device flow scope: https://www.googleapis.com/auth/gmail.readonly", reason: "invalid_scope",
        format: .oauthError),
    ClassifierCase("invalid_request", .token, 400, F.invalidRequest,
        expect: blocked, .tokenRequestInvalid, message: "client_secret is missing.", reason: "invalid_request",
        format: .oauthError),
    ClassifierCase("an unknown OAuth error", .token, 400, F.unknownOAuthError,
        expect: blocked, .oauthError, message: "Something new.", reason: "temporarily_unavailable_in_region",
        format: .oauthError),
    ClassifierCase("token endpoint 503 HTML", .token, 503, F.badGatewayHTML,
        expect: .transient, .backendError, message: nil, reason: nil, format: .html),
    ClassifierCase("token endpoint 429 with Retry-After seconds", .token, 429, "", headers: ["retry-after": "30"],
        expect: limited(now.addingTimeInterval(30)), .rateLimited, message: nil, reason: nil, format: .empty,
        retryAfter: now.addingTimeInterval(30)),
    ClassifierCase("token endpoint unreachable", .token, nil, "", transportError: "The request timed out.",
        expect: .transient, .networkError, message: nil, reason: nil, format: .empty),

    // tokeninfo (7.2)
    ClassifierCase("tokeninfo invalid_token", .tokeninfo, 400, F.tokeninfoInvalidToken,
        expect: blocked, .accessTokenRejected, message: "Invalid Value", reason: "invalid_token", format: .oauthError),
    ClassifierCase("legacy tokeninfo error_description only", .tokeninfo, 400, F.tokeninfoLegacy,
        expect: blocked, .accessTokenRejected, message: "Invalid Value", reason: nil, format: .oauthError),
]

// MARK: users.messages.send (docs/google-api.md 2, 3)

private let gmailCases: [ClassifierCase] = [
    // failedPrecondition (2.1, 3)
    ClassifierCase("failedPrecondition, service account without subject", .gmailSend, 400, F.failedPrecondition,
        kind: .serviceAccount(subject: nil),
        expect: blocked, .saNoSubject, message: "Precondition check failed.", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("failedPrecondition, service account with an empty subject", .gmailSend, 400, F.failedPrecondition,
        kind: .serviceAccount(subject: "  "),
        expect: blocked, .saNoSubject, message: "Precondition check failed.", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("failedPrecondition, service account impersonating itself", .gmailSend, 400, F.failedPrecondition,
        kind: .serviceAccount(subject: "relay@my-project.iam.gserviceaccount.com"),
        expect: blocked, .saNoSubject, message: "Precondition check failed.", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("failedPrecondition, service account with a consumer subject", .gmailSend, 400, F.failedPrecondition,
        kind: .serviceAccount(subject: "Someone@Gmail.com"),
        expect: blocked, .saConsumerAccount, message: "Precondition check failed.", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("failedPrecondition Bad Request, service account with a googlemail.com subject", .gmailSend, 400,
        F.failedPreconditionBadRequest, kind: .serviceAccount(subject: "someone@googlemail.com"),
        expect: blocked, .saConsumerAccount, message: "Bad Request", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("failedPrecondition, user grant, first time", .gmailSend, 400, F.failedPrecondition,
        expect: .transient, .preconditionTransient, message: "Precondition check failed.", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("failedPrecondition, user grant, second time in a row", .gmailSend, 400, F.failedPrecondition, preconditions: 1,
        expect: blocked, .preconditionFailed, message: "Precondition check failed.", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("failedPrecondition, workspace service account, first time", .gmailSend, 400, F.failedPrecondition,
        kind: workspaceSA,
        expect: .transient, .preconditionTransient, message: "Precondition check failed.", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("failedPrecondition, workspace service account, third time", .gmailSend, 400, F.failedPrecondition,
        kind: workspaceSA, preconditions: 2,
        expect: blocked, .preconditionFailed, message: "Precondition check failed.", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("Mail service not enabled, first time", .gmailSend, 400, F.mailServiceNotEnabled,
        expect: blocked, .mailServiceDisabled, message: "Mail service not enabled", reason: "failedPrecondition",
        status: "FAILED_PRECONDITION", format: .googleError),
    ClassifierCase("Mail service not enabled, old envelope, service account", .gmailSend, 400,
        F.mailServiceNotEnabledOldEnvelope, kind: workspaceSA,
        expect: blocked, .mailServiceDisabled, message: "Mail service not enabled", reason: "failedPrecondition",
        format: .googleError),

    // The message itself (2.2, 1.2, 1.3)
    ClassifierCase("Invalid To header", .gmailSend, 400, F.invalidToHeader,
        expect: rejected, .messageRejected, message: "Invalid To header", reason: "invalidArgument",
        status: "INVALID_ARGUMENT", format: .googleError),
    ClassifierCase("Invalid to header, old envelope", .gmailSend, 400, F.invalidToHeaderOldEnvelope,
        expect: rejected, .messageRejected, message: "Invalid to header", reason: "invalidArgument", format: .googleError),
    ClassifierCase("Recipient address required", .gmailSend, 400, F.recipientAddressRequired,
        expect: rejected, .messageRejected, message: "Recipient address required", reason: "invalidArgument",
        status: "INVALID_ARGUMENT", format: .googleError),
    ClassifierCase("'raw' required (badRequest)", .gmailSend, 400, F.rawRequired,
        expect: rejected, .messageRejected,
        message: "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        reason: "badRequest", status: "INVALID_ARGUMENT", format: .googleError),
    ClassifierCase("Request payload size exceeds the limit", .gmailSend, 400, F.payloadSizeExceeded,
        expect: rejected, .messageTooLarge, message: "Request payload size exceeds the limit: 1048576 bytes.",
        reason: "badRequest", status: "INVALID_ARGUMENT", format: .googleError),
    ClassifierCase("413 HTML page", .gmailSend, 413, F.payloadTooLargeHTML,
        expect: rejected, .messageTooLarge, message: nil, reason: nil, format: .html),
    ClassifierCase("413 without a body", .gmailSend, 413, "",
        expect: rejected, .messageTooLarge, message: nil, reason: nil, format: .empty),
    ClassifierCase("an error list instead of an object", .gmailSend, 400, F.arrayEnvelope,
        expect: rejected, .messageRejected, message: "Invalid Cc header", reason: "invalidArgument",
        status: "INVALID_ARGUMENT", format: .googleError),
    ClassifierCase("mistyped fields", .gmailSend, 400, F.mistypedFields,
        expect: rejected, .messageRejected, message: "Invalid Bcc header", reason: "invalidArgument", format: .googleError),

    // 401 (2.3): the sender already refreshed once.
    ClassifierCase("401 invalid credentials after a fresh token", .gmailSend, 401, F.invalidCredentials,
        expect: blocked, .accessTokenRejected,
        message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        reason: "authError", status: "UNAUTHENTICATED", format: .googleError),
    ClassifierCase("401 documented sample", .gmailSend, 401, F.docInvalidCredentials,
        expect: blocked, .accessTokenRejected, message: "Invalid Credentials", reason: "authError", format: .googleError),
    ClassifierCase("401 credentials missing", .gmailSend, 401, F.credentialsMissing,
        expect: blocked, .accessTokenRejected,
        message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        reason: "required", status: "UNAUTHENTICATED", infoReason: "CREDENTIALS_MISSING", format: .googleError),

    // 403 account and project configuration (2.4-2.6, 2.0)
    ClassifierCase("insufficient scopes with ErrorInfo", .gmailSend, 403, F.insufficientScopes,
        expect: blocked, .scopeInsufficient, message: "Request had insufficient authentication scopes.",
        reason: "insufficientPermissions", status: "PERMISSION_DENIED", infoReason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        format: .googleError, reauth: true),
    ClassifierCase("insufficient scopes, old envelope", .gmailSend, 403, F.insufficientScopesOldEnvelope,
        expect: blocked, .scopeInsufficient, message: "Insufficient Permission", reason: "insufficientPermissions",
        format: .googleError, reauth: true),
    ClassifierCase("insufficient scopes for a service account: no reauth", .gmailSend, 403, F.insufficientScopes,
        kind: workspaceSA,
        expect: blocked, .scopeInsufficient, message: "Request had insufficient authentication scopes.",
        reason: "insufficientPermissions", status: "PERMISSION_DENIED", infoReason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        format: .googleError),
    ClassifierCase("accessNotConfigured, link in the message", .gmailSend, 403, F.accessNotConfigured,
        expect: blocked, .apiDisabled, message: disabledMessage, reason: "accessNotConfigured", status: "PERMISSION_DENIED",
        format: .googleError, activationURL: activation861),
    ClassifierCase("accessNotConfigured, 2018 wording", .gmailSend, 403, F.accessNotConfigured2018,
        expect: blocked, .apiDisabled,
        message: "Access Not Configured. Gmail API has not been used in project 1049213532491 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=1049213532491 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
        reason: "accessNotConfigured", format: .googleError,
        activationURL: "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=1049213532491"),
    ClassifierCase("SERVICE_DISABLED with details", .gmailSend, 403, F.serviceDisabled,
        expect: blocked, .apiDisabled, message: disabledMessage, reason: "accessNotConfigured", status: "PERMISSION_DENIED",
        infoReason: "SERVICE_DISABLED", format: .googleError, activationURL: activation861),
    ClassifierCase("SERVICE_DISABLED, link only in details metadata", .gmailSend, 403, F.serviceDisabledLinkOnlyInDetails,
        expect: blocked, .apiDisabled, message: "Gmail API is disabled for project 42.", reason: "SERVICE_DISABLED",
        status: "PERMISSION_DENIED", infoReason: "SERVICE_DISABLED", format: .googleError,
        activationURL: "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=42"),
    ClassifierCase("Delegation denied, current form", .gmailSend, 403, F.delegationDenied,
        expect: blocked, .delegationDenied, message: "Delegation denied for example@gmail.com", reason: "forbidden",
        status: "PERMISSION_DENIED", format: .googleError),
    ClassifierCase("Delegation denied, old envelope", .gmailSend, 403, F.delegationDeniedOldEnvelope, kind: workspaceSA,
        expect: blocked, .delegationDenied, message: "Delegation denied for your.email@domain.com", reason: "forbidden",
        format: .googleError),
    ClassifierCase("domainPolicy", .gmailSend, 403, F.docDomainPolicy,
        expect: blocked, .domainPolicy, message: "The domain administrators have disabled Gmail apps.", reason: "domainPolicy",
        format: .googleError),

    // Limits (2.7, 2.8, 2.0)
    ClassifierCase("429 User-rate limit with Retry after", .gmailSend, 429, F.userRateLimit429,
        expect: limited(at(1_795_374_245.123)), .rateLimited,
        message: "User-rate limit exceeded.  Retry after 2026-11-22T19:04:05.123Z", reason: "rateLimitExceeded",
        status: "RESOURCE_EXHAUSTED", format: .googleError, retryAfter: at(1_795_374_245.123)),
    ClassifierCase("429 (Mail sending): daily limit", .gmailSend, 429, F.mailSendingSuggested,
        expect: limited(at(1_767_225_600), daily: true), .dailyLimit,
        message: "User-rate limit exceeded.  Retry after 2026-01-01T00:00:00.000Z (Mail sending)", reason: "rateLimitExceeded",
        status: "RESOURCE_EXHAUSTED", format: .googleError, retryAfter: at(1_767_225_600)),
    ClassifierCase("429 (Mail sending) with one space", .gmailSend, 429, F.mailSendingOneSpace,
        expect: limited(at(1_784_162_095.867), daily: true), .dailyLimit,
        message: "User-rate limit exceeded. Retry after 2026-07-16T00:34:55.867Z (Mail sending)", reason: "rateLimitExceeded",
        status: "RESOURCE_EXHAUSTED", format: .googleError, retryAfter: at(1_784_162_095.867)),
    ClassifierCase("403 User-rate limit, retry time only in the top message", .gmailSend, 403, F.userRateLimit403,
        expect: limited(at(1_789_156_800)), .rateLimited,
        message: "User-rate limit exceeded.  Retry after 2026-09-11T20:00:00.000Z", reason: "rateLimitExceeded",
        status: "PERMISSION_DENIED", format: .googleError, retryAfter: at(1_789_156_800)),
    ClassifierCase("403 userRateLimitExceeded", .gmailSend, 403, F.docUserRateLimitExceeded,
        expect: limited(), .rateLimited, message: "User Rate Limit Exceeded", reason: "userRateLimitExceeded",
        format: .googleError),
    ClassifierCase("403 rateLimitExceeded", .gmailSend, 403, F.docRateLimitExceeded,
        expect: limited(), .rateLimited, message: "Rate Limit Exceeded", reason: "rateLimitExceeded", format: .googleError),
    ClassifierCase("403 Queries per minute per user", .gmailSend, 403, F.queriesPerMinute,
        expect: limited(), .rateLimited,
        message: "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:861228239640'.",
        reason: "rateLimitExceeded", status: "PERMISSION_DENIED", format: .googleError),
    ClassifierCase("403 dailyLimitExceeded: the project's quota", .gmailSend, 403, F.docDailyLimitExceeded,
        expect: limited(daily: true), .projectDailyLimit, message: "Daily Limit Exceeded", reason: "dailyLimitExceeded",
        format: .googleError),
    ClassifierCase("429 Resource has been exhausted", .gmailSend, 429, F.resourceExhausted,
        expect: limited(), .rateLimited, message: "Resource has been exhausted (e.g. check quota).",
        reason: "rateLimitExceeded", status: "RESOURCE_EXHAUSTED", format: .googleError),
    ClassifierCase("429 Too many concurrent requests", .gmailSend, 429, F.tooManyConcurrent,
        expect: limited(), .concurrencyLimited, message: "Too many concurrent requests for user", reason: "rateLimitExceeded",
        format: .googleError),
    ClassifierCase("429 with Retry-After in seconds", .gmailSend, 429, F.resourceExhausted, headers: ["Retry-After": "120"],
        expect: limited(now.addingTimeInterval(120)), .rateLimited, message: "Resource has been exhausted (e.g. check quota).",
        reason: "rateLimitExceeded", status: "RESOURCE_EXHAUSTED", format: .googleError,
        retryAfter: now.addingTimeInterval(120)),
    ClassifierCase("429 with Retry-After as an HTTP-date", .gmailSend, 429, F.tooManyConcurrent,
        headers: ["retry-after": "Sun, 22 Nov 2026 20:30:00 GMT"],
        expect: limited(at(1_795_379_400)), .concurrencyLimited, message: "Too many concurrent requests for user",
        reason: "rateLimitExceeded", format: .googleError, retryAfter: at(1_795_379_400)),
    ClassifierCase("429 with both: the later time wins", .gmailSend, 429, F.userRateLimit429, headers: ["Retry-After": "7200"],
        expect: limited(now.addingTimeInterval(7200)), .rateLimited,
        message: "User-rate limit exceeded.  Retry after 2026-11-22T19:04:05.123Z", reason: "rateLimitExceeded",
        status: "RESOURCE_EXHAUSTED", format: .googleError, retryAfter: now.addingTimeInterval(7200)),

    // 5xx, HTML, no answer (2.9)
    ClassifierCase("500 Backend Error", .gmailSend, 500, F.docBackendError,
        expect: .transient, .backendError, message: "Backend Error", reason: "backendError", format: .googleError),
    ClassifierCase("500 Internal error encountered.", .gmailSend, 500, F.internalError,
        expect: .transient, .backendError, message: "Internal error encountered.", reason: "backendError", status: "INTERNAL",
        format: .googleError),
    ClassifierCase("503 with Retry-After seconds", .gmailSend, 503, F.serviceUnavailable, headers: ["Retry-After": "5"],
        expect: .transient, .backendError, message: "The service is currently unavailable.", reason: "backendError",
        status: "UNAVAILABLE", format: .googleError, retryAfter: now.addingTimeInterval(5)),
    ClassifierCase("502 HTML page of Google's front end", .gmailSend, 502, F.badGatewayHTML,
        expect: .transient, .backendError, message: nil, reason: nil, format: .html),
    ClassifierCase("no answer", .gmailSend, nil, "", transportError: "Could not connect to the server.",
        expect: .transient, .networkError, message: nil, reason: nil, format: .empty),

    // Answers the relay cannot interpret are held with the raw body, never dropped.
    ClassifierCase("404 HTML page", .gmailSend, 404, F.payloadTooLargeHTML,
        expect: blocked, .unexpectedResponse, message: nil, reason: nil, format: .html),
    ClassifierCase("400 plain text", .gmailSend, 400, "Bad Request\n",
        expect: blocked, .unexpectedResponse, message: nil, reason: nil, format: .text),
    ClassifierCase("400 empty body", .gmailSend, 400, "",
        expect: blocked, .unexpectedResponse, message: nil, reason: nil, format: .empty),
    ClassifierCase("400 JSON that is no Google error", .gmailSend, 400, #"{"kind":"gmail#message"}"#,
        expect: blocked, .unexpectedResponse, message: nil, reason: nil, format: .json),
    ClassifierCase("400 broken JSON", .gmailSend, 400, #"{"error": {"code": 400, "message": "Invalid To hea"#,
        expect: blocked, .unexpectedResponse, message: nil, reason: nil, format: .text),
    ClassifierCase("401 HTML page", .gmailSend, 401, F.badGatewayHTML,
        expect: blocked, .accessTokenRejected, message: nil, reason: nil, format: .html),
    ClassifierCase("404 Google error", .gmailSend, 404,
        #"{"error":{"code":404,"message":"Requested entity was not found.","errors":[{"message":"Requested entity was not found.","domain":"global","reason":"notFound"}],"status":"NOT_FOUND"}}"#,
        expect: blocked, .unexpectedResponse, message: "Requested entity was not found.", reason: "notFound",
        status: "NOT_FOUND", format: .googleError),
    ClassifierCase("403 forbidden without a known cause", .gmailSend, 403,
        #"{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}"#,
        expect: blocked, .permissionDenied, message: "The caller does not have permission", reason: nil,
        status: "PERMISSION_DENIED", format: .googleError),
]

@Suite("FailureClassifier")
struct FailureClassifierTests {
    @Test("token endpoint and tokeninfo bodies", arguments: tokenCases)
    func tokenEndpoint(_ row: ClassifierCase) { check(row) }

    @Test("users.messages.send bodies", arguments: gmailCases)
    func gmailSend(_ row: ClassifierCase) { check(row) }

    private func check(_ row: ClassifierCase) {
        let result = FailureClassifier.classify(row.failure)
        #expect(result.failureClass == row.failureClass)
        #expect(result.problem == row.problem)
        #expect(result.detail.googleMessage == row.message)
        #expect(result.detail.reason == row.reason)
        #expect(result.detail.status == row.errorStatus)
        #expect(result.detail.errorInfoReason == row.infoReason)
        #expect(result.detail.bodyFormat == row.format)
        #expect(result.detail.activationURL?.absoluteString == row.activationURL)
        #expect(result.detail.retryAfter == row.retryAfter)
        #expect(result.needsReauthorization == row.reauth)
        #expect(result.detail.httpStatus == row.status)
        #expect(result.detail.transportError == row.transportError)
        #expect(result.detail.rawBody == row.body, "the body is kept whole")
        #expect(result.isPermanentForMessage == (row.failureClass == .messageRejected))
        #expect(result.holdsAccount == (row.failureClass == .accountBlocked))
        if row.failureClass == .messageRejected, let message = row.message {
            #expect(result.smtpText == message, "554 carries Gmail's own words")
        }
        if row.failureClass == .accountBlocked {
            #expect(result.smtpText == row.problem.rawValue, "held: <problem code>")
        }
    }

    @Test func everyFixtureIsClassifiedAndEveryCodeIsDistinct() {
        let rows = tokenCases + gmailCases
        #expect(Set(rows.map(\.name)).count == rows.count)
        let reached = Set(rows.map(\.problem))
        #expect(Set(ProblemCode.allCases.filter { $0.origin == .google }).subtracting(reached).isEmpty, "every code of Google's has a row")
    }

    // MARK: SMTP text

    @Test func smtpTextOfARejectedMessageIsOneLineOfAtMost400Characters() {
        let long = String(repeating: "x", count: 1000)
        let body = #"{"error":{"code":400,"message":"Invalid To header\r\nsecond line\tand "# + long
            + #"","errors":[{"reason":"invalidArgument"}]}}"#
        let result = FailureClassifier.classify(
            GoogleFailure(endpoint: .gmailSend, status: 400, body: Data(body.utf8), accountKind: .userGrant, now: now))
        #expect(result.failureClass == .messageRejected)
        #expect(result.smtpText.hasPrefix("Invalid To header  second line and xxx"))
        #expect(result.smtpText.count == 400)
        #expect(result.smtpText.hasSuffix("..."))
        #expect(!result.smtpText.contains(where: { $0.isNewline }))
        #expect(result.detail.googleMessage == "Invalid To header\r\nsecond line\tand " + long, "the detail keeps the message whole")
    }

    @Test func smtpTextWithoutAGoogleMessageSaysWhat() {
        let result = FailureClassifier.classify(
            GoogleFailure(endpoint: .gmailSend, status: 413, body: Data(), accountKind: .userGrant, now: now))
        #expect(result.smtpText == "The message is too large for Gmail (HTTP 413)")
    }

    @Test func transientAndRateLimitedAreRetryable() {
        let rate = FailureClassifier.classify(GoogleFailure(
            endpoint: .gmailSend, status: 429, body: Data(F.userRateLimit429.utf8), accountKind: .userGrant, now: now))
        #expect(rate.isRetryable && !rate.holdsAccount && !rate.isPermanentForMessage)
        #expect(rate.retryAfter == at(1_795_374_245.123))
        let network = FailureClassifier.classify(GoogleFailure(
            endpoint: .gmailSend, status: nil, transportError: "timed out", accountKind: .userGrant, now: now))
        #expect(network.isRetryable)
        #expect(network.retryAfter == nil)
    }

    // MARK: Raw bodies

    @Test func invalidUTF8IsShownLossilyAndKept() {
        var body = Data("<html>caf".utf8)
        body.append(contentsOf: [0xE9, 0xFF])
        body.append(contentsOf: Array("</html>".utf8))
        let result = FailureClassifier.classify(
            GoogleFailure(endpoint: .gmailSend, status: 502, body: body, accountKind: .userGrant, now: now))
        #expect(result.problem == .backendError)
        #expect(result.detail.rawBody == "<html>caf\u{FFFD}\u{FFFD}</html>")
    }

    @Test func aLargeBodyIsNeverTruncated() {
        let body = String(repeating: "<p>That’s an error.</p>\n", count: 50_000)
        let result = FailureClassifier.classify(
            GoogleFailure(endpoint: .gmailSend, status: 502, body: Data(body.utf8), accountKind: .userGrant, now: now))
        #expect(result.detail.rawBody == body)
        #expect(result.detail.rawBody.utf8.count > 1_000_000)
    }

    @Test func aByteOrderMarkDoesNotHideTheJSON() {
        var body = Data([0xEF, 0xBB, 0xBF])
        body.append(Data(F.invalidGrantRevoked.utf8))
        let result = FailureClassifier.classify(
            GoogleFailure(endpoint: .token, status: 400, body: body, accountKind: .userGrant, now: now))
        #expect(result.problem == .grantRevoked)
    }

    // MARK: Retry times

    @Test(arguments: [
        ("2026-11-22T19:04:05.123Z", 1_795_374_245.123),
        ("2026-11-22T19:04:05Z", 1_795_374_245),
        ("2026-11-22t19:04:05.5z", 1_795_374_245.5),
        ("2026-11-22T21:04:05.123+02:00", 1_795_374_245.123),
        ("2026-11-22T14:34:05-04:30", 1_795_374_245),
        ("2000-02-29T12:00:00Z", 951_825_600),
        ("1969-12-31T23:59:59Z", -1),
    ])
    func rfc3339(_ text: String, _ seconds: Double) {
        #expect(RetryTime.rfc3339(text) == Date(timeIntervalSince1970: seconds))
    }

    @Test(arguments: [
        "", "2026-11-22", "2026-11-22T19:04", "2026-11-22T19:04:05", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-11-22T24:00:00Z", "2026-11-22T19:04:05.Z", "2026-11-22T19:04:05Zjunk", "soon",
    ])
    func rfc3339Rejects(_ text: String) {
        #expect(RetryTime.rfc3339(text) == nil)
    }

    @Test func retryAfterInAMessage() {
        #expect(RetryTime.fromMessage("User-rate limit exceeded.  Retry after 2021-08-03T23:03:54.553Z")
            == Date(timeIntervalSince1970: 1_628_031_834.553))
        #expect(RetryTime.fromMessage("Retry after 2021-08-03T23:03:54.553Z (Forwarding rules)")
            == Date(timeIntervalSince1970: 1_628_031_834.553))
        #expect(RetryTime.fromMessage("Retry after 2021-08-03T23:03:54Z.") == Date(timeIntervalSince1970: 1_628_031_834))
        #expect(RetryTime.fromMessage("Retry after a while") == nil)
        #expect(RetryTime.fromMessage("Rate Limit Exceeded") == nil)
    }

    @Test(arguments: [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777.0),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),
        ("Sun Nov  6 08:49:37 1994", 784_111_777),
        ("0", 1_795_370_400),
        ("120", 1_795_370_520),
    ])
    func retryAfterHeader(_ value: String, _ seconds: Double) {
        #expect(RetryTime.fromHeader(value, now: now) == Date(timeIntervalSince1970: seconds))
    }

    @Test(arguments: ["", "-5", "1.5", "soon", "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49 GMT",
                      "99999999999999999999999"])
    func retryAfterHeaderRejects(_ value: String) {
        #expect(RetryTime.fromHeader(value, now: now) == nil)
    }

    // MARK: Codes and detail

    @Test func problemCodesAreStableSnakeCaseNames() {
        let names = ProblemCode.allCases.map(\.rawValue)
        #expect(Set(names).count == names.count)
        for name in names {
            #expect(name.allSatisfy { $0.isLowercase || $0 == "_" }, "\(name)")
        }
        for code in ProblemCode.allCases { #expect(!code.summary.isEmpty) }
        #expect(ProblemCode(rawValue: "grant_revoked") == .grantRevoked)
        #expect(ProblemCode(rawValue: "testing_mode_expiry") == .testingModeExpiry)
    }

    @Test func detailEncodesWithSnakeCaseKeysAndRoundTrips() throws {
        let result = FailureClassifier.classify(GoogleFailure(
            endpoint: .gmailSend, status: 403, body: Data(F.serviceDisabled.utf8), accountKind: .userGrant, now: now))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(result.detail)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["activation_url"] as? String == activation861)
        #expect(object["error_info_reason"] as? String == "SERVICE_DISABLED")
        #expect(object["raw_body"] as? String == F.serviceDisabled)
        #expect(try JSONDecoder().decode(ProblemDetail.self, from: data) == result.detail)
    }

    @Test func theSameFailureGivesTheSameAnswer() {
        let failure = GoogleFailure(
            endpoint: .gmailSend, status: 400, body: Data(F.failedPrecondition.utf8), accountKind: .userGrant, now: now)
        #expect(FailureClassifier.classify(failure) == FailureClassifier.classify(failure))
    }

    @Test func headerNamesAreCaseInsensitive() {
        let failure = GoogleFailure(
            endpoint: .gmailSend, status: 503, headers: ["RETRY-AFTER": "10"], accountKind: .userGrant, now: now)
        #expect(FailureClassifier.classify(failure).retryAfter == now.addingTimeInterval(10))
    }

    // MARK: From the sender's FailedCall

    @Test func aFailedCallBecomesAGoogleFailure() throws {
        let url = try #require(URL(string: "https://gmail.googleapis.com/upload/gmail/v1/users/me/messages/send"))
        let response = HTTPResponse(status: 429, headers: ["Retry-After": "60"], body: Data(F.resourceExhausted.utf8))
        let call = FailedCall(endpoint: .gmailSend, url: url, response: response, transportError: nil)
        let failure = try #require(GoogleFailure(call, accountKind: .userGrant, now: now))
        #expect(failure.endpoint == .gmailSend)
        let result = FailureClassifier.classify(failure)
        #expect(result.failureClass == .rateLimited(retryAfter: now.addingTimeInterval(60), dailyLimit: false))
        #expect(result.detail.rawBody == F.resourceExhausted)

        let unreachable = FailedCall(endpoint: .token, url: url, response: nil, transportError: "connection refused")
        let network = FailureClassifier.classify(try #require(GoogleFailure(unreachable, accountKind: .userGrant, now: now)))
        #expect(network.problem == .networkError)
        #expect(network.detail.transportError == "connection refused")

        #expect(GoogleFailure(FailedCall(endpoint: .revoke, url: url, response: nil, transportError: nil),
                              accountKind: .userGrant, now: now) == nil)
    }
}
