import ArgumentParser
import Delivery
import Foundation
import GmailAPI
import RelayStore
import RelayVocabulary

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Add, change, list and remove the Gmail accounts mail is sent through.",
        subcommands: [Add.self, Update.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account.",
            discussion: """
                One way to sign in to Google:
                  --client-id ID --client-secret SECRET [--refresh-token TOKEN]  import an existing grant
                  --client-secret-file FILE       Google's OAuth client JSON; then run `gmail-relay reauth NAME`
                  --service-account KEY.json --subject USER@DOMAIN   domain-wide delegation
                  --sandbox                       everything but the call to Google
                Secrets are stored encrypted (data.dir/secret.key) and never printed.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Account name (letters, digits, . _ -).") var name: String
        @Flag(help: "Sandbox account: no call to Google.") var sandbox = false
        @OptionGroup var signIn: SignInOptions

        func validate() throws {
            let ways = [sandbox, signIn.namesClient, signIn.clientSecretFile != nil, signIn.serviceAccount != nil]
            guard ways.filter({ $0 }).count == 1 else {
                throw ValidationError("choose exactly one of --sandbox, --client-id/--client-secret, --client-secret-file, --service-account")
            }
            if signIn.namesClient && signIn.clientID == nil { throw ValidationError("--client-id and --client-secret go together") }
            if signIn.subject != nil && signIn.serviceAccount == nil { throw ValidationError("--subject goes with --service-account") }
            try signIn.validateCommon()
        }

        mutating func run() async throws {
            try signIn.readSecretsFromStandardInput()
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            let kind: AccountKind
            var grant: StoredGrant?
            var state = AccountState.ok
            var addresses = signIn.fromAddresses
            let subject = signIn.subject
            if sandbox {
                kind = .sandbox
            } else if let keyJSON = try signIn.serviceAccountKeyJSON() {
                kind = .serviceAccount
                grant = .serviceAccount(keyJSON: keyJSON, subject: subject)
                if let subject, !addresses.contains(where: { $0.lowercased() == subject.lowercased() }) { addresses.insert(subject, at: 0) }
            } else if let (id, secret) = try signIn.clientFromFile() {
                kind = .oauthUser
                grant = .oauthClient(clientID: id, clientSecret: secret, refreshToken: nil)
                state = .needsReauth
            } else {
                kind = .oauthUser
                grant = .oauthClient(clientID: signIn.clientID!, clientSecret: signIn.clientSecret!, refreshToken: signIn.refreshToken)
                if signIn.refreshToken == nil { state = .needsReauth }
            }
            try await store.addAccount(name: name, kind: kind, fromAddresses: addresses, secret: try grant?.encoded(), state: state)
            print("account \(name) added (\(kind.rawValue))")
            if state == .needsReauth {
                print("next: gmail-relay reauth \(name)   (Google's consent; mail for this account is held until then)")
            }
            if kind == .serviceAccount && subject == nil {
                print("warning: no --subject; Gmail refuses service accounts that do not impersonate a user (400 failedPrecondition)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts (never their secrets).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            let accounts = try await store.accounts()
            if json {
                let rows = accounts.map {
                    AccountSummary(name: $0.name, kind: $0.kind.rawValue, addresses: $0.fromAddresses, state: $0.state.rawValue, fallback: $0.fallback)
                }
                print(try JSONOutput.encode(rows))
                return
            }
            if accounts.isEmpty {
                FileHandle.standardError.write(Data("no accounts; add one with: gmail-relay account add NAME --sandbox\n".utf8))
                return
            }
            let table = accounts.map { [$0.name, $0.kind.rawValue, $0.fromAddresses.first ?? "-", $0.state.rawValue, $0.fallback ?? "-"] }
            print(TextTable.render(header: ["NAME", "KIND", "ADDRESS", "STATE", "FALLBACK"], rows: table), terminator: "")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an account and its SMTP logins (its send log stays).",
            discussion: """
                --revoke first revokes the stored grant at Google (google.revoke_url), so the refresh token stops \
                working everywhere. Google answering that it is already expired or revoked counts as done. If the \
                revocation fails (no answer, another error) the account is kept, so it can be tried again: removing \
                it would throw away the only copy of the token the relay could revoke.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument var name: String
        @Flag(help: "Revoke the account's Google grant before removing it.") var revoke = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            guard let account = try await store.account(named: name) else {
                throw OperatorError("no account \(name) (see gmail-relay account list)")
            }
            if revoke {
                try await revokeGrant(of: account, store: store, endpoint: configuration.google.revokeURL)
            }
            let removal = try await store.removeAccount(named: name)
            print("account \(name) removed (\(removal.credentialsRemoved) SMTP login(s); \(removal.messagesFailed) waiting message(s) failed)")
        }

        private func revokeGrant(of account: Account, store: any RelayStoreAPI, endpoint: URL) async throws {
            let grant = try await store.accountSecret(named: account.name).flatMap { try? StoredGrant.decode($0) }
            guard case .some(.oauthClient(_, _, let refreshToken?)) = grant else {
                switch account.kind {
                case .serviceAccount:
                    print("nothing to revoke: a service account has no consent; delete its key in the Google Cloud console if it should stop working")
                case .sandbox:
                    print("nothing to revoke: a sandbox account has no Google grant")
                case .oauthUser:
                    print("nothing to revoke: no refresh token is stored for \(account.name)")
                }
                return
            }
            switch await TokenRevocation.revoke(token: refreshToken, endpoint: endpoint, transport: HTTPTransport(timeout: 30)) {
            case .revoked:
                print("revoked the Google grant of \(account.name)")
            case .alreadyInvalid:
                print("the Google grant of \(account.name) was already expired or revoked (invalid_token)")
            case .failed(let call):
                throw OperatorError(
                    "could not revoke the Google grant of \(account.name): \(GoogleExplanation.describe(call)). "
                    + "The account was not removed; run the command again, or remove it without --revoke and remove the app's "
                    + "access at https://myaccount.google.com/permissions")
            }
        }
    }
}

struct AccountSummary: Codable {
    let name: String
    let kind: String
    let addresses: [String]
    let state: String
    let fallback: String?

    // `fallback` is null when there is none: every key is always present.
    enum CodingKeys: String, JSONFormKey { case name, kind, addresses, state, fallback }
}
