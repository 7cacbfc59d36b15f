import StoreModel

// Names these results had while they were RelayStore's own nested types; both spellings mean one type.
extension RelayStore {
    public typealias Reauthorization = StoreModel.Reauthorization
    public typealias CredentialCheck = StoreModel.CredentialCheck
}

// The SQLite store and its group committer implement the store API (StoreModel/StoreAPI.swift).
extension RelayStore: MessageStore, AccountStore, CredentialStore {}
extension GroupCommitter: MessageIntake {}
