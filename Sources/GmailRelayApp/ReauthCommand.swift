import ArgumentParser
import Delivery
import Foundation
import GmailAPI
import RelayStore

struct ReauthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reauth",
        abstract: "Connect an OAuth account to Google: consent in a browser, then held mail goes out.",
        discussion: """
            Prints Google's consent address and waits for Google's redirect to http://127.0.0.1:PORT/. \
            On a server without a browser, open the address elsewhere and paste the address the browser ends on \
            (http://127.0.0.1:PORT/?state=...&code=...) here, or forward the port with ssh -L PORT:127.0.0.1:PORT.

            Nothing is stored unless the new grant can send and refreshes; a time-out or Ctrl-C leaves the old \
            grant as it was. See docs/reauth.md.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The account (made with --client-secret-file or --client-id/--client-secret).") var name: String
    @Flag(help: "Do not try to open a browser (xdg-open); just print the address.") var noBrowser = false
    @Option(help: "Port for the redirect listener on 127.0.0.1 (default: a free one).") var port: Int?
    @Option(
        parsing: .upToNextOption,
        help: "Scopes to ask for instead of gmail.send (short gmail.* names or full URLs); openid and email are always added.")
    var scopes: [String] = []
    @Option(help: "Seconds to wait for Google's redirect.") var timeout: Int = 300

    /// The scopes to request: the send scope(s) given (or gmail.send), then `openid email`.
    var requestedScopes: [String] {
        let given = scopes.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "," }) }.map { GmailScope.expand(String($0)) }
        var list = given.isEmpty ? [GmailScope.send] : given
        for scope in GmailScope.identity where !list.contains(scope) { list.append(scope) }
        return list
    }

    func validate() throws {
        if let port, !(1...65535).contains(port) { throw ValidationError("--port must be 1-65535") }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
        guard !GmailScope.sendCapable.isDisjoint(with: requestedScopes) else {
            throw ValidationError("--scopes must include a scope that can send: gmail.send (recommended), gmail.compose, gmail.modify or https://mail.google.com/")
        }
    }

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let store = try await global.openStore(configuration)
        guard let account = try await store.account(named: name) else {
            throw OperatorError("no account \(name) (see gmail-relay account list)")
        }
        let client = try await Self.oauthClient(of: account, store: store)
        var options = ReauthFlow.Options()
        options.port = port ?? 0
        options.scopes = requestedScopes
        options.timeout = .seconds(timeout)
        options.openBrowser = !noBrowser
        let terminal = Terminal()
        let flow = ReauthFlow(
            store: store, account: account, clientID: client.id, clientSecret: client.secret,
            endpoints: configuration.google.endpoints, options: options, terminal: terminal)
        let outcome: ReauthFlow.Outcome
        do {
            outcome = try await flow.run()
        } catch ReauthError.interrupted {
            FileHandle.standardError.write(Data("\(ReauthError.interrupted)\n".utf8))
            throw ExitCode(130)
        } catch let error as ReauthError {
            throw OperatorError(error.description)
        }

        let scopes = outcome.grantedScopes.sorted().map { $0.replacingOccurrences(of: "https://www.googleapis.com/auth/", with: "") }
        terminal.say("account \(name) reauthorized\(outcome.email.map { " as \($0)" } ?? ""); granted: \(scopes.joined(separator: " "))")
        if outcome.email == nil, account.fromAddresses.isEmpty {
            terminal.say("warning: Google did not say the account's address; set it with account add --from (or rerun with the email scope)")
        } else if let email = outcome.email, !account.fromAddresses.isEmpty,
                  !account.fromAddresses.contains(where: { $0.lowercased() == email.lowercased() }) {
            terminal.say("warning: the consent was given as \(email), but the account's from addresses are \(account.fromAddresses.joined(separator: ", ")); Gmail sends as \(email) unless they are its verified send-as aliases")
        }
        terminal.say("released \(outcome.released) held message(s) for delivery")
        let expiry = ISO8601.string(outcome.consentedAt.addingTimeInterval(7 * 86_400))
        terminal.say("note: if the OAuth app's consent screen is in Testing mode, Google ends this grant 7 days after consent (\(expiry)); publish the app to keep it (docs/reauth.md)")
    }

    /// The OAuth client stored with the account; other kinds have nothing to consent to.
    static func oauthClient(of account: Account, store: any RelayStoreAPI) async throws -> (id: String, secret: String) {
        switch account.kind {
        case .sandbox:
            throw OperatorError("\(account.name) is a sandbox account: it never signs in to Google. Add an OAuth account with: gmail-relay account add NAME --client-secret-file client.json")
        case .serviceAccount:
            throw OperatorError("\(account.name) is a service account: it signs in with its key and domain-wide delegation, there is no consent to renew")
        case .oauthUser:
            break
        }
        guard let data = try await store.accountSecret(named: account.name),
              case .some(.oauthClient(let id, let secret, _)) = try? StoredGrant.decode(data)
        else {
            throw OperatorError("\(account.name) has no OAuth client stored; remove it and add it again with --client-secret-file client.json")
        }
        return (id, secret)
    }
}
