import ArgumentParser
import Delivery
import Foundation
import GmailAPI
import RelayStore

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "Add, list and remove the Gmail accounts mail is sent through.",
        subcommands: [Add.self, List.self, Remove.self]
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
        @Option(help: "OAuth client ID.") var clientID: String?
        @Option(help: "OAuth client secret.") var clientSecret: String?
        @Option(help: "An existing refresh token for the client.") var refreshToken: String?
        @Option(help: "Google's downloaded OAuth client file.") var clientSecretFile: String?
        @Option(help: "Service account key file (JSON).") var serviceAccount: String?
        @Option(help: "The Workspace user the service account sends as.") var subject: String?
        @Option(name: .customLong("from"), help: "The account's address and verified send-as aliases (repeatable; the first is the primary).")
        var fromAddresses: [String] = []

        func validate() throws {
            let ways = [sandbox, clientID != nil || clientSecret != nil || refreshToken != nil, clientSecretFile != nil, serviceAccount != nil]
            guard ways.filter({ $0 }).count == 1 else {
                throw ValidationError("choose exactly one of --sandbox, --client-id/--client-secret, --client-secret-file, --service-account")
            }
            if clientID != nil || clientSecret != nil || refreshToken != nil {
                guard clientID != nil, clientSecret != nil else { throw ValidationError("--client-id and --client-secret go together") }
            }
            if subject != nil && serviceAccount == nil { throw ValidationError("--subject goes with --service-account") }
            for address in fromAddresses + [subject].compactMap({ $0 }) where !address.contains("@") {
                throw ValidationError("\(address): not an email address")
            }
        }

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try global.openStore(configuration)
            let kind: AccountKind
            var grant: StoredGrant?
            var state = AccountState.ok
            var addresses = fromAddresses
            if sandbox {
                kind = .sandbox
            } else if let path = serviceAccount {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                do { _ = try ServiceAccountKey(json: data) } catch { throw OperatorError("--service-account \(path): \(error)") }
                kind = .serviceAccount
                grant = .serviceAccount(keyJSON: String(decoding: data, as: UTF8.self), subject: subject)
                if let subject, !addresses.contains(where: { $0.lowercased() == subject.lowercased() }) { addresses.insert(subject, at: 0) }
            } else if let path = clientSecretFile {
                let (id, secret): (String, String)
                do {
                    (id, secret) = try StoredGrant.fromClientSecretFile(try Data(contentsOf: URL(fileURLWithPath: path)))
                } catch let error as StoredGrant.ClientFileError {
                    throw OperatorError(error.description)
                }
                kind = .oauthUser
                grant = .oauthClient(clientID: id, clientSecret: secret, refreshToken: nil)
                state = .needsReauth
            } else {
                kind = .oauthUser
                grant = .oauthClient(clientID: clientID!, clientSecret: clientSecret!, refreshToken: refreshToken)
                if refreshToken == nil { state = .needsReauth }
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
            let store = try global.openStore(configuration)
            let accounts = try await store.accounts()
            if json {
                let rows = accounts.map { AccountSummary(name: $0.name, kind: $0.kind.rawValue, addresses: $0.fromAddresses, state: $0.state.rawValue) }
                print(try JSONOutput.encode(rows))
                return
            }
            if accounts.isEmpty {
                FileHandle.standardError.write(Data("no accounts; add one with: gmail-relay account add NAME --sandbox\n".utf8))
                return
            }
            let table = accounts.map { [$0.name, $0.kind.rawValue, $0.fromAddresses.first ?? "-", $0.state.rawValue] }
            print(TextTable.render(header: ["NAME", "KIND", "ADDRESS", "STATE"], rows: table), terminator: "")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account and its SMTP logins (its send log stays).")
        @OptionGroup var global: GlobalOptions
        @Argument var name: String

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try global.openStore(configuration)
            try await store.removeAccount(named: name)
            print("account \(name) removed")
        }
    }
}

struct AccountSummary: Codable {
    let name: String
    let kind: String
    let addresses: [String]
    let state: String
}
