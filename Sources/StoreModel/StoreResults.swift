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

/// What an SMTP AUTH check found.
public enum CredentialCheck: Sendable, Equatable {
    case valid(VerifiedCredential)
    case invalid
    /// Too many slow checks in flight: nothing was checked (the SMTP layer answers 454).
    case busy
}
