import Foundation

/// What Google said, field by field, next to the whole answer.
///
/// Stored with a failed attempt and shown by `log show` and the status page. `rawBody` is never
/// truncated: when nothing else could be parsed, it is the only explanation there is.
public struct ProblemDetail: Sendable, Equatable, Codable {
    /// The shape of the body, so a reader knows what the other fields could be drawn from.
    public enum BodyFormat: String, Sendable, Codable {
        case empty
        /// `{"error": {"code", "message", "errors", "status", "details"}}`, current or older envelope.
        case googleError = "google_error"
        /// `{"error": "...", "error_description": "..."}` of the OAuth endpoints.
        case oauthError = "oauth_error"
        /// JSON, but neither of Google's error shapes.
        case json
        case html
        case text
    }

    /// error.message (or errors[0].message) of a Gmail error, or error_description of an OAuth error, verbatim.
    public var googleMessage: String?
    /// errors[0].reason, else the ErrorInfo reason in details, else the OAuth `error`.
    public var reason: String?
    /// details[].reason of the google.rpc.ErrorInfo entry, e.g. SERVICE_DISABLED.
    public var errorInfoReason: String?
    /// error.status, e.g. FAILED_PRECONDITION.
    public var status: String?
    /// errors[0].domain, e.g. usageLimits.
    public var domain: String?
    /// Where to enable the Gmail API for the project (api_disabled).
    public var activationURL: URL?
    /// From Gmail's "Retry after <time>" or the Retry-After header, whichever is later.
    public var retryAfter: Date?
    /// Nil when there was no answer.
    public var httpStatus: Int?
    /// Why there was no answer (network_error).
    public var transportError: String?
    public var bodyFormat: BodyFormat
    /// The whole body as text; invalid UTF-8 is shown with replacement characters.
    public var rawBody: String

    public init(
        googleMessage: String? = nil, reason: String? = nil, errorInfoReason: String? = nil, status: String? = nil,
        domain: String? = nil, activationURL: URL? = nil, retryAfter: Date? = nil, httpStatus: Int? = nil,
        transportError: String? = nil, bodyFormat: BodyFormat = .empty, rawBody: String = ""
    ) {
        self.googleMessage = googleMessage
        self.reason = reason
        self.errorInfoReason = errorInfoReason
        self.status = status
        self.domain = domain
        self.activationURL = activationURL
        self.retryAfter = retryAfter
        self.httpStatus = httpStatus
        self.transportError = transportError
        self.bodyFormat = bodyFormat
        self.rawBody = rawBody
    }

    enum CodingKeys: String, CodingKey {
        case googleMessage = "google_message"
        case reason
        case errorInfoReason = "error_info_reason"
        case status
        case domain
        case activationURL = "activation_url"
        case retryAfter = "retry_after"
        case httpStatus = "http_status"
        case transportError = "transport_error"
        case bodyFormat = "body_format"
        case rawBody = "raw_body"
    }
}
