import Foundation

/// What `recordReauthorization` did.
public struct Reauthorization: Sendable, Equatable {
    /// Held messages of the account now queued again.
    public var released: Int
    /// Whether `address` became the account's first from address.
    public var addressAdded: Bool

    public init(released: Int, addressAdded: Bool) {
        self.released = released
        self.addressAdded = addressAdded
    }
}

/// What `removeAccount` did.
public struct AccountRemoval: Sendable, Equatable {
    public var credentialsRemoved: Int
    /// Queued and held messages of the account, now failed with problem `account_removed`.
    public var messagesFailed: Int

    public init(credentialsRemoved: Int, messagesFailed: Int) {
        self.credentialsRemoved = credentialsRemoved
        self.messagesFailed = messagesFailed
    }
}

/// What `purge(before:)` removed.
public struct PurgeResult: Sendable, Equatable {
    public var messagesRemoved: Int
    public var spoolFilesRemoved: Int

    public init(messagesRemoved: Int, spoolFilesRemoved: Int) {
        self.messagesRemoved = messagesRemoved
        self.spoolFilesRemoved = spoolFilesRemoved
    }
}

/// What an SMTP AUTH check found.
public enum CredentialCheck: Sendable, Equatable {
    case valid(VerifiedCredential)
    case invalid
    /// Too many slow checks in flight: nothing was checked (the SMTP layer answers 454).
    case busy
}
