import ArgumentParser
import Foundation
import Delivery
import GmailAPI

/// How an account signs in to Google, as `account add` and `account update` take it: one set of
/// options and one way of reading the files they name.
struct SignInOptions: ParsableArguments {
    @Option(help: "OAuth client ID.") var clientID: String?
    @Option(help: "OAuth client secret (visible in shell history and /proc: prefer --client-secret-stdin).") var clientSecret: String?
    @Flag(help: "Read the OAuth client secret from standard input (the first line).") var clientSecretStdin = false
    @Option(help: "A refresh token issued to that OAuth client (prefer --refresh-token-stdin).") var refreshToken: String?
    @Flag(help: "Read the refresh token from standard input (the next line, after the client secret if that is read too).")
    var refreshTokenStdin = false
    @Option(help: "Google's downloaded OAuth client file.") var clientSecretFile: String?
    @Option(help: "Service account key file (JSON).") var serviceAccount: String?
    @Option(help: "The Workspace user the service account sends as.") var subject: String?
    @Option(name: .customLong("from"), help: "The account's address and verified send-as aliases (repeatable; the first is the primary; on update, replaces them).")
    var fromAddresses: [String] = []

    /// Any of the client-id/secret/refresh-token trio.
    var namesClient: Bool { clientID != nil || clientSecret != nil || refreshToken != nil || clientSecretStdin || refreshTokenStdin }

    /// The checks both commands share: the client pair, and addresses that look like addresses.
    func validateCommon() throws {
        if clientSecret != nil && clientSecretStdin { throw ValidationError("--client-secret and --client-secret-stdin: give one") }
        if refreshToken != nil && refreshTokenStdin { throw ValidationError("--refresh-token and --refresh-token-stdin: give one") }
        if (clientID != nil) != (clientSecret != nil || clientSecretStdin) { throw ValidationError("--client-id and --client-secret go together") }
        for address in fromAddresses + [subject].compactMap({ $0 }) where !address.contains("@") {
            throw ValidationError("\(address): not an email address")
        }
    }

    /// Reads the secrets asked for on standard input (client secret first, then refresh token), so they
    /// never appear in shell history or in /proc/PID/cmdline. Commands call this before using them.
    mutating func readSecretsFromStandardInput() throws {
        func line(_ option: String) throws -> String {
            guard let text = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
                throw ValidationError("\(option): no value on standard input")
            }
            return text
        }
        if clientSecretStdin { clientSecret = try line("--client-secret-stdin") }
        if refreshTokenStdin { refreshToken = try line("--refresh-token-stdin") }
    }

    /// The `--service-account` file, checked to be a usable key; nil without the option.
    func serviceAccountKeyJSON() throws -> String? {
        guard let path = serviceAccount else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        do { _ = try ServiceAccountKey(json: data) } catch { throw OperatorError("--service-account \(path): \(error)") }
        return String(decoding: data, as: UTF8.self)
    }

    /// The client ID and secret from `--client-secret-file`; nil without the option.
    func clientFromFile() throws -> (id: String, secret: String)? {
        guard let path = clientSecretFile else { return nil }
        do {
            let (id, secret) = try StoredGrant.fromClientSecretFile(try Data(contentsOf: URL(fileURLWithPath: path)))
            return (id, secret)
        } catch let error as StoredGrant.ClientFileError {
            throw OperatorError(error.description)
        }
    }
}
