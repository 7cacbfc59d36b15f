import ArgumentParser
import Foundation
import RelayStore

struct CredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential",
        abstract: "SMTP logins for CMS sites: each delivers only through its own account.",
        subcommands: [Add.self, Update.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an SMTP login. Without --password-stdin a strong password is generated and printed once."
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The SMTP username the site will use.") var username: String
        @Option(help: "The account this login sends through.") var account: String
        @Flag(help: "Read the password from standard input (one line).") var passwordStdin = false
        @Option(help: "Messages this login may send per UTC day (reset at 00:00 UTC); past it MAIL FROM gets 452 4.5.3.")
        var dailyLimit: Int?

        func validate() throws {
            if let dailyLimit, dailyLimit < 0 { throw ValidationError("--daily-limit: use 0 or more messages") }
        }

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
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
            if let dailyLimit { try await store.setCredentialDailyLimit(username: username, limit: dailyLimit) }
            if passwordStdin {
                print("login \(username) added for account \(account)")
            } else {
                // Only the password on stdout, so scripts can capture it; the words go to stderr.
                FileHandle.standardError.write(Data("login \(username) added for account \(account); its password (shown once, stored only as a hash):\n".utf8))
                print(password)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an SMTP login's daily message limit (one site cannot use up its account's Gmail quota)."
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The SMTP username.") var username: String
        @Option(help: "Messages this login may send per UTC day (reset at 00:00 UTC); past it MAIL FROM gets 452 4.5.3.")
        var dailyLimit: Int?
        @Flag(help: "Remove the login's daily limit.") var noDailyLimit = false

        func validate() throws {
            guard (dailyLimit != nil) != noDailyLimit else { throw ValidationError("give --daily-limit N or --no-daily-limit") }
            if let dailyLimit, dailyLimit < 0 { throw ValidationError("--daily-limit: use 0 or more messages") }
        }

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            try await store.setCredentialDailyLimit(username: username, limit: dailyLimit)
            // A session already logged in keeps the limit it had at AUTH for whether it is checked;
            // the number is read at each MAIL FROM of a limited login.
            print(dailyLimit.map { "login \(username): daily limit \($0) messages (resets at 00:00 UTC)" } ?? "login \(username): no daily limit")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List SMTP logins (never their passwords).")
        @OptionGroup var global: GlobalOptions
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            let credentials = try await store.credentials()
            if json {
                print(try JSONOutput.encode(credentials))
                return
            }
            let table: [[String]] = credentials.map {
                [$0.username, $0.account, ISO8601.string($0.createdAt), $0.lastUsedAt.map(ISO8601.string) ?? "never",
                 "\($0.sentToday)", $0.dailyLimit.map { "\($0)" } ?? "none"]
            }
            // TODAY counts messages accepted since 00:00 UTC, the same count the daily limit uses.
            print(TextTable.render(header: ["USERNAME", "ACCOUNT", "CREATED", "LAST USED", "TODAY (UTC)", "DAILY LIMIT"], rows: table), terminator: "")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an SMTP login.")
        @OptionGroup var global: GlobalOptions
        @Argument var username: String

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            try await store.removeCredential(username: username)
            print("login \(username) removed")
        }
    }
}

