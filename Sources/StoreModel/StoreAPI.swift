import Foundation
import RelayVocabulary

// The store's API as the product uses it, in three protocols by concern rather than one: each module
// names the part it needs (Delivery and the status page the send log and accounts, SMTP the credentials
// and the intake), a second implementation (PostgreSQL) can be written and tested part by part, and a
// test double, should one ever be needed, implements one seam instead of forty methods. `RelayStoreAPI`
// is all three, for the app and the CLI. The signatures are async, carry only the model types of
// RelayStore.swift/Models.swift (no GRDB `Database`, rows or statements) and no file paths.
// `RelayStore` (SQLite + spool directory) conforms; what only makes sense for one local database (backup
// by SQLite's API, the spool, `open`) stays on `RelayStore` itself.

/// The send log and the lifecycle of a message (see the table in MessageLifecycle.swift).
public protocol MessageStore: Sendable {
    /// The message with this log id, or nil.
    func message(id: Int64) async throws -> MessageRecord?
    /// Newest first, filtered by status, account and a search (sender, recipients, subject, Message-ID,
    /// Gmail id, or the log id exactly).
    func messages(status: MessageStatus?, account: String?, query: String?, limit: Int, offset: Int) async throws -> [MessageRecord]
    /// The body as received when the store keeps it with the row (small messages); nil otherwise.
    func inlineBody(messageID id: Int64) async throws -> [UInt8]?
    /// The body the store keeps, in order, one piece per element, each read only when the consumer asks
    /// for it: a store that keeps large bodies (PostgreSQL's chunks) never holds one whole in memory.
    /// Ends at once when the store keeps no body for the message; a body that is damaged (a piece
    /// missing, a size that disagrees) ends with an error rather than short.
    func bodyPieces(messageID id: Int64) -> AsyncThrowingStream<[UInt8], any Error>
    /// What the delivery of a claimed batch reads before it starts, in one read where the store can: the
    /// accounts the messages name (as they are now) and the bodies kept with the rows, up to
    /// `DeliveryInputs.bodyLimit` each. A message or account missing from the answer is read on its own.
    func deliveryInputs(for messages: [MessageRecord]) async throws -> DeliveryInputs
    /// Every call to Gmail for the message, oldest first.
    func attempts(messageID: Int64) async throws -> [AttemptRecord]
    /// The message's history, oldest first.
    func events(messageID: Int64) async throws -> [EventRecord]
    /// An account's own history (not its messages'), newest first.
    func events(account: String, limit: Int) async throws -> [EventRecord]
    /// Whether the account ever stopped with `problem` (an account-state event carrying that code).
    func accountHadProblem(_ account: String, _ problem: ProblemCode) async throws -> Bool
    /// Messages per waiting status, and sent in the last 24 hours.
    func queueCounts() async throws -> QueueCounts
    /// Queued, held and failed messages per account.
    func messageCountsByAccount() async throws -> [String: AccountMessageCounts]
    /// When the oldest message of each waiting status (queued, sending, held) was accepted.
    func oldestWaiting() async throws -> [MessageStatus: Date]
    /// When the earliest queued message is due; nil when none is queued.
    func nextDueDate() async throws -> Date?
    /// Sent, failed, held and accepted per UTC hour over the last `hours` hours (1...720), oldest first,
    /// every hour present: /api/stats and the status page's charts.
    func hourlyCounts(hours: Int) async throws -> [HourlyCounts]

    /// Due queued messages per account, at most `limit` each: what the worker reserves lane slots for.
    func dueCounts(limit: Int) async throws -> [String: Int]
    /// Moves up to `limit` due messages to `sending`, at most `capacities[account]` per account and none
    /// of an account not in the map; no two callers get the same message.
    func claimDue(limit: Int, capacities: [String: Int]) async throws -> [MessageRecord]
    /// Everything one delivery attempt learned (attempt rows, the message's next status, the account's
    /// change), in one transaction.
    @discardableResult
    func finishAttempt(_ report: AttemptReport) async throws -> AttemptEffects
    /// A message being sent goes to `status` (`queued`, `held` or `failed`) without an attempt: the
    /// account was busy, or the store failed during the attempt.
    func markStatus(id: Int64, status: MessageStatus, problemCode: ProblemCode?, nextAttemptAt: Date?, detail: String?) async throws
    /// At server start: messages left `sending` go back to the queue. Returns how many.
    @discardableResult
    func requeueInterrupted() async throws -> Int
    /// An operator's retry of a held, failed or queued message that still has its body.
    func retry(id: Int64) async throws
    /// `retry` for every held or failed message with its body. Returns how many.
    @discardableResult
    func retryAll() async throws -> Int
    /// An operator drops a queued, held or failed message.
    func discard(id: Int64, detail: String) async throws
    /// Deletes final messages (and their bodies and history) last changed before `date`, and older
    /// account events.
    @discardableResult
    func purge(before date: Date) async throws -> PurgeResult
    /// Removes stored bodies no message references (left by a crash between writing a body and its
    /// row), sparing those younger than `minimumAge`. Returns how many.
    @discardableResult
    func removeOrphanSpoolFiles(minimumAge: TimeInterval) async throws -> Int
}

/// Accepting received messages: each is durable when this returns (SMTP may then say 250).
/// `GroupCommitter` is SQLite's (it batches concurrent messages into one transaction).
public protocol MessageIntake: Sendable {
    /// Stores one message in `queued`, `sending` or `held` and returns its row as stored (its log id
    /// included), so the caller need not read it back.
    func accept(_ message: NewMessage) async throws -> MessageRecord

    /// Stores one message whose sender's account is read in the same transaction that inserts it (the
    /// SMTP commit: no separate read before it). The status comes from `decide`, given that account as
    /// the transaction sees it; `message`'s `account`, `sandbox`, `status` and `problemCode` are
    /// replaced by what the account and `decide` say. Returns the row as stored and the account read.
    /// Throws `SenderError` (and stores nothing) when the login no longer sends for its account, the
    /// account is gone, or the account could not be read.
    func accept(
        _ message: NewMessage, readingAccountOf sender: MessageSender, decide: @escaping IntakeDecision
    ) async throws -> (record: MessageRecord, account: SenderAccount)
}

/// Gmail accounts: their grants (sealed at rest), states and problems.
public protocol AccountStore: Sendable {
    /// Adds an account; its secret is sealed before it is stored.
    func addAccount(name: String, kind: AccountKind, fromAddresses: [String], secret: Data?, state: AccountState) async throws -> Account
    /// The account with this name, or nil.
    func account(named name: String) async throws -> Account?
    /// All accounts by name.
    func accounts() async throws -> [Account]
    /// Removes the account and its credentials; its waiting messages fail (`account_removed`).
    @discardableResult
    func removeAccount(named name: String) async throws -> AccountRemoval
    /// Records the account's state and problem; a call that changes nothing writes nothing.
    func setAccountState(name: String, state: AccountState, problemCode: ProblemCode?, detail: ProblemDetail?) async throws
    /// The account's secret, opened; nil when none is stored.
    func accountSecret(named name: String) async throws -> Data?
    /// The newest access token's expiry and, when known, its scopes.
    func setTokenExpiry(name: String, expiresAt: Date?, scopes: [String]?) async throws
    /// `account update` in one transaction. Returns how many held messages were queued again.
    @discardableResult
    func updateAccount(_ update: AccountUpdate) async throws -> Int
    /// `reauth` in one transaction: the new grant, its consent time, the account `ok`, its mail released.
    func recordReauthorization(name: String, secret: Data, consentedAt: Date, address: String?) async throws -> Reauthorization
    /// What a health check of the grant found, with the check time. Returns how many messages were held.
    @discardableResult
    func recordGrantCheck(name: String, at date: Date, _ check: GrantCheck) async throws -> Int
    /// Sets or clears the account's fallback; returns how many held messages it now sends.
    @discardableResult
    func setFallback(account name: String, to fallback: String?) async throws -> Int
    /// The fallback that sends the account's mail now (the account needs reauthorization or is blocked,
    /// the fallback is ok), or nil. One step: the fallback's own fallback is never followed.
    func usableFallback(for name: String) async throws -> Account?
}

/// SMTP logins: usernames with hashed passwords, each sending for one account.
public protocol CredentialStore: Sendable {
    /// Adds a login for `account`; the password is hashed (fast for generated ones, scrypt otherwise).
    func addCredential(username: String, account: String, password: String, generated: Bool) async throws
    /// Checks an SMTP AUTH login, in the same time for unknown usernames as for wrong passwords.
    func checkCredential(username: String, password: String) async throws -> CredentialCheck
    /// All logins (without their hashes).
    func credentials() async throws -> [Credential]
    /// One login, or nil.
    func credential(username: String) async throws -> Credential?
    /// Removes a login.
    func removeCredential(username: String) async throws
    /// Sets (or with nil removes) a login's daily message limit.
    func setCredentialDailyLimit(username: String, limit: Int?) async throws
    /// The login's messages since 00:00 UTC against its limit (checked at each MAIL FROM of a limited login).
    func dailyUsage(username: String) async throws -> DailyUsage
}

/// Everything the app and the CLI use.
public typealias RelayStoreAPI = MessageStore & AccountStore & CredentialStore

/// The accounts and small bodies of a claimed batch (`MessageStore.deliveryInputs`).
public struct DeliveryInputs: Sendable {
    /// Bodies larger than this are never read ahead: the largest one the SQLite store keeps with its row.
    public static let bodyLimit: Int64 = 64 * 1024
    public var accounts: [String: Account]
    public var inlineBodies: [Int64: [UInt8]]

    public init(accounts: [String: Account] = [:], inlineBodies: [Int64: [UInt8]] = [:]) {
        self.accounts = accounts
        self.inlineBodies = inlineBodies
    }

    /// The messages whose bodies may be read ahead.
    public static func bodiesToRead(_ messages: [MessageRecord]) -> [Int64] {
        messages.filter { $0.spoolPath == nil && $0.size <= bodyLimit }.map(\.id)
    }
}

extension MessageStore where Self: AccountStore {
    /// One read per account and per body; a store that can do better answers in one.
    public func deliveryInputs(for messages: [MessageRecord]) async throws -> DeliveryInputs {
        var inputs = DeliveryInputs()
        for name in Set(messages.map(\.account)) {
            inputs.accounts[name] = try await account(named: name)
        }
        for id in DeliveryInputs.bodiesToRead(messages) {
            inputs.inlineBodies[id] = try await inlineBody(messageID: id)
        }
        return inputs
    }
}

extension MessageStore {
    /// For a store whose bodies in the database are small (SQLite keeps at most 64 KiB with the row):
    /// `inlineBody` as one piece.
    public func bodyPieces(messageID id: Int64) -> AsyncThrowingStream<[UInt8], any Error> {
        let delivered = LockedValue(false)
        return AsyncThrowingStream {
            guard !delivered.withLock({ done in defer { done = true }; return done }) else { return nil }
            return try await inlineBody(messageID: id)
        }
    }
}
