import Foundation
import ProblemCatalogue
import RelayStore
import RelayVocabulary

/// Builds `StatusReport`s and message documents from the store, explaining every problem code with the
/// catalogue. Shared by the web server, `gmail-relay status` and the alert watcher.
public struct StatusReporter: Sendable {
    public typealias SubjectLookup = @Sendable (Account) async -> String?

    public let store: any MessageStore & AccountStore & CredentialStore
    let subject: SubjectLookup
    let certificate: @Sendable () -> ServedCertificate?
    let clock: @Sendable () -> Date
    /// The relays sharing the store and how long a silent one stays `up`; nil on SQLite.
    public let fleet: Fleet?

    public struct Fleet: Sendable {
        public var relays: @Sendable () async throws -> [RelayRecord]
        public var goneAfter: TimeInterval

        public init(relays: @escaping @Sendable () async throws -> [RelayRecord], goneAfter: TimeInterval) {
            self.relays = relays
            self.goneAfter = goneAfter
        }
    }

    /// - Parameter subject: the user a service account impersonates (kept in its sealed grant, which
    ///   only the app layer opens); nil when it has none.
    /// - Parameter certificate: the SMTP certificate being served, nil without TLS; checked for its end.
    public init(
        store: any MessageStore & AccountStore & CredentialStore, subject: @escaping SubjectLookup = { _ in nil },
        certificate: @escaping @Sendable () -> ServedCertificate? = { nil }, clock: @escaping @Sendable () -> Date = { Date() },
        fleet: Fleet? = nil
    ) {
        self.fleet = fleet
        self.store = store
        self.subject = subject
        self.certificate = certificate
        self.clock = clock
    }

    public func report() async throws -> StatusReport {
        let accounts = try await store.accounts()
        let counts = try await store.messageCountsByAccount()
        let now = clock()
        let states = Dictionary(accounts.map { ($0.name, $0.state) }, uniquingKeysWith: { first, _ in first })
        var statuses: [AccountStatus] = []
        for account in accounts {
            // The same rule as delivery's (RelayStore.usableFallback), on the accounts just read.
            let fallbackInUse = account.state.isCoveredByFallback && account.fallback.flatMap { states[$0] } == .ok
            let context = await context(for: account, now: now)
            statuses.append(AccountStatus(
                name: account.name, email: account.primaryAddress, kind: account.kind,
                state: account.state, tokenExpiresAt: account.tokenExpiresAt,
                lastSuccessAt: account.lastSuccessAt, consentedAt: account.consentedAt, checkedAt: account.checkedAt,
                problem: Self.problem(of: account, context: context),
                messages: counts[account.name] ?? AccountMessageCounts(),
                warning: try await grantWarning(for: account, now: now),
                fallback: account.fallback, fallbackInUse: fallbackInUse,
                warnings: Self.warnings(for: account, knownTesting: try await knownTestingExpiry(account), context: context)))
        }
        var relays: [RelayStatus] = []
        if let fleet {
            relays = try await fleet.relays().map { RelayStatus($0, now: now, goneAfter: fleet.goneAfter) }
        }
        return StatusReport(
            accounts: statuses, queue: try await store.queueCounts(),
            relayProblems: [CertificateCheck.problem(certificate(), now: now)].compactMap { $0 },
            logins: try await store.credentials().map(LoginStatus.init),
            relays: relays)
    }

    /// The account's facts for the catalogue's templates.
    public func context(for account: Account, now: Date? = nil, messageID: Int64? = nil) async -> ProblemContext {
        ProblemContext(
            accountName: account.name, accountKind: account.kind,
            address: account.primaryAddress,
            subject: account.kind == .serviceAccount ? await subject(account) : nil,
            consentedAt: account.consentedAt, detail: account.problemDetail,
            grantedScopes: account.grantedScopes, messageID: messageID, now: now ?? clock())
    }

    /// The explained problem of an account, or nil when it can send.
    public static func problem(of account: Account, context: ProblemContext) -> Explanation? {
        // An ok account may carry a code too: it works but waits (a rate or daily limit).
        if let code = account.problemCode {
            return ProblemCatalogue.explain(code: code, context: context)
        }
        switch account.state {
        case .ok, .blocked: return nil
        case .needsReauth, .unconfigured:
            return ProblemCatalogue.explain(code: .grantMissing, context: context)
        }
    }

    /// Grants of OAuth apps in Testing mode end 7 days after consent (docs/google-api.md 4.3 item 5). The relay
    /// cannot ask Google for the app's publishing status, so: a definite warning when this account's grant
    /// already ended that way once, a note otherwise that turns into a warning in the last two days.
    func grantWarning(for account: Account, now: Date) async throws -> GrantWarning? {
        guard account.kind == .oauthUser, account.state == .ok, let consented = account.consentedAt else { return nil }
        let end = consented.addingTimeInterval(7 * 86_400)
        guard end > now else { return nil }
        let knownTesting = try await knownTestingExpiry(account)
        let when = "\(ISO8601.string(end)) (in \(Self.span(end.timeIntervalSince(now))))"
        if knownTesting {
            return GrantWarning(
                level: "warning", expiresAt: end,
                text: "This account's last grant ended after 7 days because its OAuth app was in Testing mode. If the app is still in Testing, this grant ends on \(when): publish the consent screen now (Google Auth Platform → Audience → Publish app), then run `gmail-relay reauth \(account.name)`.")
        }
        let level = end.timeIntervalSince(now) <= 2 * 86_400 ? "warning" : "note"
        return GrantWarning(
            level: level, expiresAt: end,
            text: "If this account's OAuth app is in Testing mode, Google ends this grant on \(when), 7 days after consent. Publishing the consent screen (Google Auth Platform → Audience → Publish app) and then running `gmail-relay reauth \(account.name)` avoids it.")
    }

    /// Whether this account's grant already ended once because its app was in Testing mode (the
    /// account's own history records the state change with `testing_mode_expiry` in its problem field).
    func knownTestingExpiry(_ account: Account) async throws -> Bool {
        guard account.kind == .oauthUser else { return false }
        return try await store.accountHadProblem(account.name, .testingModeExpiry)
    }

    /// The warnings of an account that can still send, explained by the catalogue (`context.now` is the clock):
    /// - a service-account key the relay stored more than 90 days ago (`service_account_key_old`);
    /// - a grant of an account whose last grant ended after 7 days (Testing mode), from its day 5 until
    ///   it ends (`grant_testing_expiry_soon`).
    public static func warnings(for account: Account, knownTesting: Bool, context: ProblemContext) -> [Explanation] {
        var found: [Explanation] = []
        let now = context.now
        if account.kind == .serviceAccount, account.hasSecret, let stored = account.secretStoredAt,
           now.timeIntervalSince(stored) > AccountWarnings.keyMaximumAge {
            var c = context
            c.keyStoredAt = stored
            found.append(ProblemCatalogue.explain(code: .serviceAccountKeyOld, context: c))
        }
        if account.kind == .oauthUser, account.state == .ok, knownTesting, let consented = account.consentedAt {
            let age = now.timeIntervalSince(consented)
            if age >= AccountWarnings.testingWarningAfter, age < AccountWarnings.testingGrantLifetime {
                found.append(ProblemCatalogue.explain(code: .grantTestingExpirySoon, context: context))
            }
        }
        return found
    }

    static func span(_ seconds: TimeInterval) -> String {
        let hours = Int(seconds / 3600)
        if hours < 48 { return "\(max(hours, 0)) h" }
        return "\(hours / 24) days"
    }
}
