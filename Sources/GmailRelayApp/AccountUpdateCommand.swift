import ArgumentParser
import Delivery
import Foundation
import GmailAPI
import RelayStore

extension AccountCommand {
    /// Replaces how an account signs in (a new key, subject or OAuth client) or its from addresses,
    /// without removing it: removing would fail its held mail, updating gives that mail another try.
    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an account's key, subject, OAuth client or from addresses; held mail is tried again.",
            discussion: """
                Service accounts: --service-account KEY.json and/or --subject USER@DOMAIN.
                OAuth accounts: --client-secret-file FILE (then `gmail-relay reauth NAME`), or
                --client-id ID --client-secret SECRET [--refresh-token TOKEN].
                Any account: --from ADDRESS (repeatable) replaces the from addresses.
                When the account can sign in afterwards, it is marked ok and its held mail is queued again;
                if Google still refuses, the mail is held again with the new answer.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account.") var name: String
        @Option(help: "A new service account key file (JSON).") var serviceAccount: String?
        @Option(help: "The Workspace user the service account sends as.") var subject: String?
        @Option(help: "Google's downloaded OAuth client file.") var clientSecretFile: String?
        @Option(help: "OAuth client ID.") var clientID: String?
        @Option(help: "OAuth client secret.") var clientSecret: String?
        @Option(help: "A refresh token issued to that client.") var refreshToken: String?
        @Option(name: .customLong("from"), help: "The account's address and verified send-as aliases (repeatable; replaces them).")
        var fromAddresses: [String] = []

        func validate() throws {
            let grantOptions = [serviceAccount, subject, clientSecretFile, clientID, clientSecret, refreshToken].compactMap { $0 }
            guard !grantOptions.isEmpty || !fromAddresses.isEmpty else {
                throw ValidationError("nothing to change: give a new key, subject, client or --from")
            }
            if (serviceAccount != nil || subject != nil) && (clientSecretFile != nil || clientID != nil || clientSecret != nil || refreshToken != nil) {
                throw ValidationError("--service-account/--subject are for service accounts, the client options for OAuth accounts")
            }
            if clientSecretFile != nil && (clientID != nil || clientSecret != nil || refreshToken != nil) {
                throw ValidationError("--client-secret-file replaces --client-id/--client-secret/--refresh-token")
            }
            if (clientID != nil) != (clientSecret != nil) { throw ValidationError("--client-id and --client-secret go together") }
            for address in fromAddresses + [subject].compactMap({ $0 }) where !address.contains("@") {
                throw ValidationError("\(address): not an email address")
            }
        }

        func run() async throws {
            let configuration = try global.loadConfiguration()
            let store = try global.openStore(configuration)
            guard let account = try await store.account(named: name) else {
                throw OperatorError("no account \(name) (see gmail-relay account list)")
            }
            var grant = try await store.accountSecret(named: name).map(StoredGrant.decode)
            let changesGrant = serviceAccount != nil || subject != nil || clientSecretFile != nil || clientID != nil || refreshToken != nil
            if changesGrant { grant = try newGrant(for: account, old: grant) }
            var addresses = fromAddresses
            if addresses.isEmpty, case .serviceAccount(_, let subject?)? = grant, self.subject != nil,
               !account.fromAddresses.contains(where: { $0.lowercased() == subject.lowercased() }) {
                addresses = [subject] + account.fromAddresses
            }
            // An OAuth client without a refresh token waits for Google's consent; any other new way to
            // sign in gets its chance: the account is no longer marked blocked and its held mail goes back
            // to the queue (if Google still refuses, the first attempt holds it again).
            let waitsForConsent: Bool = if case .oauthClient(_, _, nil)? = grant { true } else { false }
            let afterwards: AccountUpdate.Afterwards = !changesGrant ? .unchanged
                : waitsForConsent ? .needsReauth(problemCode: RelayProblem.grantMissing.rawValue) : .readyToSend
            let released = try await store.updateAccount(AccountUpdate(
                name: name, secret: changesGrant ? try grant!.encoded() : nil,
                consentedAt: refreshToken != nil ? Date() : nil,
                fromAddresses: addresses.isEmpty ? nil : addresses, afterwards: afterwards))
            print("account \(name) updated")
            if waitsForConsent && changesGrant {
                print("next: gmail-relay reauth \(name)   (Google's consent; mail for this account is held until then)")
            }
            if released > 0 { print("\(released) held message(s) queued for another attempt") }
            if changesGrant, case .serviceAccount(_, nil)? = grant {
                print("warning: no --subject; Gmail refuses service accounts that do not impersonate a user (400 failedPrecondition)")
            }
        }

        private func newGrant(for account: Account, old: StoredGrant?) throws -> StoredGrant {
            switch account.kind {
            case .sandbox:
                throw OperatorError("\(name) is a sandbox account: it has no Google sign-in to change")
            case .serviceAccount:
                guard clientSecretFile == nil, clientID == nil else {
                    throw OperatorError("\(name) is a service account: use --service-account and --subject")
                }
                var keyJSON: String
                var currentSubject: String?
                if case .serviceAccount(let key, let subject)? = old { (keyJSON, currentSubject) = (key, subject) } else { (keyJSON, currentSubject) = ("", nil) }
                if let path = serviceAccount {
                    let data = try Data(contentsOf: URL(fileURLWithPath: path))
                    do { _ = try ServiceAccountKey(json: data) } catch { throw OperatorError("--service-account \(path): \(error)") }
                    keyJSON = String(decoding: data, as: UTF8.self)
                }
                guard !keyJSON.isEmpty else { throw OperatorError("\(name) has no stored key: give --service-account KEY.json") }
                return .serviceAccount(keyJSON: keyJSON, subject: subject ?? currentSubject)
            case .oauthUser:
                guard serviceAccount == nil, subject == nil else {
                    throw OperatorError("\(name) is an OAuth account: use --client-secret-file or --client-id/--client-secret")
                }
                if let path = clientSecretFile {
                    do {
                        let (id, secret) = try StoredGrant.fromClientSecretFile(try Data(contentsOf: URL(fileURLWithPath: path)))
                        // A refresh token belongs to the client it was issued to: a new client needs a new consent.
                        return .oauthClient(clientID: id, clientSecret: secret, refreshToken: nil)
                    } catch let error as StoredGrant.ClientFileError {
                        throw OperatorError(error.description)
                    }
                }
                var (id, secret, token): (String?, String?, String?) = (nil, nil, nil)
                if case .oauthClient(let oldID, let oldSecret, let oldToken)? = old { (id, secret, token) = (oldID, oldSecret, oldToken) }
                if let clientID, let clientSecret {
                    if clientID != id { token = nil }
                    (id, secret) = (clientID, clientSecret)
                }
                if let refreshToken { token = refreshToken }
                guard let id, let secret else { throw OperatorError("\(name) has no OAuth client yet: give --client-id and --client-secret") }
                return .oauthClient(clientID: id, clientSecret: secret, refreshToken: token)
            }
        }
    }
}
