import ArgumentParser
import Delivery
import Foundation
import GmailAPI
import MessageRewrite
import RelayConfig
import RelayStore
import RelayVocabulary

/// The Google side of a command: endpoints, one transport, and each account's token cache.
struct GoogleAccess {
    let configuration: RelayConfiguration
    let store: any RelayStoreAPI
    let endpoints: GoogleEndpoints
    let transport = HTTPTransport(timeout: 30)
    let tokens: AccountTokens

    init(configuration: RelayConfiguration, store: any RelayStoreAPI) {
        self.configuration = configuration
        self.store = store
        self.endpoints = configuration.google.endpoints
        self.tokens = AccountTokens(store: store, endpoints: endpoints, transport: transport, metrics: RelayMetrics())
    }

    func account(_ name: String) async throws -> Account {
        guard let account = try await store.account(named: name) else {
            throw OperatorError("no account named \(name); `gmail-relay account list` shows the accounts")
        }
        return account
    }
}

/// One line of `doctor`'s verdict.
struct Check {
    enum Verdict: String { case ok = "ok", warn = "WARN", fail = "FAIL" }
    var verdict: Verdict
    var name: String
    var text: String

    var line: String { "  \(verdict.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0))  \(name): \(text)" }
}

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Live checks of an account against Google: token refresh, granted scopes, address.",
        discussion: """
            Asks Google for a fresh access token, then tokeninfo for the scopes and address it carries.
            (Send-as aliases are not read: users.settings.sendAs refuses gmail.send-only tokens.)
            Exits 1 when a check fails; the account's state is updated from what Google said.
            """
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The account (default: every account).") var name: String?

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let store = try await global.openStore(configuration)
        let access = GoogleAccess(configuration: configuration, store: store)
        let accounts: [Account]
        if let name { accounts = [try await access.account(name)] } else { accounts = try await store.accounts() }
        var failed = false
        for account in accounts {
            let checks = await Self.checks(account, access: access)
            print("account \(account.name) (\(account.kind.rawValue)):")
            for check in checks { print(check.line) }
            if checks.contains(where: { $0.verdict == Check.Verdict.fail }) { failed = true }
        }
        if failed { throw ExitCode(1) }
    }

    static func checks(_ account: Account, access: GoogleAccess) async -> [Check] {
        if account.kind == .sandbox {
            return [Check(verdict: .ok, name: "sandbox", text: "no call to Google; messages are recorded as sent")]
        }
        var checks: [Check] = []
        let entry: AccountTokens.Entry
        do {
            entry = try await access.tokens.entry(for: account)
            checks.append(Check(verdict: .ok, name: "stored grant", text: "present and readable"))
        } catch let unavailable as AccountTokens.Unavailable {
            let text = unavailable == .noGrant
                ? "no refresh token yet: run `gmail-relay reauth \(account.name)`"
                : "the stored secret cannot be read (\(unavailable.problem.rawValue)); is GMAIL_RELAY_SECRET_KEY_FILE the key it was stored with?"
            return [Check(verdict: .fail, name: "stored grant", text: text)]
        } catch {
            return [Check(verdict: .fail, name: "stored grant", text: "\(error)")]
        }
        if case .serviceAccount(_, let subject) = entry.grant, subject == nil {
            checks.append(Check(verdict: .warn, name: "subject", text: "no --subject: Gmail refuses a service account acting as itself (400 failedPrecondition); add the account again with --subject USER@YOUR-DOMAIN"))
        }

        let token: AccessToken
        do {
            token = try await entry.cache.freshToken()
            checks.append(Check(verdict: .ok, name: "token refresh", text: "Google issued an access token valid until \(ISO8601.string(token.expiresAt))"))
            try? await access.store.setTokenExpiry(name: account.name, expiresAt: token.expiresAt, scopes: nil)
        } catch {
            let classification = entry.grant.classify(FailedCall(tokenError: error), consentedAt: account.consentedAt, now: Date())
            checks.append(Check(verdict: .fail, name: "token refresh",
                                text: "\(classification.problem.rawValue): \(classification.problem.summary). Google said: \(classification.detail.rawBody.trimmingCharacters(in: .whitespacesAndNewlines))"))
            if classification.holdsAccount {
                try? await access.store.setAccountState(
                    name: account.name, state: RetryPolicy.accountState(for: classification),
                    problemCode: classification.problem, detail: nil)
            }
            return checks
        }

        switch await TokenInfo.fetch(accessToken: token.value, endpoints: access.endpoints, transport: access.transport) {
        case .success(let info):
            try? await access.store.setTokenExpiry(name: account.name, expiresAt: token.expiresAt, scopes: info.scopes.sorted())
            let granted = info.scopes.sorted().joined(separator: " ")
            if info.canSend {
                checks.append(Check(verdict: .ok, name: "scopes", text: "can send (granted: \(granted))"))
            } else {
                checks.append(Check(verdict: .fail, name: "scopes", text: "no scope that allows sending (granted: \(granted.isEmpty ? "none" : granted)); needed: \(GmailScope.send). Run `gmail-relay reauth \(account.name)` and leave the Gmail box ticked"))
                try? await access.store.setAccountState(name: account.name, state: .needsReauth,
                                                        problemCode: .scopeInsufficient, detail: nil)
            }
            if let email = info.email {
                let known = account.fromAddresses.contains { $0.lowercased() == email.lowercased() }
                checks.append(Check(verdict: known ? .ok : .warn, name: "address",
                                    text: known ? "token belongs to \(email)" : "token belongs to \(email), which is not among the account's from addresses (\(account.fromAddresses.joined(separator: ", "))); Gmail rewrites any other From to it"))
            } else {
                checks.append(Check(verdict: .ok, name: "address", text: "not reported (no email scope granted)"))
            }
        case .failure(let call):
            checks.append(Check(verdict: .warn, name: "tokeninfo", text: "could not read the token's scopes: \(call.description)"))
        }

        if account.kind == .oauthUser, let consented = account.consentedAt {
            let days = Date().timeIntervalSince(consented) / 86_400
            if days > 5 && days < 7 {
                checks.append(Check(verdict: .warn, name: "consent age", text: String(format: "consent given %.1f days ago: if the OAuth app is in Testing mode the grant dies at 7 days; publish the consent screen, then `gmail-relay reauth \(account.name)`", days)))
            }
        }
        return checks
    }
}

struct SendTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test",
        abstract: "Send one test message straight through the Gmail API (not through the queue).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "The account to send through.") var account: String
    @Option(help: "The recipient.") var to: String

    func validate() throws {
        guard to.contains("@"), !to.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "," }) else {
            throw ValidationError("--to: one email address")
        }
    }

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let store = try await global.openStore(configuration)
        let access = GoogleAccess(configuration: configuration, store: store)
        let account = try await access.account(self.account)
        guard account.kind != .sandbox else { throw OperatorError("\(account.name) is a sandbox account: it never calls Google") }
        let entry: AccountTokens.Entry
        do {
            entry = try await access.tokens.entry(for: account)
        } catch let unavailable as AccountTokens.Unavailable {
            throw OperatorError("\(account.name): \(unavailable.problem.rawValue); `gmail-relay doctor \(account.name)` explains")
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("gmail-relay-send-test-\(UUID().uuidString).eml")
        defer { try? FileManager.default.removeItem(at: file) }
        let from = account.primaryAddress.map { "From: \($0)\r\n" } ?? ""
        let text = "\(from)To: \(to)\r\nSubject: gmail-relay test message\r\nDate: \(RFC5322Date.string(from: Date()))\r\n"
            + "Message-ID: <send-test.\(UUID().uuidString.lowercased())@\(configuration.smtp.hostname)>\r\n"
            + "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + "This is a test message from gmail-relay, account \(account.name).\r\n"
        try Data(text.utf8).write(to: file)
        let (outcome, _) = await GmailSender(endpoints: access.endpoints, transport: access.transport).send(messageFile: file, tokens: entry.cache)
        switch outcome {
        case .sent(let gmailID, _, _):
            print("sent as \(gmailID) to \(to) through \(account.name)")
        case .failed(let call):
            let classification = entry.grant.classify(call, consentedAt: account.consentedAt, now: Date())
            print("not sent: \(classification.problem.rawValue): \(classification.problem.summary)")
            print(call.description)
            throw ExitCode(1)
        }
    }
}
