import Foundation
import RelayVocabulary

/// One failed call to Google, with what the classifier needs to know about the account.
///
/// A value, so the classifier stays pure: the caller supplies `now` and the account's history.
public struct GoogleFailure: Sendable {
    /// The endpoints the classifier knows (the vocabulary's, so the verdict can be stored with it).
    public typealias Endpoint = GoogleEndpoint

    /// How the account gets its tokens; some answers mean different things for each.
    public enum AccountKind: Sendable, Equatable {
        /// A person's consent (refresh token).
        case userGrant
        /// A service account with domain-wide delegation, impersonating `subject` (nil: acting as itself).
        case serviceAccount(subject: String?)
    }

    public var endpoint: Endpoint
    /// Nil when there was no HTTP answer.
    public var status: Int?
    public var headers: [String: String]
    public var body: Data
    /// Why there was no answer (DNS, connection, TLS, time-out).
    public var transportError: String?
    public var accountKind: AccountKind
    /// When the person consented (the refresh token was issued), if known.
    public var consentedAt: Date?
    public var now: Date
    /// How many failedPrecondition answers in a row this message already got.
    public var previousPreconditionFailures: Int

    public init(
        endpoint: Endpoint, status: Int?, headers: [String: String] = [:], body: Data = Data(),
        transportError: String? = nil, accountKind: AccountKind, consentedAt: Date? = nil, now: Date,
        previousPreconditionFailures: Int = 0
    ) {
        self.endpoint = endpoint
        self.status = status
        self.headers = headers
        self.body = body
        self.transportError = transportError
        self.accountKind = accountKind
        self.consentedAt = consentedAt
        self.now = now
        self.previousPreconditionFailures = previousPreconditionFailures
    }

    func header(_ name: String) -> String? {
        headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// What the relay does about a failure.
public enum FailureClass: Sendable, Equatable {
    /// Gmail refuses this message for good; the SMTP client gets 554 with Gmail's text.
    case messageRejected
    /// No message can go through this account until a person acts; mail is held, not dropped.
    case accountBlocked
    /// Try again at `retryAfter` (when Google said); `dailyLimit` means hours, not seconds.
    case rateLimited(retryAfter: Date?, dailyLimit: Bool)
    /// Try again with backoff: 5xx, no answer, or a failedPrecondition worth one more try.
    case transient

    /// A stable word for logs and metrics.
    public var name: String {
        switch self {
        case .messageRejected: return "message_rejected"
        case .accountBlocked: return "account_blocked"
        case .rateLimited: return "rate_limited"
        case .transient: return "transient"
        }
    }
}

/// The verdict on one failure.
public struct Classification: Sendable, Equatable {
    public var failureClass: FailureClass
    public var problem: ProblemCode
    public var detail: ProblemDetail
    /// `reauth NAME` is the fix (a user grant whose problem a new consent solves).
    public var needsReauthorization: Bool

    /// The message fails for good; other messages of the account are unaffected.
    public var isPermanentForMessage: Bool { failureClass == .messageRejected }

    /// The account's mail is held until a person acts (reauth, configuration, `queue retry`).
    public var holdsAccount: Bool { failureClass == .accountBlocked }

    /// The delivery worker should try again by itself (rate limits, 5xx, network).
    public var isRetryable: Bool {
        switch failureClass {
        case .rateLimited, .transient: return true
        case .messageRejected, .accountBlocked: return false
        }
    }

    public var retryAfter: Date? { detail.retryAfter }

    /// The text for the SMTP reply: Gmail's own words when it refused the message
    /// (`554 5.6.0 <text> (log <id>)`), otherwise the problem code (`held: <code>`).
    /// One line, at most 400 characters, so the reply fits in an SMTP line.
    public var smtpText: String {
        guard failureClass == .messageRejected else { return problem.rawValue }
        let text = detail.googleMessage.flatMap { $0.isEmpty ? nil : $0 }
            ?? "\(problem.summary) (HTTP \(detail.httpStatus.map(String.init) ?? "none"))"
        let line = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
        return line.count > 400 ? String(line.prefix(397)) + "..." : line
    }
}

/// Maps a failed call to Google onto a `FailureClass` and a `ProblemCode` (docs/google-api.md 2-4).
///
/// Pure: the same `GoogleFailure` always gives the same `Classification`. Matching prefers the
/// structured fields (`error`, reasons, status) and looks at message wording only where Google
/// uses one reason for several causes (failedPrecondition, invalid_grant, forbidden).
public enum FailureClassifier {
    /// Service-account subjects that are consumer accounts, where domain-wide delegation cannot exist.
    static let consumerDomains: Set<String> = ["gmail.com", "googlemail.com"]

    /// Consent this long before an invalid_grant points at the 7-day expiry of Testing-mode apps.
    static let testingModeWindow: ClosedRange<TimeInterval> = (6.5 * 86_400)...(7.5 * 86_400)

    public static func classify(_ failure: GoogleFailure) -> Classification {
        var detail = ProblemDetail(
            endpoint: failure.endpoint,
            httpStatus: failure.status,
            transportError: failure.transportError,
            rawBody: String(decoding: failure.body, as: UTF8.self)
        )
        guard let status = failure.status else {
            detail.bodyFormat = GoogleErrorBody(failure.body).format
            return Classification(failureClass: .transient, problem: .networkError, detail: detail, needsReauthorization: false)
        }

        let body = GoogleErrorBody(failure.body)
        detail.bodyFormat = body.format
        detail.googleMessage = body.message ?? body.itemMessages.first
        detail.reason = body.reasons.first ?? body.detailReasons.first ?? body.oauthError
        detail.errorInfoReason = body.detailReasons.first
        detail.status = body.status
        detail.domain = body.domain
        detail.retryAfter = retryAfter(body: body, failure: failure)

        let (failureClass, problem) = verdict(status: status, body: body, failure: failure, retryAfter: detail.retryAfter)
        if problem == .apiDisabled { detail.activationURL = body.activationURL }
        let reauth = problem.isFixedByReauth && failure.accountKind == .userGrant
        return Classification(failureClass: failureClass, problem: problem, detail: detail, needsReauthorization: reauth)
    }

    // MARK: Verdicts

    private static func verdict(
        status: Int, body: GoogleErrorBody, failure: GoogleFailure, retryAfter: Date?
    ) -> (FailureClass, ProblemCode) {
        // The status alone decides these, whatever the body says (or whether it parses).
        switch status {
        case 500...599, 408:
            return (.transient, .backendError)
        case 413:
            return (.messageRejected, .messageTooLarge)
        default:
            break
        }
        if let limit = rateLimit(status: status, body: body, retryAfter: retryAfter) { return limit }

        switch body.format {
        case .oauthError:
            return oauthVerdict(body: body, failure: failure)
        case .googleError where failure.endpoint == .gmailSend:
            return gmailVerdict(status: status, body: body, failure: failure)
        default:
            if failure.endpoint == .gmailSend, status == 401 { return (.accountBlocked, .accessTokenRejected) }
            return (.accountBlocked, .unexpectedResponse)
        }
    }

    /// 429 always; 403 only with a quota reason, since 403 also means "not allowed" (2.7, 2.8, 2.0).
    private static func rateLimit(status: Int, body: GoogleErrorBody, retryAfter: Date?) -> (FailureClass, ProblemCode)? {
        let quotaReason = body.hasReason("rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded")
            || body.hasDetailReason("RATE_LIMIT_EXCEEDED")
            || body.status == "RESOURCE_EXHAUSTED"
        guard status == 429 || (status == 403 && quotaReason) else { return nil }
        if body.mentions("(Mail sending)") {
            return (.rateLimited(retryAfter: retryAfter, dailyLimit: true), .dailyLimit)
        }
        if body.hasReason("dailyLimitExceeded") {
            return (.rateLimited(retryAfter: retryAfter, dailyLimit: true), .projectDailyLimit)
        }
        if body.mentions("concurrent requests") {
            return (.rateLimited(retryAfter: retryAfter, dailyLimit: false), .concurrencyLimited)
        }
        return (.rateLimited(retryAfter: retryAfter, dailyLimit: false), .rateLimited)
    }

    /// Gmail's envelope errors on users.messages.send (2.1-2.6).
    private static func gmailVerdict(status: Int, body: GoogleErrorBody, failure: GoogleFailure) -> (FailureClass, ProblemCode) {
        switch status {
        case 400:
            if body.hasReason("failedPrecondition") || body.status == "FAILED_PRECONDITION" {
                return preconditionVerdict(body: body, failure: failure)
            }
            if body.mentions("payload size exceeds") || body.mentions("too large") {
                return (.messageRejected, .messageTooLarge)
            }
            return (.messageRejected, .messageRejected)
        case 401:
            return (.accountBlocked, .accessTokenRejected)
        case 403:
            if body.hasReason("insufficientPermissions") || body.hasDetailReason("ACCESS_TOKEN_SCOPE_INSUFFICIENT")
                || body.mentions("insufficient authentication scopes") {
                return (.accountBlocked, .scopeInsufficient)
            }
            if body.hasReason("accessNotConfigured") || body.hasDetailReason("SERVICE_DISABLED")
                || body.mentions("has not been used in project") {
                return (.accountBlocked, .apiDisabled)
            }
            if body.mentions("Delegation denied") {
                return (.accountBlocked, .delegationDenied)
            }
            if body.hasReason("domainPolicy") || body.mentions("domain administrators have disabled") {
                return (.accountBlocked, .domainPolicy)
            }
            return (.accountBlocked, .permissionDenied)
        default:
            return (.accountBlocked, .unexpectedResponse)
        }
    }

    /// 400 failedPrecondition has several causes with one reason (docs/google-api.md 3).
    private static func preconditionVerdict(body: GoogleErrorBody, failure: GoogleFailure) -> (FailureClass, ProblemCode) {
        if body.mentions("Mail service not enabled") {
            return (.accountBlocked, .mailServiceDisabled)
        }
        if case .serviceAccount(let subject) = failure.accountKind {
            let subject = subject?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            let domain = subject.split(separator: "@").last.map(String.init) ?? ""
            // A service account's own address as subject is the same as no subject (nodejs-client #2361).
            if subject.isEmpty || domain.hasSuffix(".iam.gserviceaccount.com") {
                return (.accountBlocked, .saNoSubject)
            }
            if consumerDomains.contains(domain) {
                return (.accountBlocked, .saConsumerAccount)
            }
        }
        if failure.previousPreconditionFailures == 0 {
            return (.transient, .preconditionTransient)
        }
        return (.accountBlocked, .preconditionFailed)
    }

    /// The flat `{"error", "error_description"}` answers of the token and tokeninfo endpoints (4.2, 7.2).
    private static func oauthVerdict(body: GoogleErrorBody, failure: GoogleFailure) -> (FailureClass, ProblemCode) {
        let error = body.oauthError?.lowercased() ?? ""
        let isServiceAccount = failure.accountKind != .userGrant
        let problem: ProblemCode
        switch error {
        case "invalid_grant":
            problem = invalidGrantProblem(body: body, failure: failure)
        case "unauthorized_client":
            problem = isServiceAccount ? .saNotAuthorized : .clientMismatch
        case "invalid_client":
            problem = body.message?.trimmingCharacters(in: .whitespaces).lowercased() == "unauthorized"
                ? .clientSecretInvalid : .clientInvalid
        case "deleted_client":
            problem = .clientDeleted
        case "disabled_client":
            problem = .clientDisabled
        case "access_denied":
            problem = isServiceAccount ? .saNotAuthorized : .accessDenied
        case "admin_policy_enforced":
            problem = .domainPolicy
        case "org_internal":
            problem = .orgInternal
        case "invalid_scope":
            problem = .scopeInvalid
        case "invalid_request", "unsupported_grant_type", "redirect_uri_mismatch":
            problem = .tokenRequestInvalid
        case "invalid_token":
            problem = .accessTokenRejected
        case "" where failure.endpoint == .tokeninfo:
            // The legacy tokeninfo endpoints answer only {"error_description": "Invalid Value"}.
            problem = .accessTokenRejected
        default:
            problem = .oauthError
        }
        return (.accountBlocked, problem)
    }

    /// invalid_grant is one `error` for many causes; the description tells them apart (4.2).
    private static func invalidGrantProblem(body: GoogleErrorBody, failure: GoogleFailure) -> ProblemCode {
        if body.oauthSubtype?.lowercased() == "invalid_rapt" { return .sessionReauthRequired }
        let text = (body.message ?? "").lowercased()
        func has(_ fragment: String) -> Bool { text.contains(fragment) }

        if has("jwt signature") || has("account not found") { return .saInvalidSignature }
        if has("short-lived token") || has("reasonable timeframe") || (has("iat") && has("exp")) {
            return .saClockSkew
        }
        if has("audience") { return .saWrongAudience }
        if has("invalid email") || has("not a valid email") || has("user id") { return .saUnknownSubject }
        if has("auth code") || has("code verifier") || has("code_verifier") || has("authorization code") {
            return .authCodeInvalid
        }
        if has("expired or revoked") {
            if let consentedAt = failure.consentedAt,
               testingModeWindow.contains(failure.now.timeIntervalSince(consentedAt)) {
                return .testingModeExpiry
            }
            return .grantRevoked
        }
        if case .serviceAccount = failure.accountKind { return .saGrantRejected }
        if text.trimmingCharacters(in: .whitespaces) == "bad request" { return .grantUnrecognized }
        // Google: treat invalid_grant on a refresh as "authenticate the user again".
        return .grantRevoked
    }

    // MARK: Retry time

    /// The later of Gmail's "Retry after <time>" and the Retry-After header (Google's stated time has
    /// been seen too early, ruby-client #20544; waiting longer is the safe side).
    private static func retryAfter(body: GoogleErrorBody, failure: GoogleFailure) -> Date? {
        let fromMessage = body.allMessages.lazy.compactMap(RetryTime.fromMessage).first
        let fromHeader = failure.header("Retry-After").flatMap { RetryTime.fromHeader($0, now: failure.now) }
        switch (fromMessage, fromHeader) {
        case let (message?, header?): return max(message, header)
        case let (message, header): return message ?? header
        }
    }
}
