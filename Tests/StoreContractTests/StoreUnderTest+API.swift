import Foundation
import RelayVocabulary
import StoreModel

/// The store API with the SQLite store's default arguments, forwarded to `any RelayStoreAPI`, and the
/// product's paths as the tests drive them (accepting through the intake, claiming as the worker does).
extension StoreUnderTest {
    // MARK: Accounts

    @discardableResult
    func addAccount(
        name: String, kind: AccountKind, fromAddresses: [String] = [], secret: Data? = nil, state: AccountState = .unconfigured
    ) async throws -> Account {
        try await api.addAccount(name: name, kind: kind, fromAddresses: fromAddresses, secret: secret, state: state)
    }

    func account(named name: String) async throws -> Account? { try await api.account(named: name) }
    func accounts() async throws -> [Account] { try await api.accounts() }

    @discardableResult
    func removeAccount(named name: String) async throws -> AccountRemoval { try await api.removeAccount(named: name) }

    func setAccountState(name: String, state: AccountState, problemCode: ProblemCode? = nil, detail: ProblemDetail? = nil) async throws {
        try await api.setAccountState(name: name, state: state, problemCode: problemCode, detail: detail)
    }

    func accountSecret(named name: String) async throws -> Data? { try await api.accountSecret(named: name) }

    func setTokenExpiry(name: String, expiresAt: Date?, scopes: [String]? = nil) async throws {
        try await api.setTokenExpiry(name: name, expiresAt: expiresAt, scopes: scopes)
    }

    @discardableResult
    func updateAccount(_ update: AccountUpdate) async throws -> Int { try await api.updateAccount(update) }

    func recordReauthorization(name: String, secret: Data, consentedAt: Date, address: String?) async throws -> Reauthorization {
        try await api.recordReauthorization(name: name, secret: secret, consentedAt: consentedAt, address: address)
    }

    @discardableResult
    func recordGrantCheck(name: String, at date: Date, _ check: GrantCheck) async throws -> Int {
        try await api.recordGrantCheck(name: name, at: date, check)
    }

    @discardableResult
    func setFallback(account name: String, to fallback: String?) async throws -> Int {
        try await api.setFallback(account: name, to: fallback)
    }

    func usableFallback(for name: String) async throws -> Account? { try await api.usableFallback(for: name) }

    // MARK: Credentials

    func addCredential(username: String, account: String, password: String, generated: Bool = false) async throws {
        try await api.addCredential(username: username, account: account, password: password, generated: generated)
    }

    func checkCredential(username: String, password: String) async throws -> CredentialCheck {
        try await api.checkCredential(username: username, password: password)
    }

    func credentials() async throws -> [Credential] { try await api.credentials() }
    func credential(username: String) async throws -> Credential? { try await api.credential(username: username) }
    func removeCredential(username: String) async throws { try await api.removeCredential(username: username) }
    func setCredentialDailyLimit(username: String, limit: Int?) async throws {
        try await api.setCredentialDailyLimit(username: username, limit: limit)
    }
    func dailyUsage(username: String) async throws -> DailyUsage { try await api.dailyUsage(username: username) }

    /// An SMTP login as the SMTP server checks it (`checkCredential`): the login, or nil.
    ///
    /// `.busy` (too many slow checks and hashes waiting on the process-wide KDF threads: the SMTP layer
    /// says 454 and the client tries again) is tried again here too. The suites run in parallel, on both
    /// stores at once, and share those threads, so a test can meet another test's hashing; a busy answer
    /// runs no check (no slow-check count), so retrying changes nothing a test asserts.
    func verifiedLogin(username: String, password: String) async throws -> VerifiedCredential? {
        for _ in 0..<2_000 {
            switch try await checkCredential(username: username, password: password) {
            case .valid(let login): return login
            case .invalid: return nil
            case .busy: try await Task.sleep(for: .milliseconds(10))
            }
        }
        throw KDFStillBusy()
    }

    // MARK: Messages

    func message(id: Int64) async throws -> MessageRecord? { try await api.message(id: id) }

    func messages(
        status: MessageStatus? = nil, account: String? = nil, query: String? = nil, limit: Int = 50, offset: Int = 0
    ) async throws -> [MessageRecord] {
        try await api.messages(status: status, account: account, query: query, limit: limit, offset: offset)
    }

    func inlineBody(messageID id: Int64) async throws -> [UInt8]? { try await api.inlineBody(messageID: id) }
    func attempts(messageID: Int64) async throws -> [AttemptRecord] { try await api.attempts(messageID: messageID) }
    func events(messageID: Int64) async throws -> [EventRecord] { try await api.events(messageID: messageID) }
    func events(account: String, limit: Int = 50) async throws -> [EventRecord] { try await api.events(account: account, limit: limit) }
    func accountHadProblem(_ account: String, _ problem: ProblemCode) async throws -> Bool {
        try await api.accountHadProblem(account, problem)
    }
    func queueCounts() async throws -> QueueCounts { try await api.queueCounts() }
    func messageCountsByAccount() async throws -> [String: AccountMessageCounts] { try await api.messageCountsByAccount() }
    func oldestWaiting() async throws -> [MessageStatus: Date] { try await api.oldestWaiting() }
    func nextDueDate() async throws -> Date? { try await api.nextDueDate() }
    func hourlyCounts(hours: Int) async throws -> [HourlyCounts] { try await api.hourlyCounts(hours: hours) }
    func dueCounts(limit: Int) async throws -> [String: Int] { try await api.dueCounts(limit: limit) }
    func claimDue(limit: Int, capacities: [String: Int]) async throws -> [MessageRecord] {
        try await api.claimDue(limit: limit, capacities: capacities)
    }

    @discardableResult
    func finishAttempt(_ report: AttemptReport) async throws -> AttemptEffects { try await api.finishAttempt(report) }

    func markStatus(
        id: Int64, status: MessageStatus, problemCode: ProblemCode? = nil, nextAttemptAt: Date? = nil, detail: String? = nil
    ) async throws {
        try await api.markStatus(id: id, status: status, problemCode: problemCode, nextAttemptAt: nextAttemptAt, detail: detail)
    }

    @discardableResult
    func requeueInterrupted() async throws -> Int { try await api.requeueInterrupted() }
    func retry(id: Int64) async throws { try await api.retry(id: id) }
    @discardableResult
    func retryAll() async throws -> Int { try await api.retryAll() }
    func discard(id: Int64, detail: String = "discarded by operator") async throws { try await api.discard(id: id, detail: detail) }
    @discardableResult
    func purge(before date: Date) async throws -> PurgeResult { try await api.purge(before: date) }

    // MARK: The product's paths

    /// Accepts one message the way SMTP does: through the store's intake.
    func accept(_ message: NewMessage) async throws -> Int64 {
        try await intake.accept(message).id
    }

    func deliveryInputs(for messages: [MessageRecord]) async throws -> DeliveryInputs { try await api.deliveryInputs(for: messages) }

    /// Claims due messages as the worker does, with `perAccount` slots reserved for each account that
    /// has due mail.
    func claimAll(limit: Int = 1000, perAccount: Int = 1000) async throws -> [MessageRecord] {
        let due = try await dueCounts(limit: limit)
        return try await claimDue(limit: limit, capacities: due.mapValues { min($0, perAccount) })
    }

    /// A send through the account worked, as `finishAttempt` records it: a message accepted `.sending`
    /// (synchronous path), sent, and the account's success.
    func recordSuccess(account: String) async throws {
        let id = try await accept(spoolMessage(self, account: account, status: .sending))
        try await finishAttempt(AttemptReport(messageID: id, account: account, outcome: .sent(gmailID: "g-\(id)"),
                                              accountChange: .succeeded(at: now)))
    }

    /// Ends an attempt on a message being sent (accepted `.sending` or claimed), as the deliverer does.
    @discardableResult
    func finish(_ id: Int64, _ outcome: AttemptReport.Outcome, attempts: [NewAttempt] = []) async throws -> AttemptEffects {
        guard let account = try await message(id: id)?.account else { throw StoreError.unknownMessage(id) }
        return try await finishAttempt(AttemptReport(messageID: id, account: account, attempts: attempts, outcome: outcome))
    }
}

/// The NewMessage the SMTP layer hands over for a small message: its body inline, which every store
/// keeps (SQLite in message_bodies, PostgreSQL in its chunks), so no test depends on a spool directory.
func spoolMessage(
    _ store: StoreUnderTest, account: String = "main", body: String = "Subject: hi\r\n\r\nbody\r\n",
    from: String = "wordpress@example.org", to: [String] = ["alice@example.com"], subject: String? = "hi",
    status: MessageStatus = .queued, credentialUsername: String? = "site1"
) -> NewMessage {
    NewMessage(
        account: account, credentialUsername: credentialUsername, peer: "127.0.0.1:50000", tls: false, mailFrom: from,
        recipients: to, subject: subject, messageID: "<\(UUID().uuidString)@example.org>",
        size: Int64(body.utf8.count), spoolPath: nil, inlineBody: Array(body.utf8), sandbox: false, status: status)
}

/// The KDF threads stayed busy for 20 s: something is stuck, not merely busy.
struct KDFStillBusy: Error, CustomStringConvertible {
    var description: String { "checkCredential answered .busy for 20 seconds" }
}
