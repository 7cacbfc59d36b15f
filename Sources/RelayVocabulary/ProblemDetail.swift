import Foundation

/// Which of Google's endpoints answered.
public enum GoogleEndpoint: String, Sendable, Codable, CaseIterable {
    /// The token endpoint: refresh-token, authorization-code or JWT-bearer grant.
    case token
    /// users.messages.send.
    case gmailSend = "gmail_send"
    case tokeninfo
}

/// What Google said, field by field, next to the whole answer.
///
/// Stored with a failed attempt (`attempts.problem_detail`) and with an account that cannot send
/// (`accounts.problem_detail`), shown by `log show` and the status page. `rawBody` is never
/// truncated: when nothing else could be parsed, it is the only explanation there is. `json` and
/// `init(json:)` are its one stored form.
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
    /// Which endpoint answered; nil in details stored before it was recorded.
    public var endpoint: GoogleEndpoint?
    /// Nil when there was no answer.
    public var httpStatus: Int?
    /// Why there was no answer (network_error).
    public var transportError: String?
    public var bodyFormat: BodyFormat
    /// The whole body as text; invalid UTF-8 is shown with replacement characters.
    public var rawBody: String

    public init(
        googleMessage: String? = nil, reason: String? = nil, errorInfoReason: String? = nil, status: String? = nil,
        domain: String? = nil, activationURL: URL? = nil, retryAfter: Date? = nil, endpoint: GoogleEndpoint? = nil,
        httpStatus: Int? = nil,
        transportError: String? = nil, bodyFormat: BodyFormat = .empty, rawBody: String = ""
    ) {
        self.googleMessage = googleMessage
        self.reason = reason
        self.errorInfoReason = errorInfoReason
        self.status = status
        self.domain = domain
        self.activationURL = activationURL
        self.retryAfter = retryAfter
        self.endpoint = endpoint
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
        case endpoint
        case httpStatus = "http_status"
        case transportError = "transport_error"
        case bodyFormat = "body_format"
        case rawBody = "raw_body"
    }
}

// MARK: - The one stored form

extension ProblemDetail {
    /// The JSON stored in `problem_detail` columns: snake_case keys, sorted, dates as ISO-8601 UTC.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        // Every field is a plain value: encoding cannot fail.
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Reads a stored `problem_detail`; nil for nothing or for text that is not one (never fatal: a bad
    /// row must not stop the status page). Accepts ISO-8601 dates with or without fractions of a second.
    public init?(json: String?) {
        guard let json, !json.isEmpty else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) { return Date(timeIntervalSinceReferenceDate: seconds) }
            let text = try container.decode(String.self)
            guard let date = Self.parseDate(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a date: \(text)")
            }
            return date
        }
        guard let detail = try? decoder.decode(ProblemDetail.self, from: Data(json.utf8)) else { return nil }
        self = detail
    }

    private static func parseDate(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}
