import RelayVocabulary

/// The settings intake decides with, mapped from the configuration by the app (intake does not read
/// the configuration file format).
public struct IntakePolicy: Sendable {
    /// `smtp.max_recipients`: also the limit for To + Cc + Bcc + RCPT TO together.
    public var maxRecipients: Int
    /// `smtp.trusted_account`: the account of messages from trusted networks without AUTH.
    public var trustedAccount: String?
    /// `delivery.mode = sync`: how long the DATA reply waits for the first attempt. Nil: async mode.
    public var syncTimeout: Duration?
    /// The problem a message is held with when its account cannot send and has no problem recorded.
    public var cannotSendProblem: ProblemCode

    public init(maxRecipients: Int, trustedAccount: String?, syncTimeout: Duration?, cannotSendProblem: ProblemCode) {
        self.maxRecipients = maxRecipients
        self.trustedAccount = trustedAccount
        self.syncTimeout = syncTimeout
        self.cannotSendProblem = cannotSendProblem
    }
}
