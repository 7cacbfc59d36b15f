/// Problem codes the relay itself gives (not Google): they sit next to `GmailAPI.ProblemCode` in the
/// `problem_code` columns, the send log, the status page and the catalogue. Never rename, only add.
public enum RelayProblem: String, Sendable, CaseIterable {
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
}
