import Foundation
import RelayVocabulary

// Decisions and words every store makes the same way, written once: each store only runs its own SQL
// around them (RelayStore on SQLite, PostgresRelayStore on PostgreSQL), so the two cannot drift apart.

/// Binds a sealed secret to its account, so a secret copied onto another row does not open.
package func secretContext(_ accountName: String) -> Data {
    Data("gmail-relay account secret:\(accountName)".utf8)
}

/// Binds a sealed access token to its account and the grant it was issued for: a token row copied onto
/// another account, or kept after a new grant, does not open; nor does it open as a grant.
package func accessTokenContext(_ accountName: String, grantDigest: Data) -> Data {
    Data("gmail-relay access token:\(accountName):".utf8) + grantDigest
}

/// Trims, validates and de-duplicates (case-insensitively, first spelling kept) from addresses.
package func normalizedAddresses(_ addresses: [String]) throws -> [String] {
    var seen = Set<String>()
    var result: [String] = []
    for raw in addresses {
        let address = raw.trimmingCharacters(in: .whitespaces)
        guard Validation.isValidAddress(address) else { throw StoreError.invalidAddress(raw) }
        if seen.insert(address.lowercased()).inserted { result.append(address) }
    }
    return result
}

/// Escapes `%`, `_` and `\` for `LIKE ... ESCAPE '\'`: the send log's search matches a substring.
package func likePattern(containing text: String) -> String {
    var escaped = ""
    for c in text {
        if c == "%" || c == "_" || c == "\\" { escaped.append("\\") }
        escaped.append(c)
    }
    return "%" + escaped + "%"
}

/// 00:00 UTC of the day `date` falls in: per-login daily limits count from here.
package func startOfUTCDay(_ date: Date) -> Date {
    let seconds = date.timeIntervalSince1970
    return Date(timeIntervalSince1970: (seconds / 86_400).rounded(.down) * 86_400)
}

/// Longest response body kept per attempt; Google's error bodies are far smaller, but a proxy's HTML
/// error page should not bloat the database.
package let maximumStoredResponseBodyBytes = 1 << 20

extension NewAttempt {
    /// The response body as stored: cut at `maximumStoredResponseBodyBytes`, saying how long it was.
    package var storedResponseBody: String? {
        guard let text = responseBody, text.utf8.count > maximumStoredResponseBodyBytes else { return responseBody }
        let kept = String(decoding: text.utf8.prefix(maximumStoredResponseBodyBytes), as: UTF8.self)
        return kept + "\n[truncated: \(text.utf8.count) bytes in all]"
    }
}

extension AccountState {
    /// The states a fallback stands in for (an account still being set up has no fallback's help).
    public var isCoveredByFallback: Bool { self == .needsReauth || self == .blocked }
}

// MARK: - Event words

package enum EventWords {
    /// The `accepted` event of a new message: its envelope.
    package static func accepted(_ m: NewMessage) -> String {
        var detail = "from <\(m.mailFrom)> for \(m.recipients.count) recipient(s), \(m.size) bytes, peer \(m.peer)"
        detail += m.tls ? " over TLS" : " without TLS"
        if let user = m.credentialUsername { detail += ", user \(user)" }
        if m.sandbox { detail += ", sandbox" }
        return detail
    }

    /// The `held` event of a message accepted held.
    package static func heldAtAccept(_ m: NewMessage) -> String {
        m.problemCode?.rawValue ?? "account cannot send"
    }

    /// An `account_state` event: "needs_reauth (code): {detail json}".
    package static func accountState(_ state: AccountState, _ code: ProblemCode?, detailJSON: String?) -> String {
        var text = state.rawValue
        if let code { text += " (\(code.rawValue))" }
        if let detailJSON { text += ": \(detailJSON)" }
        return text
    }

    /// The `account_state` event of a stopped account that just sent: "ok (was blocked, code) after a success".
    package static func okAfterSuccess(previousState: String, previousProblem: String?) -> String {
        let was = previousProblem.map { "\(previousState), \($0)" } ?? previousState
        return "ok (was \(was)) after a success"
    }

    package static func accountAdded(kind: AccountKind, addresses: [String]) -> String {
        let from = addresses.isEmpty ? "no from address yet" : "from " + addresses.joined(separator: ", ")
        return "\(kind.rawValue) account, \(from)"
    }

    package static func accountRemoved(credentials: Int, messages: Int) -> String {
        "\(credentials) SMTP credential(s) removed, \(messages) waiting message(s) failed"
    }

    package static func fallbackSet(_ fallback: String?) -> String {
        fallback.map { "fallback set to \($0)" } ?? "fallback removed"
    }

    package static func dailyLimit(username: String, limit: Int?) -> String {
        limit.map { "SMTP username \(username): daily limit \($0)" } ?? "SMTP username \(username): no daily limit"
    }
}

extension AttemptReport {
    /// Whether the attempt ended with Gmail taking the message.
    package var wasSent: Bool {
        if case .sent = outcome { return true }
        return false
    }

    /// The message's move the attempt's outcome makes.
    package var move: MessageMove {
        switch outcome {
        case .sent(let gmailID):
            .sent(gmailID: gmailID)
        case .queued(let problem, let next, let detail):
            .attemptEnded(.queued, problemCode: problem, nextAttemptAt: Millis.from(next), detail: detail)
        case .held(let problem):
            .attemptEnded(.held, problemCode: problem, nextAttemptAt: nil, detail: nil)
        case .failed(let problem, let detail):
            .attemptEnded(.failed, problemCode: problem, nextAttemptAt: nil, detail: detail)
        }
    }

    /// The `fallback` event's words, when the attempt went through the account's fallback.
    package var fallbackDetail: String? {
        fallback.map { "\(wasSent ? "sent" : "tried") through fallback \(account) because \($0.ownAccount): \($0.reason)" }
    }
}

// MARK: - What a move writes

/// The columns a move changes besides the status (the rest it leaves as they are).
package struct MoveColumns: Sendable {
    package var problem: Change<ProblemCode?> = .keep
    package var next: Change<Int64?> = .set(nil)
    package var gmailID: Change<String?> = .keep
}

extension MessageMove {
    /// What the move sets: its problem code, when the message is next due, its Gmail id.
    package func columns(now: Int64) -> MoveColumns {
        var columns = MoveColumns()
        switch self {
        case .claimed:
            columns.next = .keep
        case .sent(let id):
            columns.gmailID = .set(id)
            columns.problem = .set(nil)
        case .attemptEnded(let status, let code, let at, _):
            columns.problem = .set(code)
            columns.next = .set(status == .queued ? (at ?? now) : nil)
        case .interrupted:
            columns.next = .set(now)
        case .heldWithAccount(let code):
            columns.problem = .set(code)
        case .released, .retried:
            columns.problem = .set(nil)
            columns.next = .set(now)
        case .discarded:
            break
        case .accountRemoved:
            columns.problem = .set(.accountRemoved)
        }
        return columns
    }
}

// MARK: - Claiming

/// A due message a claim may take, in the order the store found them (next attempt, then id).
package struct ClaimCandidate: Sendable {
    package var id: Int64
    package var account: String

    package init(id: Int64, account: String) {
        self.id = id
        self.account = account
    }
}

/// Picks at most `limit` of the candidates, at most `capacities[account]` of each account and none of an
/// account not in the map (the lane slots the worker reserved), in the candidates' order.
package func pickClaims(_ candidates: [ClaimCandidate], limit: Int, capacities: [String: Int]) -> [ClaimCandidate] {
    var taken: [String: Int] = [:]
    var picked: [ClaimCandidate] = []
    for candidate in candidates {
        guard picked.count < limit else { break }
        let used = taken[candidate.account, default: 0]
        guard used < capacities[candidate.account, default: 0] else { continue }
        taken[candidate.account] = used + 1
        picked.append(candidate)
    }
    return picked
}

// MARK: - Counting

extension QueueCounts {
    /// Adds `n` messages in `status` (statuses the summary does not show are ignored).
    package mutating func add(_ status: MessageStatus?, _ n: Int) {
        switch status {
        case .queued: queued += n
        case .sending: sending += n
        case .held: held += n
        case .failed: failed += n
        default: break
        }
    }
}

extension AccountMessageCounts {
    /// Adds `n` messages in `status`: sending ones count as queued.
    package mutating func add(_ status: MessageStatus?, _ n: Int) {
        switch status {
        case .queued, .sending: queued += n
        case .held: held += n
        case .failed: failed += n
        default: break
        }
    }
}

// MARK: - Account secrets

/// Seals and opens account secrets with the key file's SecretBox, loaded (or created, 0600) on first use,
/// so read-only commands never create a key. Every store seals the same way: one key file opens the
/// secrets of every relay that shares a store.
package final class AccountSecrets: @unchecked Sendable {
    package let keyFile: String
    private let lock = NSLock()
    private var cached: SecretBox?

    package init(keyFile: String) {
        self.keyFile = keyFile
    }

    package func box() throws -> SecretBox {
        try lock.withLock {
            if let cached { return cached }
            let box = try SecretBox.loadOrCreate(keyFile: keyFile)
            cached = box
            return box
        }
    }

    package func seal(_ secret: Data, account: String) throws -> Data {
        try box().seal(secret, context: secretContext(account))
    }

    /// An access token shared between relays, sealed like the grant it came from.
    package func sealAccessToken(_ value: String, account: String, grantDigest: Data) throws -> Data {
        try box().seal(Data(value.utf8), context: accessTokenContext(account, grantDigest: grantDigest))
    }

    /// The opened access token; `secretUndecryptable` when this key, account or grant cannot open it.
    package func openAccessToken(_ sealed: Data, account: String, grantDigest: Data) throws -> String {
        do {
            let data = try box().open(sealed, context: accessTokenContext(account, grantDigest: grantDigest))
            guard let value = String(data: data, encoding: .utf8) else { throw StoreError.secretUndecryptable("access token of account \(account)") }
            return value
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.secretUndecryptable("access token of account \(account)")
        }
    }

    /// The opened secret; `secretUndecryptable` when this key (or another account's row) cannot open it.
    package func open(_ sealed: Data, account: String) throws -> Data {
        do {
            return try box().open(sealed, context: secretContext(account))
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.secretUndecryptable("account \(account)")
        }
    }
}

extension AccountUpdate {
    /// What the update writes, checked and sealed before its transaction starts.
    package struct Prepared: Sendable {
        package var sealedSecret: Data?
        package var fromAddresses: [String]?
        package var consentedAt: Int64?
    }

    package func prepared(_ secrets: AccountSecrets) throws -> Prepared {
        Prepared(sealedSecret: try secret.map { try secrets.seal($0, account: name) },
                 fromAddresses: try fromAddresses.map(normalizedAddresses), consentedAt: consentedAt.map(Millis.from))
    }
}
