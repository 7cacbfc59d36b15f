import Foundation
import RelayVocabulary

/// Everything the store refuses or cannot do, in words an operator can act on.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    case invalidAccountName(String)
    case invalidUsername(String)
    case invalidAddress(String)
    case duplicateAccount(String)
    case unknownAccount(String)
    case invalidFallback(String)
    case duplicateCredential(String)
    case unknownCredential(String)
    case invalidDailyLimit(Int)
    case weakPassword(minimumLength: Int)
    case unknownMessage(Int64)
    case invalidTransition(id: Int64, from: MessageStatus, to: MessageStatus)
    case invalidInitialStatus(MessageStatus)
    case spoolFileMissing(id: Int64)
    case databaseTooNew(path: String)
    case cannotCreateDirectory(path: String, errno: Int32)
    case fileError(path: String, errno: Int32)
    case secretKeyTooOpen(path: String, mode: UInt32)
    case dataDirectoryTooOpen(path: String, mode: UInt32)
    case secretKeyInvalid(path: String, reason: String)
    case secretKeyUnreadable(path: String, errno: Int32)
    case secretUndecryptable(String)
    case invalidPasswordHash

    public var description: String {
        switch self {
        case .invalidAccountName(let name):
            return "invalid account name \(quoted(name)): use 1-64 letters, digits, '.', '_' or '-'"
        case .invalidUsername(let name):
            return "invalid username \(quoted(name)): use 1-64 letters, digits, '.', '_', '-', '@' or '+'"
        case .invalidAddress(let address):
            return "invalid from address \(quoted(address)): expected local-part@domain"
        case .duplicateAccount(let name):
            return "an account named \(quoted(name)) already exists"
        case .unknownAccount(let name):
            return "no account named \(quoted(name)); `gmail-relay account list` shows the accounts"
        case .invalidFallback(let name):
            return "account \(quoted(name)) cannot be its own fallback; name another account"
        case .duplicateCredential(let name):
            return "an SMTP credential with username \(quoted(name)) already exists"
        case .unknownCredential(let name):
            return "no SMTP credential with username \(quoted(name)); `gmail-relay credential list` shows them"
        case .invalidDailyLimit(let limit):
            return "invalid daily limit \(limit): use a whole number of messages, 0 or more (or --no-daily-limit)"
        case .weakPassword(let minimum):
            return "the password is too short: use at least \(minimum) characters (leave it out to get a generated one)"
        case .unknownMessage(let id):
            return "no message with id \(id) in the send log"
        case .invalidTransition(let id, let from, let to):
            return "message \(id) is \(from.rawValue) and cannot become \(to.rawValue)"
        case .invalidInitialStatus(let status):
            return "a message cannot be accepted as \(status.rawValue)"
        case .spoolFileMissing(let id):
            return "message \(id) can no longer be sent: its stored copy was already purged"
        case .databaseTooNew(let path):
            return "the database \(path) was written by a newer gmail-relay; upgrade this one"
        case .cannotCreateDirectory(let path, let code):
            return "cannot create directory \(path): \(String(cString: strerror(code)))"
        case .fileError(let path, let code):
            return "cannot use \(path): \(String(cString: strerror(code)))"
        case .secretKeyTooOpen(let path, let mode):
            return "secret key file \(path) has mode \(String(mode & 0o777, radix: 8, uppercase: false).leftPadded(to: 4)): "
                + "it must not be accessible by group or others; run `chmod 600 \(path)`"
        case .dataDirectoryTooOpen(let path, let mode):
            return "data directory \(path) has mode \(String(mode & 0o777, radix: 8, uppercase: false).leftPadded(to: 4)): "
                + "it holds the send log, message bodies and sealed grants, so it must not be accessible by group or others; "
                + "run `chmod 700 \(path)`"
        case .secretKeyInvalid(let path, let reason):
            return "secret key file \(path) is not usable: \(reason)"
        case .secretKeyUnreadable(let path, let code):
            return "cannot read secret key file \(path): \(String(cString: strerror(code)))"
        case .secretUndecryptable(let what):
            return "the stored secret of \(what) cannot be decrypted with the current secret key "
                + "(was secret.key replaced?); run `gmail-relay reauth` for the account"
        case .invalidPasswordHash:
            return "the stored password hash is not in a known format"
        }
    }

    public var errorDescription: String? { description }
}

private func quoted(_ s: String) -> String { "'\(s)'" }

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A store failure that is neither the client's fault nor a full disk: the database cannot be reached
/// or cannot commit now. SMTP answers 451 4.3.0 (try again later), and the client's own queue keeps
/// the message meanwhile. The PostgreSQL store's errors are such failures.
public protocol StoreUnavailableError: Error {}
