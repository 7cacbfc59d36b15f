import Foundation

/// The fake's endpoints that failures can be injected into.
public enum FakeGoogleEndpoint: String, Sendable, CaseIterable, Codable {
    case token
    case send
    case tokeninfo
    case revoke
}

/// An answer to give instead of the normal one, named after the bodies in docs/google-api.md.
///
/// Presets render Google's exact body (§ numbers in GoogleBodies); `custom` answers anything;
/// `hang` accepts the request and answers normally only after a delay (for time-out tests).
public enum InjectedFailure: Sendable, Equatable {
    // Token endpoint (§4.2)
    case invalidGrantRevoked
    case invalidGrantBadRequest
    case invalidGrantBadSignature
    case invalidGrantClockSkew
    case invalidGrantUnknownSubject
    case unauthorizedClient
    case unauthorizedClientScope
    case unauthorizedClientMismatch
    case invalidClient
    case invalidClientSecret
    case deletedClient
    case disabledClient
    case invalidScope
    // tokeninfo / revoke (§7)
    case invalidTokenInfo
    case invalidTokenRevoke
    // Gmail (§2)
    case unauthenticated
    case credentialsMissing
    case failedPrecondition
    case failedPreconditionBadRequest
    case mailServiceNotEnabled
    case insufficientScopes
    case serviceDisabled(project: String = "861228239640")
    case accessNotConfigured(project: String = "861228239640")
    /// `nil` uses the authenticated user's address, as Gmail does.
    case delegationDenied(address: String? = nil)
    case domainPolicy
    case projectDailyLimit
    case queriesPerMinute(project: String = "861228239640")
    case userRateLimit(retryAfter: Date)
    case userRateLimit403(retryAfter: Date)
    case dailyLimit(retryAfter: Date)
    case rateLimitExceeded429
    case tooManyConcurrentRequests
    case invalidArgumentRecipient
    case invalidToHeader
    case payloadTooLarge413
    case backendError500
    case internalError500
    case serviceUnavailable503
    case htmlBadGateway502
    // Anything else
    case custom(status: Int, headers: [String: String], body: String)
    case hang(seconds: Double)

    /// Every preset name the control plane (`POST /_fake/inject`) accepts.
    public static let presetNames: [String] = [
        "invalidGrantRevoked", "invalidGrantBadRequest", "invalidGrantBadSignature", "invalidGrantClockSkew",
        "invalidGrantUnknownSubject", "unauthorizedClient", "unauthorizedClientScope", "unauthorizedClientMismatch",
        "invalidClient", "invalidClientSecret", "deletedClient", "disabledClient", "invalidScope",
        "invalidTokenInfo", "invalidTokenRevoke",
        "unauthenticated", "credentialsMissing", "failedPrecondition", "failedPreconditionBadRequest",
        "mailServiceNotEnabled", "insufficientScopes", "serviceDisabled", "accessNotConfigured", "delegationDenied",
        "domainPolicy", "projectDailyLimit", "queriesPerMinute", "userRateLimit", "userRateLimit403", "dailyLimit",
        "rateLimitExceeded429", "tooManyConcurrentRequests", "invalidArgumentRecipient", "invalidToHeader",
        "payloadTooLarge413", "backendError500", "internalError500", "serviceUnavailable503", "htmlBadGateway502",
    ]

    /// A preset by name; `retryAfter` defaults to 15 minutes after `now` for the rate-limit presets.
    public init?(presetName: String, retryAfter: Date? = nil, project: String? = nil, address: String? = nil, now: Date = Date()) {
        let project = project ?? GoogleBodies.defaultProject
        let retry = retryAfter ?? now.addingTimeInterval(15 * 60)
        switch presetName {
        case "invalidGrantRevoked": self = .invalidGrantRevoked
        case "invalidGrantBadRequest": self = .invalidGrantBadRequest
        case "invalidGrantBadSignature": self = .invalidGrantBadSignature
        case "invalidGrantClockSkew": self = .invalidGrantClockSkew
        case "invalidGrantUnknownSubject": self = .invalidGrantUnknownSubject
        case "unauthorizedClient": self = .unauthorizedClient
        case "unauthorizedClientScope": self = .unauthorizedClientScope
        case "unauthorizedClientMismatch": self = .unauthorizedClientMismatch
        case "invalidClient": self = .invalidClient
        case "invalidClientSecret": self = .invalidClientSecret
        case "deletedClient": self = .deletedClient
        case "disabledClient": self = .disabledClient
        case "invalidScope": self = .invalidScope
        case "invalidTokenInfo": self = .invalidTokenInfo
        case "invalidTokenRevoke": self = .invalidTokenRevoke
        case "unauthenticated": self = .unauthenticated
        case "credentialsMissing": self = .credentialsMissing
        case "failedPrecondition": self = .failedPrecondition
        case "failedPreconditionBadRequest": self = .failedPreconditionBadRequest
        case "mailServiceNotEnabled": self = .mailServiceNotEnabled
        case "insufficientScopes": self = .insufficientScopes
        case "serviceDisabled": self = .serviceDisabled(project: project)
        case "accessNotConfigured": self = .accessNotConfigured(project: project)
        case "delegationDenied": self = .delegationDenied(address: address)
        case "domainPolicy": self = .domainPolicy
        case "projectDailyLimit": self = .projectDailyLimit
        case "queriesPerMinute": self = .queriesPerMinute(project: project)
        case "userRateLimit": self = .userRateLimit(retryAfter: retry)
        case "userRateLimit403": self = .userRateLimit403(retryAfter: retry)
        case "dailyLimit": self = .dailyLimit(retryAfter: retry)
        case "rateLimitExceeded429": self = .rateLimitExceeded429
        case "tooManyConcurrentRequests": self = .tooManyConcurrentRequests
        case "invalidArgumentRecipient": self = .invalidArgumentRecipient
        case "invalidToHeader": self = .invalidToHeader
        case "payloadTooLarge413": self = .payloadTooLarge413
        case "backendError500": self = .backendError500
        case "internalError500": self = .internalError500
        case "serviceUnavailable503": self = .serviceUnavailable503
        case "htmlBadGateway502": self = .htmlBadGateway502
        default: return nil
        }
    }

    /// The answer this failure gives. `account` is the address the request acts for (used by
    /// "Delegation denied for <address>"). Nil for `.hang`, which answers normally after its delay.
    func response(account: String?) -> FakeResponse? {
        switch self {
        case .invalidGrantRevoked: return GoogleBodies.invalidGrantRevoked
        case .invalidGrantBadRequest: return GoogleBodies.invalidGrantBadRequest
        case .invalidGrantBadSignature: return GoogleBodies.invalidGrantBadSignature
        case .invalidGrantClockSkew: return GoogleBodies.invalidGrantClockSkew
        case .invalidGrantUnknownSubject: return GoogleBodies.invalidGrantUnknownSubject
        case .unauthorizedClient: return GoogleBodies.unauthorizedClient
        case .unauthorizedClientScope: return GoogleBodies.unauthorizedClientScope
        case .unauthorizedClientMismatch: return GoogleBodies.unauthorizedClientMismatch
        case .invalidClient: return GoogleBodies.invalidClientNotFound
        case .invalidClientSecret: return GoogleBodies.invalidClientSecret
        case .deletedClient: return GoogleBodies.deletedClient
        case .disabledClient: return GoogleBodies.disabledClient
        case .invalidScope: return GoogleBodies.invalidScope
        case .invalidTokenInfo: return GoogleBodies.invalidTokenInfo
        case .invalidTokenRevoke: return GoogleBodies.invalidTokenRevoke
        case .unauthenticated: return GoogleBodies.invalidCredentials
        case .credentialsMissing: return GoogleBodies.credentialsMissing
        case .failedPrecondition: return GoogleBodies.failedPrecondition
        case .failedPreconditionBadRequest: return GoogleBodies.failedPreconditionBadRequest
        case .mailServiceNotEnabled: return GoogleBodies.mailServiceNotEnabled
        case .insufficientScopes: return GoogleBodies.insufficientScopes
        case .serviceDisabled(let project): return GoogleBodies.serviceDisabled(project: project)
        case .accessNotConfigured(let project): return GoogleBodies.accessNotConfigured(project: project)
        case .delegationDenied(let address): return GoogleBodies.delegationDenied(address ?? account ?? "me")
        case .domainPolicy: return GoogleBodies.domainPolicy
        case .projectDailyLimit: return GoogleBodies.projectDailyLimit
        case .queriesPerMinute(let project): return GoogleBodies.queriesPerMinute(project: project)
        case .userRateLimit(let date): return GoogleBodies.userRateLimit(retryAfter: date)
        case .userRateLimit403(let date): return GoogleBodies.userRateLimit403(retryAfter: date)
        case .dailyLimit(let date): return GoogleBodies.dailyLimit(retryAfter: date)
        case .rateLimitExceeded429: return GoogleBodies.resourceExhausted
        case .tooManyConcurrentRequests: return GoogleBodies.tooManyConcurrentRequests
        case .invalidArgumentRecipient: return GoogleBodies.recipientAddressRequired
        case .invalidToHeader: return GoogleBodies.invalidHeader("To")
        case .payloadTooLarge413: return GoogleBodies.payloadTooLarge
        case .backendError500: return GoogleBodies.backendError
        case .internalError500: return GoogleBodies.internalError
        case .serviceUnavailable503: return GoogleBodies.serviceUnavailable
        case .htmlBadGateway502: return GoogleBodies.badGateway
        case .custom(let status, let headers, let body):
            let fields = headers.isEmpty
                ? GoogleBodies.gmailHeaders.filter { $0.0 == "Content-Type" }
                : headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            return FakeResponse(status: status, headers: fields, text: body)
        case .hang: return nil
        }
    }
}
