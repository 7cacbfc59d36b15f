import Foundation
import GoogleFixtures

/// One HTTP answer of the fake, before it is handed to Hummingbird.
struct FakeResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: Data

    init(status: Int, headers: [(String, String)], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    init(status: Int, headers: [(String, String)], text: String) {
        self.init(status: status, headers: headers, body: Data(text.utf8))
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Google's bodies and headers, as docs/google-api.md quotes them (section numbers in comments).
///
/// Gmail errors use the current envelope of docs/google-api.md §0: `code`, `message`, `errors`,
/// `status`, then `details` when present, pretty-printed with two spaces.
enum GoogleBodies {
    // MARK: Headers

    /// §0: headers seen on Gmail API errors.
    static let gmailHeaders: [(String, String)] = [
        ("Content-Type", "application/json; charset=UTF-8"),
        ("Vary", "Origin, X-Origin"),
        ("Cache-Control", "private, max-age=0"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-XSS-Protection", "1; mode=block"),
        ("Server", "GSE"),
    ]

    /// §0: headers seen on a token endpoint answer.
    static let oauthHeaders: [(String, String)] = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Server", "ESF"),
        ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
        ("Pragma", "no-cache"),
        ("Expires", "Mon, 01 Jan 1990 00:00:00 GMT"),
    ]

    static let htmlHeaders: [(String, String)] = [
        ("Content-Type", "text/html; charset=UTF-8"),
        ("Server", "GFE/2.0"),
    ]

    // MARK: Builders

    static func gmail(_ status: Int, _ json: JSONText) -> FakeResponse {
        FakeResponse(status: status, headers: gmailHeaders, text: json.pretty)
    }

    static func oauth(_ status: Int, _ json: JSONText) -> FakeResponse {
        FakeResponse(status: status, headers: oauthHeaders, text: json.pretty)
    }

    /// `{"error": ..., "error_description": ...}` (§0, §4.2).
    static func oauthError(_ status: Int, _ error: String, _ description: String) -> FakeResponse {
        oauth(status, .object([("error", .string(error)), ("error_description", .string(description))]))
    }

    /// The current Gmail error envelope (§0).
    static func envelope(
        code: Int,
        message: String,
        itemMessage: String? = nil,
        domain: String = "global",
        reason: String,
        itemExtra: [(String, JSONText)] = [],
        status: String,
        details: [JSONText] = []
    ) -> FakeResponse {
        var item: [(String, JSONText)] = [
            ("message", .string(itemMessage ?? message)),
            ("domain", .string(domain)),
            ("reason", .string(reason)),
        ]
        item += itemExtra
        var error: [(String, JSONText)] = [
            ("code", .int(code)),
            ("message", .string(message)),
            ("errors", .array([.object(item)])),
            ("status", .string(status)),
        ]
        if !details.isEmpty { error.append(("details", .array(details))) }
        return gmail(code, .object([("error", .object(error))]))
    }

    static func errorInfo(reason: String, metadata: [(String, String)]) -> JSONText {
        .object([
            ("@type", .string("type.googleapis.com/google.rpc.ErrorInfo")),
            ("reason", .string(reason)),
            ("domain", .string("googleapis.com")),
            ("metadata", .object(metadata.map { ($0.0, .string($0.1)) })),
        ])
    }

    /// §2.4 guesses this method name for users.messages.send (the captured bodies name GetProfile etc.).
    static let sendMethod = "caribou.api.proto.MailboxService.SendMessage"
    static let defaultProject = "861228239640"

    // MARK: Gmail bodies

    /// §2.1
    static let failedPrecondition = envelope(
        code: 400, message: "Precondition check failed.", reason: "failedPrecondition", status: "FAILED_PRECONDITION")
    /// §2.1 variant: service account addressing a gmail.com mailbox.
    static let failedPreconditionBadRequest = envelope(
        code: 400, message: "Bad Request", reason: "failedPrecondition", status: "FAILED_PRECONDITION")
    /// §2.1 variant
    static let mailServiceNotEnabled = envelope(
        code: 400, message: "Mail service not enabled", reason: "failedPrecondition", status: "FAILED_PRECONDITION")
    /// §2.2 (no recipients)
    static let recipientAddressRequired = envelope(
        code: 400, message: "Recipient address required", reason: "invalidArgument", status: "INVALID_ARGUMENT")
    /// §2.2 ("Invalid To header"; the Cc/Bcc wording follows the same pattern [INF]).
    static func invalidHeader(_ name: String) -> FakeResponse {
        envelope(code: 400, message: "Invalid \(name) header", reason: "invalidArgument", status: "INVALID_ARGUMENT")
    }
    /// §1.2 / §2.2 (metadata URI without `raw`).
    static let rawRequired = envelope(
        code: 400,
        message: "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
        reason: "badRequest", status: "INVALID_ARGUMENT")

    /// §2.3 bad or expired token.
    static let invalidCredentials = envelope(
        code: 401,
        message: "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        itemMessage: "Invalid Credentials",
        reason: "authError",
        itemExtra: [("location", .string("Authorization")), ("locationType", .string("header"))],
        status: "UNAUTHENTICATED")

    /// §2.3 no Authorization header.
    static let credentialsMissing = envelope(
        code: 401,
        message: "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        itemMessage: "Login Required.",
        reason: "required",
        itemExtra: [("location", .string("Authorization")), ("locationType", .string("header"))],
        status: "UNAUTHENTICATED",
        details: [errorInfo(reason: "CREDENTIALS_MISSING", metadata: [
            ("method", sendMethod), ("service", "gmail.googleapis.com"),
        ])])

    /// §2.4
    static let insufficientScopes = envelope(
        code: 403,
        message: "Request had insufficient authentication scopes.",
        itemMessage: "Insufficient Permission",
        reason: "insufficientPermissions",
        status: "PERMISSION_DENIED",
        details: [errorInfo(reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT", metadata: [
            ("service", "gmail.googleapis.com"), ("method", sendMethod),
        ])])

    private static func disabledMessage(_ project: String) -> String {
        "Gmail API has not been used in project \(project) before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=\(project) then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
    }

    /// §2.5 as captured in 2020 (no `details`).
    static func accessNotConfigured(project: String) -> FakeResponse {
        envelope(
            code: 403, message: disabledMessage(project), domain: "usageLimits", reason: "accessNotConfigured",
            itemExtra: [("extendedHelp", .string("https://console.developers.google.com"))],
            status: "PERMISSION_DENIED")
    }

    /// §2.5 with the newer SERVICE_DISABLED ErrorInfo.
    static func serviceDisabled(project: String) -> FakeResponse {
        envelope(
            code: 403, message: disabledMessage(project), domain: "usageLimits", reason: "accessNotConfigured",
            itemExtra: [("extendedHelp", .string("https://console.developers.google.com"))],
            status: "PERMISSION_DENIED",
            details: [errorInfo(reason: "SERVICE_DISABLED", metadata: [
                ("service", "gmail.googleapis.com"),
                ("consumer", "projects/\(project)"),
                ("activationUrl", "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=\(project)"),
                ("serviceTitle", "Gmail API"),
                ("containerInfo", project),
            ])])
    }

    /// §2.6 (current form; `status` [INF]).
    static func delegationDenied(_ address: String) -> FakeResponse {
        envelope(code: 403, message: "Delegation denied for \(address)", reason: "forbidden", status: "PERMISSION_DENIED")
    }

    /// §2.0 sample in the current envelope (`status` [INF]).
    static let domainPolicy = envelope(
        code: 403, message: "The domain administrators have disabled Gmail apps.", reason: "domainPolicy",
        status: "PERMISSION_DENIED")

    /// §2.0 sample (project API quota) in the current envelope (`status` [INF]).
    static let projectDailyLimit = envelope(
        code: 403, message: "Daily Limit Exceeded", domain: "usageLimits", reason: "dailyLimitExceeded",
        status: "PERMISSION_DENIED")

    /// §2.7 first body (`status` [INF]).
    static func queriesPerMinute(project: String) -> FakeResponse {
        envelope(
            code: 403,
            message: "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:\(project)'.",
            domain: "usageLimits", reason: "rateLimitExceeded", status: "PERMISSION_DENIED")
    }

    /// RFC 3339 with milliseconds and `Z`, as in "Retry after 2021-08-03T23:03:54.553Z".
    static func retryTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// §2.8 (a), the full body docs/google-api.md suggests (note the two spaces after "exceeded.").
    static func userRateLimit(retryAfter: Date) -> FakeResponse {
        envelope(
            code: 429, message: "User-rate limit exceeded.  Retry after \(retryTime(retryAfter))",
            domain: "usageLimits", reason: "rateLimitExceeded", status: "RESOURCE_EXHAUSTED")
    }

    /// §2.7 second body: the same text answered with 403.
    static func userRateLimit403(retryAfter: Date) -> FakeResponse {
        envelope(
            code: 403, message: "User-rate limit exceeded.  Retry after \(retryTime(retryAfter))",
            itemMessage: "User-rate limit exceeded.",
            domain: "usageLimits", reason: "rateLimitExceeded", status: "PERMISSION_DENIED")
    }

    /// §2.8 (a) mail-sending (daily limit) variant.
    static func dailyLimit(retryAfter: Date) -> FakeResponse {
        envelope(
            code: 429, message: "User-rate limit exceeded.  Retry after \(retryTime(retryAfter)) (Mail sending)",
            domain: "usageLimits", reason: "rateLimitExceeded", status: "RESOURCE_EXHAUSTED")
    }

    /// §2.8 (b)
    static let resourceExhausted = envelope(
        code: 429, message: "Resource has been exhausted (e.g. check quota).", reason: "rateLimitExceeded",
        status: "RESOURCE_EXHAUSTED")

    /// §2.8 (c), with the RESOURCE_EXHAUSTED status one fixture shows.
    static let tooManyConcurrentRequests = envelope(
        code: 429, message: "Too many concurrent requests for user", domain: "usageLimits",
        reason: "rateLimitExceeded", status: "RESOURCE_EXHAUSTED")

    /// §2.0 documented 500 in the current envelope.
    static let backendError = envelope(code: 500, message: "Backend Error", reason: "backendError", status: "INTERNAL")
    /// §2.9 500 seen on a Gmail send.
    static let internalError = envelope(
        code: 500, message: "Internal error encountered.", reason: "backendError", status: "INTERNAL")
    /// §2.9 typical 503.
    static let serviceUnavailable = envelope(
        code: 503, message: "The service is currently unavailable.", reason: "backendError", status: "UNAVAILABLE")

    /// Not in docs/google-api.md [INF]: a body that is not `message/*` (discovery `"accept": ["message/*"]`).
    static func unsupportedMediaType(_ type: String) -> FakeResponse {
        envelope(
            code: 400, message: "Media type '\(type)' is not supported. Valid media types: [message/*]",
            reason: "badContent", status: "INVALID_ARGUMENT")
    }

    /// Not in docs/google-api.md [INF]: an /upload/ call without a usable uploadType.
    static let uploadTypeRequired = envelope(
        code: 400,
        message: "Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/",
        reason: "badRequest", status: "INVALID_ARGUMENT")

    // MARK: HTML pages of Google's front end

    /// Google front end pages, verbatim from public captures (docs/google-api.md 2.9 and 1.3).
    static let badGateway = FakeResponse(status: 502, headers: htmlHeaders, text: GoogleErrorFixture.badGatewayHTML)
    static let payloadTooLarge = FakeResponse(status: 413, headers: htmlHeaders, text: GoogleErrorFixture.payloadTooLargeHTML)

    /// The consent page's error screen. Google's real page is a script-heavy sign-in page; only the
    /// status and the "Error 400: <code>" line are modelled [INF].
    static func consentError(status: Int = 400, _ error: String, _ detail: String) -> FakeResponse {
        let html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Error \(status): \(error)</title></head>
            <body><h1>Access blocked: This app’s request is invalid</h1>
            <p>Error \(status): \(error)</p>
            <p>\(detail)</p>
            </body></html>

            """
        return FakeResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8")], text: html)
    }

    // MARK: OAuth bodies (§4.2, §7)

    static let invalidGrantRevoked = oauthError(400, "invalid_grant", "Token has been expired or revoked.")
    static let invalidGrantBadRequest = oauthError(400, "invalid_grant", "Bad Request")
    static let invalidGrantBadSignature = oauthError(400, "invalid_grant", "Invalid JWT Signature.")
    static let invalidGrantClockSkew = oauthError(
        400, "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
    static let invalidGrantUnknownSubject = oauthError(400, "invalid_grant", "Invalid email or User ID")
    static let invalidGrantMalformedCode = oauthError(400, "invalid_grant", "Malformed auth code.")
    static let invalidGrantCodeVerifier = oauthError(400, "invalid_grant", "Invalid code verifier.")
    static let invalidGrantVerifierNotNeeded = oauthError(400, "invalid_grant", "code_verifier or verifier is not needed.")
    static let unauthorizedClient = oauthError(
        401, "unauthorized_client",
        "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.")
    static let unauthorizedClientScope = oauthError(401, "unauthorized_client", "Unauthorized client or scope in request.")
    static let unauthorizedClientMismatch = oauthError(401, "unauthorized_client", "Unauthorized")
    static let invalidClientNotFound = oauthError(401, "invalid_client", "The OAuth client was not found.")
    static let invalidClientSecret = oauthError(401, "invalid_client", "Unauthorized")
    /// §4.2: description [UNCONFIRMED].
    static let deletedClient = oauthError(401, "deleted_client", "The OAuth client was deleted.")
    static let disabledClient = oauthError(401, "disabled_client", "The OAuth client was disabled.")
    static let invalidScope = oauthError(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    /// §7.2
    static let invalidTokenInfo = oauthError(400, "invalid_token", "Invalid Value")
    /// §7.1
    static let invalidTokenRevoke = oauthError(400, "invalid_token", "Token expired or revoked")

    // Not in docs/google-api.md [INF]: request-shape errors of the token endpoint.
    static func missingParameter(_ name: String) -> FakeResponse {
        oauthError(400, "invalid_request", "Missing required parameter: \(name)")
    }
    static let missingClient = oauthError(400, "invalid_request", "Could not determine client ID from request.")
    static let missingSecret = oauthError(400, "invalid_request", "client_secret is missing.")
    static let missingCodeVerifier = oauthError(400, "invalid_grant", "Missing code verifier.")
    static let redirectMismatch = oauthError(400, "redirect_uri_mismatch", "Bad Request")
    static func unsupportedGrantType(_ type: String) -> FakeResponse {
        oauthError(400, "unsupported_grant_type", "Invalid grant_type: \(type)")
    }
    static func badAudience(_ expected: String) -> FakeResponse {
        oauthError(400, "invalid_grant", "Invalid JWT: Failed audience check. The right audience is \(expected)")
    }
    static let accountNotFound = oauthError(400, "invalid_grant", "Invalid grant: account not found")
}
