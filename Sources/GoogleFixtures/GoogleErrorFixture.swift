// Google's error bodies as they were captured, byte for byte, whitespace included, so the classifier
// is tested on what Google sends. Each comment gives the section of docs/google-api.md that describes the
// body, its evidence tag and its source: [DOC] Google documentation, [OBS] real responses in issues,
// [FIX] third-party fixtures, [INF] inferred.

public enum GoogleErrorFixture {
    /// 2.0 [DOC] 401 sample (old envelope, one line).
    public static let docInvalidCredentials = #"""
{"error": {"errors": [{"domain": "global", "reason": "authError", "message": "Invalid Credentials", "locationType": "header", "location": "Authorization"}], "code": 401, "message": "Invalid Credentials"}}
"""#

    /// 2.0 [DOC] 403 project daily limit.
    public static let docDailyLimitExceeded = #"""
{"error": {"errors": [{"domain": "usageLimits", "reason": "dailyLimitExceeded", "message": "Daily Limit Exceeded"}], "code": 403, "message": "Daily Limit Exceeded"}}
"""#

    /// 2.0 [DOC] 403 domainPolicy.
    public static let docDomainPolicy = #"""
{"error": {"errors": [{"domain": "global", "reason": "domainPolicy", "message": "The domain administrators have disabled Gmail apps."}], "code": 403, "message": "The domain administrators have disabled Gmail apps."}}
"""#

    /// 2.0 [DOC] 403 rateLimitExceeded.
    public static let docRateLimitExceeded = #"""
{"error": {"errors": [{"domain": "usageLimits", "message": "Rate Limit Exceeded", "reason": "rateLimitExceeded"}], "code": 403, "message": "Rate Limit Exceeded"}}
"""#

    /// 2.0 [DOC] 403 userRateLimitExceeded.
    public static let docUserRateLimitExceeded = #"""
{"error": {"errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded", "message": "User Rate Limit Exceeded"}], "code": 403, "message": "User Rate Limit Exceeded"}}
"""#

    /// 2.0 [DOC] 500 backendError.
    public static let docBackendError = #"""
{"error": {"errors": [{"domain": "global", "reason": "backendError", "message": "Backend Error"}], "code": 500, "message": "Backend Error"}}
"""#

    /// 2.1 [OBS] php-client #2558: 400 failedPrecondition, current envelope, 2-space indent.
    public static let failedPrecondition = #"""
{
  "error": {
    "code": 400,
    "message": "Precondition check failed.",
    "errors": [
      {
        "message": "Precondition check failed.",
        "domain": "global",
        "reason": "failedPrecondition"
      }
    ],
    "status": "FAILED_PRECONDITION"
  }
}
"""#

    /// 2.1 [OBS] fluent-smtp #152: "Mail service not enabled", as printed on one line.
    public static let mailServiceNotEnabled = #"""
{ "error": { "code": 400, "message": "Mail service not enabled", "errors": [ { "message": "Mail service not enabled", "domain": "global", "reason": "failedPrecondition" } ], "status": "FAILED_PRECONDITION" } }
"""#

    /// 2.2 [OBS] message/domain/reason (langchain #6234), status [INF].
    public static let invalidToHeader = #"""
{
  "error": {
    "code": 400,
    "message": "Invalid To header",
    "errors": [
      {
        "message": "Invalid To header",
        "domain": "global",
        "reason": "invalidArgument"
      }
    ],
    "status": "INVALID_ARGUMENT"
  }
}
"""#

    /// 2.2 [OBS] FlowCrypt #1370: older wording, old envelope, 1-space indent.
    public static let invalidToHeaderOldEnvelope = #"""
{
 "error": {
  "errors": [
   {
    "domain": "global",
    "reason": "invalidArgument",
    "message": "Invalid to header"
   }
  ],
  "code": 400,
  "message": "Invalid to header"
 }
}
"""#

    /// 2.2 [OBS] google-apis-rs #351: compact, keys re-sorted by the client.
    public static let recipientAddressRequired = #"""
{"error":{"code":400,"errors":[{"domain":"global","message":"Recipient address required","reason":"invalidArgument"}],"message":"Recipient address required","status":"INVALID_ARGUMENT"}}
"""#

    /// 2.3 [OBS] laravel-gmail #273: 401 bad or expired token.
    public static let invalidCredentials = #"""
{
  "error": {
    "code": 401,
    "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    "errors": [
      {
        "message": "Invalid Credentials",
        "domain": "global",
        "reason": "authError",
        "location": "Authorization",
        "locationType": "header"
      }
    ],
    "status": "UNAUTHENTICATED"
  }
}
"""#

    /// 2.3 [FIX] 401 without an Authorization header, ErrorInfo CREDENTIALS_MISSING.
    public static let credentialsMissing = #"""
{
  "error": {
    "code": 401,
    "message": "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    "errors": [
      {
        "message": "Login Required.",
        "domain": "global",
        "reason": "required",
        "location": "Authorization",
        "locationType": "header"
      }
    ],
    "status": "UNAUTHENTICATED",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "CREDENTIALS_MISSING",
        "domain": "googleapis.com",
        "metadata": {
          "method": "caribou.api.proto.MailboxService.GetProfile",
          "service": "gmail.googleapis.com"
        }
      }
    ]
  }
}
"""#

    /// 2.4 [FIX] rudder-transformer fixture: 403 with ACCESS_TOKEN_SCOPE_INSUFFICIENT.
    public static let insufficientScopes = #"""
{
  "error": {
    "code": 403,
    "message": "Request had insufficient authentication scopes.",
    "errors": [
      {
        "message": "Insufficient Permission",
        "domain": "global",
        "reason": "insufficientPermissions"
      }
    ],
    "status": "PERMISSION_DENIED",
    "details": [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "domain": "googleapis.com",
        "metadata": {
          "service": "gmail.googleapis.com",
          "method": "caribou.api.proto.MailboxService.GetProfile"
        }
      }
    ]
  }
}
"""#

    /// 2.4 [OBS] apps-script-oauth2 #177: old envelope, one line.
    public static let insufficientScopesOldEnvelope = #"""
{"error": {"errors": [{"domain": "global", "reason": "insufficientPermissions", "message": "Insufficient Permission"}], "code": 403, "message": "Insufficient Permission"}}
"""#

    /// 2.5 [OBS] gatsby-mail #35: 403 accessNotConfigured, link only in the message.
    public static let accessNotConfigured = #"""
{
  "error": {
    "code": 403,
    "message": "Gmail API has not been used in project 861228239640 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
    "errors": [
      {
        "message": "Gmail API has not been used in project 861228239640 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640 then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.",
        "domain": "usageLimits",
        "reason": "accessNotConfigured",
        "extendedHelp": "https://console.developers.google.com"
      }
    ],
    "status": "PERMISSION_DENIED"
  }
}
"""#

    /// 2.6 [FIX] public troubleshooting doc: old envelope, 1-space indent.
    public static let delegationDeniedOldEnvelope = #"""
{
 "error": {
  "errors": [
   {
    "domain": "global",
    "reason": "forbidden",
    "message": "Delegation denied for your.email@domain.com"
   }
  ],
  "code": 403,
  "message": "Delegation denied for your.email@domain.com"
 }
}
"""#

    /// 2.7 [FIX] third-party note: the 429 text answered with 403.
    public static let userRateLimit403 = #"""
{"error":{"code":403,"message":"User-rate limit exceeded.  Retry after 2026-09-11T20:00:00.000Z","errors":[{"message":"User-rate limit exceeded.","domain":"usageLimits","reason":"rateLimitExceeded"}],"status":"PERMISSION_DENIED"}}
"""#

    /// 2.8 (a) [INF] the full body docs/google-api.md suggests for the daily sending limit.
    public static let mailSendingSuggested = #"""
{"error": {"code": 429, "message": "User-rate limit exceeded.  Retry after 2026-01-01T00:00:00.000Z (Mail sending)", "errors": [{"message": "User-rate limit exceeded.  Retry after 2026-01-01T00:00:00.000Z (Mail sending)", "domain": "usageLimits", "reason": "rateLimitExceeded"}], "status": "RESOURCE_EXHAUSTED"}}
"""#

    /// 2.8 (b) [OBS] inbox-zero #379: 429 generic resource exhaustion.
    public static let resourceExhausted = #"""
{
  "error": {
    "code": 429,
    "message": "Resource has been exhausted (e.g. check quota).",
    "errors": [
      {
        "message": "Resource has been exhausted (e.g. check quota).",
        "domain": "global",
        "reason": "rateLimitExceeded"
      }
    ],
    "status": "RESOURCE_EXHAUSTED"
  }
}
"""#

    /// 2.8 (c) [FIX] public code: 429 concurrency, old envelope.
    public static let tooManyConcurrent = #"""
{"error": {"errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Too many concurrent requests for user"}], "code": 429, "message": "Too many concurrent requests for user"}}
"""#

    /// 2.9 [OBS on other Google APIs] 500 "Internal error encountered." (seen on a Gmail send, body truncated there).
    public static let internalError = #"""
{"error": {"code": 500, "message": "Internal error encountered.", "errors": [{"message": "Internal error encountered.", "domain": "global", "reason": "backendError"}], "status": "INTERNAL"}}
"""#

    /// 2.9 [OBS on Sheets/Analytics] 503; Gmail-specific body [UNCONFIRMED].
    public static let serviceUnavailable = #"""
{"error": {"code": 503, "message": "The service is currently unavailable.", "errors": [{"message": "The service is currently unavailable.", "domain": "global", "reason": "backendError"}], "status": "UNAVAILABLE"}}
"""#

    /// 0 [OBS] nextcloud #40863: the token endpoint's flat body, 2-space indent (the \n escapes of docs/google-api.md made real).
    public static let invalidGrantBadRequest = #"""
{
  "error": "invalid_grant",
  "error_description": "Bad Request"
}
"""#

    /// 7.2 [FIX] oauth2.googleapis.com/tokeninfo with an invalid token.
    public static let tokeninfoInvalidToken = #"""
{"error": "invalid_token", "error_description": "Invalid Value"}
"""#

    /// 7.2 [OBS] legacy v2/v3 tokeninfo: error_description only.
    public static let tokeninfoLegacy = #"""
{"error_description": "Invalid Value"}
"""#

    // MARK: Token endpoint (4.2): verbatim descriptions in the flat body of section 0

    /// 4.2 [OBS] django-gmailapi-backend #9.
    public static let invalidGrantRevoked = #"""
{
  "error": "invalid_grant",
  "error_description": "Token has been expired or revoked."
}
"""#

    /// 4.2 [DOC]/[OBS] google-cloud-python #10004.
    public static let invalidGrantBadSignature = #"""
{
  "error": "invalid_grant",
  "error_description": "Invalid JWT Signature."
}
"""#

    /// 4.2 [OBS] gsheets #96, current wording.
    public static let invalidGrantClockSkew = #"""
{
  "error": "invalid_grant",
  "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
}
"""#

    /// 4.2 [OBS] google-analytics-api-symfony #7, oldest wording.
    public static let invalidGrantClockSkewOldest = #"""
{
  "error": "invalid_grant",
  "error_description": "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"
}
"""#

    /// 4.2 [FIX/OBS] public code.
    public static let invalidGrantUnknownSubject = #"""
{
  "error": "invalid_grant",
  "error_description": "Invalid email or User ID"
}
"""#

    /// 4.2 [OBS] php-client #783 (2015).
    public static let invalidGrantNotValidEmail = #"""
{
  "error": "invalid_grant",
  "error_description": "Not a valid email."
}
"""#

    /// 4.2 [OBS] device-access-sample-web-app #5.
    public static let invalidGrantMalformedCode = #"""
{
  "error": "invalid_grant",
  "error_description": "Malformed auth code."
}
"""#

    /// 4.2 [OBS] google-api-java-client #1479.
    public static let invalidGrantCodeVerifier = #"""
{
  "error": "invalid_grant",
  "error_description": "Invalid code verifier."
}
"""#

    /// 4.2 [OBS] google-api-nodejs-client #3680.
    public static let invalidGrantVerifierNotNeeded = #"""
{
  "error": "invalid_grant",
  "error_description": "code_verifier or verifier is not needed."
}
"""#

    /// 4.2 [DOC]/[OBS] g-suite-identity-sync #7 (401).
    public static let unauthorizedClient = #"""
{
  "error": "unauthorized_client",
  "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."
}
"""#

    /// 4.2 [DOC]/[OBS] php-client #950.
    public static let unauthorizedClientScope = #"""
{
  "error": "unauthorized_client",
  "error_description": "Unauthorized client or scope in request."
}
"""#

    /// 4.2 [OBS] timfee/meet #25: refresh token of another client.
    public static let unauthorizedClientMismatch = #"""
{
  "error": "unauthorized_client",
  "error_description": "Unauthorized"
}
"""#

    /// 4.2 [OBS] email-oauth2-proxy #362.
    public static let invalidClientNotFound = #"""
{
  "error": "invalid_client",
  "error_description": "The OAuth client was not found."
}
"""#

    /// 4.2 [OBS] AndroidOAuth #2: wrong client secret.
    public static let invalidClientSecret = #"""
{
  "error": "invalid_client",
  "error_description": "Unauthorized"
}
"""#

    /// 4.2 [DOC] table.
    public static let disabledClient = #"""
{
  "error": "disabled_client",
  "error_description": "The OAuth client was disabled."
}
"""#

    /// 4.2 [DOC] table.
    public static let orgInternal = #"""
{
  "error": "org_internal",
  "error_description": "This client is restricted to users within its organization."
}
"""#

    /// 4.2 [DOC]/[OBS] laravel-recaptcha-enterprise #10.
    public static let invalidScope = #"""
{
  "error": "invalid_scope",
  "error_description": "Invalid OAuth scope or ID token audience provided."
}
"""#

    /// 4.2 [OBS] findajob #115.
    public static let invalidScopeDeviceFlow = #"""
{
  "error": "invalid_scope",
  "error_description": "Invalid device flow scope: https://www.googleapis.com/auth/gmail.readonly"
}
"""#
}
