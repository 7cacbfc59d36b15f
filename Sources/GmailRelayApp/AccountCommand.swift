import ArgumentParser
import Foundation
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
            discussion: "--sandbox makes an account whose mail goes through every step except the call to Google; it is recorded as sent. Use it to wire up a CMS before Gmail is connected."
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Account name (letters, digits, . _ -).") var name: String
        @Flag(help: "Sandbox account: no call to Google.") var sandbox = false
        @Option(name: .customLong("from"), help: "The account's address and verified send-as aliases (repeatable; the first is the primary).")
        var fromAddresses: [String] = []

        func validate() throws {
            guard sandbox else {
                throw ValidationError("choose how the account signs in to Google; this build supports --sandbox")
            }
            for address in fromAddresses where !address.contains("@") {
                throw ValidationError("--from \(address): not an email address")
            }
        }

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try global.openStore(configuration)
            try await store.addAccount(name: name, kind: .sandbox, fromAddresses: fromAddresses, secret: nil, state: .ok)
            print("account \(name) added (sandbox)")
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
