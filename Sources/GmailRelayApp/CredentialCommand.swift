import ArgumentParser
import Foundation
import RelayStore

struct CredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential",
        abstract: "SMTP logins for CMS sites: each delivers only through its own account.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an SMTP login. Without --password-stdin a strong password is generated and printed once."
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The SMTP username the site will use.") var username: String
        @Option(help: "The account this login sends through.") var account: String
        @Flag(help: "Read the password from standard input (one line).") var passwordStdin = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try global.openStore(configuration)
            let password: String
            if passwordStdin {
                guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                    throw ValidationError("--password-stdin: no password on standard input")
                }
                password = line
            } else {
                password = RelayStore.generatePassword()
            }
            try await store.addCredential(username: username, account: account, password: password, generated: !passwordStdin)
            if passwordStdin {
                print("login \(username) added for account \(account)")
            } else {
                // Only the password on stdout, so scripts can capture it; the words go to stderr.
                FileHandle.standardError.write(Data("login \(username) added for account \(account); its password (shown once, stored only as a hash):\n".utf8))
                print(password)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List SMTP logins (never their passwords).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try global.openStore(configuration)
            let credentials = try await store.credentials()
            if json {
                print(try JSONOutput.encode(credentials))
                return
            }
            let table: [[String]] = credentials.map {
                [$0.username, $0.account, ISO8601.string($0.createdAt), $0.lastUsedAt.map(ISO8601.string) ?? "never"]
            }
            print(TextTable.render(header: ["USERNAME", "ACCOUNT", "CREATED", "LAST USED"], rows: table), terminator: "")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an SMTP login.")
        @OptionGroup var global: GlobalOptions
        @Argument var username: String

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try global.openStore(configuration)
            try await store.removeCredential(username: username)
            print("login \(username) removed")
        }
    }
}

