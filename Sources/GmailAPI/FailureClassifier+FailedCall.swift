import Foundation

extension GoogleFailure {
    /// The failure of a `FailedCall` from `GmailSender` or a token grant. Nil for the revoke endpoint,
    /// whose errors mean "already revoked" and are no problem of the account.
    public init?(
        _ call: FailedCall, accountKind: AccountKind, consentedAt: Date? = nil, now: Date,
        previousPreconditionFailures: Int = 0
    ) {
        let endpoint: Endpoint
        switch call.endpoint {
        case .token: endpoint = .token
        case .gmailSend: endpoint = .gmailSend
        case .tokeninfo: endpoint = .tokeninfo
        case .revoke: return nil
        }
        self.init(
            endpoint: endpoint, status: call.response?.status, headers: call.response?.headers ?? [:],
            body: call.response?.body ?? Data(), transportError: call.transportError, accountKind: accountKind,
            consentedAt: consentedAt, now: now, previousPreconditionFailures: previousPreconditionFailures)
    }
}
