// The kinds of things the relay keeps: accounts, their states, messages' states and the events of
// their history. The raw values are stored in rows and appear on the page, in the API and the CLI.

/// How an account reaches Gmail.
public enum AccountKind: String, Codable, Sendable, CaseIterable {
    /// Everything but the call to Google; for wiring a CMS first.
    case sandbox
    /// An installed-app OAuth grant (refresh token) of one Gmail user.
    case oauthUser = "oauth_user"
    /// A service account with domain-wide delegation, impersonating one user.
    case serviceAccount = "service_account"
}

/// Whether an account can send right now; the same four words appear on the status page and in the API.
public enum AccountState: String, Codable, Sendable, CaseIterable {
    case ok
    case needsReauth = "needs_reauth"
    case blocked
    case unconfigured
}

/// Where a message is in its life; the same words appear in the CLI, the API and the status page.
public enum MessageStatus: String, Codable, Sendable, CaseIterable {
    /// Stored, waiting for the delivery worker (possibly until `next_attempt_at`).
    case queued
    /// Claimed by a sender (the worker or the synchronous path of DATA).
    case sending
    case sent
    /// Accepted but not sent because the account cannot send; released by reauth or `queue retry`.
    case held
    /// Gave up for good: refused by Gmail, too old, or its account was removed.
    case failed
    /// Dropped by an operator (`queue discard`).
    case discarded

    /// States a message never leaves by itself.
    public var isFinal: Bool {
        switch self {
        case .sent, .failed, .discarded: return true
        case .queued, .sending, .held: return false
        }
    }
}

/// What a line of history records. Stored in `events.kind`; the sentence shown for it is made when it is
/// displayed, from the kind and the event's fields.
public enum EventKind: String, Codable, Sendable, CaseIterable {
    /// The SMTP listener stored the message.
    case accepted
    /// A message moved to one of its states (the same words as `MessageStatus`).
    case queued, sent, held, failed, discarded
    /// Held mail released after its account could send again.
    case released
    /// An operator asked for another attempt (`queue retry`).
    case retry
    /// What the header rewrite changed.
    case rewritten
    case accountAdded = "account_added"
    case accountRemoved = "account_removed"
    /// A new secret (consent, key) was stored for the account.
    case accountSecret = "account_secret"
    /// The account's state or problem changed.
    case accountState = "account_state"
    /// The account's fallback was set or cleared (`account update --fallback`).
    case accountFallback = "account_fallback"
    case credentialAdded = "credential_added"
    /// A login's settings changed (e.g. its daily limit).
    case credentialUpdated = "credential_updated"
    case credentialRemoved = "credential_removed"
    /// A message was tried or sent through its account's fallback.
    case fallback

    /// The event that records a message entering `status`; nil for `sending`, which is not recorded.
    public init?(entering status: MessageStatus) {
        switch status {
        case .queued: self = .queued
        case .sending: return nil
        case .sent: self = .sent
        case .held: self = .held
        case .failed: self = .failed
        case .discarded: self = .discarded
        }
    }
}

extension EventKind: CustomStringConvertible {
    public var description: String { rawValue }
}
