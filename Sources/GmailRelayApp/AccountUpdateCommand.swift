import ArgumentParser
import Delivery
import Foundation
import GmailAPI
import RelayStore
import RelayVocabulary

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
                Any account: --from ADDRESS (repeatable) replaces the from addresses; --fallback OTHER sends
                this account's mail through OTHER while this one needs reauthorization or is blocked (From
                becomes OTHER's address, the original goes to Reply-To); --no-fallback stops that.
                When the account can sign in afterwards, it is marked ok and its held mail is queued again;
                if Google still refuses, the mail is held again with the new answer.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account.") var name: String
        @OptionGroup var signIn: SignInOptions
        @Option(help: "Send this account's mail through OTHER while this one needs reauthorization or is blocked.")
        var fallback: String?
        @Flag(name: .customLong("no-fallback"), help: "Stop using a fallback account.")
        var noFallback = false

        func validate() throws {
            let changesSignIn = signIn.serviceAccount != nil || signIn.subject != nil || signIn.clientSecretFile != nil || signIn.namesClient
            let changesFallback = fallback != nil || noFallback
            guard changesSignIn || !signIn.fromAddresses.isEmpty || changesFallback else {
                throw ValidationError("nothing to change: give a new key, subject, client, --from, --fallback or --no-fallback")
            }
            if fallback != nil && noFallback { throw ValidationError("--fallback and --no-fallback exclude each other") }
            if fallback == name { throw ValidationError("an account cannot be its own fallback") }
            if (signIn.serviceAccount != nil || signIn.subject != nil) && (signIn.clientSecretFile != nil || signIn.namesClient) {
                throw ValidationError("--service-account/--subject are for service accounts, the client options for OAuth accounts")
            }
            if signIn.clientSecretFile != nil && signIn.namesClient {
                throw ValidationError("--client-secret-file replaces --client-id/--client-secret/--refresh-token")
            }
            try signIn.validateCommon()
        }

        mutating func run() async throws {
            try signIn.readSecretsFromStandardInput()
            let configuration = try global.loadConfiguration()
            let store = try await global.openStore(configuration)
            guard let account = try await store.account(named: name) else {
                throw OperatorError("no account \(name) (see gmail-relay account list)")
            }
            if fallback != nil || noFallback {
                try await updateFallback(store, account: account)
                guard changesSignIn || !signIn.fromAddresses.isEmpty else { return }
            }
            var grant = try await store.accountSecret(named: name).map(StoredGrant.decode)
            let changesGrant = signIn.serviceAccount != nil || signIn.subject != nil || signIn.clientSecretFile != nil
                || signIn.clientID != nil || signIn.refreshToken != nil
            if changesGrant { grant = try newGrant(for: account, old: grant) }
            var addresses = signIn.fromAddresses
            if addresses.isEmpty, case .serviceAccount(_, let subject?)? = grant, signIn.subject != nil,
               !account.fromAddresses.contains(where: { $0.lowercased() == subject.lowercased() }) {
                addresses = [subject] + account.fromAddresses
            }
            // An OAuth client without a refresh token waits for Google's consent; any other new way to
            // sign in gets its chance: the account is no longer marked blocked and its held mail goes back
            // to the queue (if Google still refuses, the first attempt holds it again).
            let waitsForConsent: Bool = if case .oauthClient(_, _, nil)? = grant { true } else { false }
            let afterwards: AccountUpdate.Afterwards = !changesGrant ? .unchanged
                : waitsForConsent ? .needsReauth(problemCode: .grantMissing) : .readyToSend
            let released = try await store.updateAccount(AccountUpdate(
                name: name, secret: changesGrant ? try grant!.encoded() : nil,
                consentedAt: signIn.refreshToken != nil ? Date() : nil,
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

        private var changesSignIn: Bool {
            signIn.serviceAccount != nil || signIn.subject != nil || signIn.clientSecretFile != nil || signIn.namesClient
        }

        private func updateFallback(_ store: any RelayStoreAPI, account: Account) async throws {
            guard let fallback else {
                try await store.setFallback(account: name, to: nil)
                print("account \(name): no fallback")
                return
            }
            guard let other = try await store.account(named: fallback) else {
                throw OperatorError("no account \(fallback) (see gmail-relay account list)")
            }
            let released = try await store.setFallback(account: name, to: fallback)
            print("account \(name): fallback \(fallback) (sends this account's mail while it needs reauthorization or is blocked)")
            if other.fallback != nil {
                print("note: \(fallback)'s own fallback is not followed for \(name)'s mail")
            }
            if other.state != .ok {
                print("note: \(fallback) is \(other.state.rawValue) now; it takes over only while it is ok")
            }
            if released > 0 { print("\(released) held message(s) queued to go through \(fallback)") }
        }

        private func newGrant(for account: Account, old: StoredGrant?) throws -> StoredGrant {
            switch account.kind {
            case .sandbox:
                throw OperatorError("\(name) is a sandbox account: it has no Google sign-in to change")
            case .serviceAccount:
                guard signIn.clientSecretFile == nil, signIn.clientID == nil else {
                    throw OperatorError("\(name) is a service account: use --service-account and --subject")
                }
                var keyJSON: String
                var currentSubject: String?
                if case .serviceAccount(let key, let subject)? = old { (keyJSON, currentSubject) = (key, subject) } else { (keyJSON, currentSubject) = ("", nil) }
                if let newKey = try signIn.serviceAccountKeyJSON() { keyJSON = newKey }
                guard !keyJSON.isEmpty else { throw OperatorError("\(name) has no stored key: give --service-account KEY.json") }
                return .serviceAccount(keyJSON: keyJSON, subject: signIn.subject ?? currentSubject)
            case .oauthUser:
                guard signIn.serviceAccount == nil, signIn.subject == nil else {
                    throw OperatorError("\(name) is an OAuth account: use --client-secret-file or --client-id/--client-secret")
                }
                if let (id, secret) = try signIn.clientFromFile() {
                    // A refresh token belongs to the client it was issued to: a new client needs a new consent.
                    return .oauthClient(clientID: id, clientSecret: secret, refreshToken: nil)
                }
                var (id, secret, token): (String?, String?, String?) = (nil, nil, nil)
                if case .oauthClient(let oldID, let oldSecret, let oldToken)? = old { (id, secret, token) = (oldID, oldSecret, oldToken) }
                if let clientID = signIn.clientID, let clientSecret = signIn.clientSecret {
                    if clientID != id { token = nil }
                    (id, secret) = (clientID, clientSecret)
                }
                if let refreshToken = signIn.refreshToken { token = refreshToken }
                guard let id, let secret else { throw OperatorError("\(name) has no OAuth client yet: give --client-id and --client-secret") }
                return .oauthClient(clientID: id, clientSecret: secret, refreshToken: token)
            }
        }
    }
}
