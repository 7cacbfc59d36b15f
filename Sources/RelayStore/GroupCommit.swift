import Foundation
import GRDB
import RelayVocabulary

/// Group commit for accepted messages: messages whose SMTP sessions finish while a commit is being
/// written go into the next transaction together, so N concurrent clients cost one fsync of the
/// spool directory and one of the database, not N of each (their bodies were synced one by one, in
/// parallel, by `SpoolFile.finish(syncingDirectory: false)`). Each caller still returns only after
/// the transaction holding its own message is durable, so a 250 keeps meaning "on disk"; a message
/// for an unknown account fails alone. The batching itself is BatchedWriter's.
public final class GroupCommitter: Sendable {
    private let writer: BatchedWriter<Acceptance, (MessageRecord, Account?)>

    /// - Parameters:
    ///   - syncsSpoolDirectory: the messages' spool files were finished without syncing the spool
    ///     directory; each batch syncs it once before its transaction.
    ///   - onBatch: told how many messages every committed batch held (for metrics).
    public init(store: RelayStore, maximumBatch: Int = 256, syncsSpoolDirectory: Bool = false,
                onBatch: @escaping @Sendable (_ messages: Int) -> Void = { _ in }) {
        let spool = store.spool
        let clock = store.clock
        var syncDirectory: (@Sendable (Database, [Acceptance]) throws -> Void)?
        if syncsSpoolDirectory {
            // Only a batch with a spool file needs it: inline bodies are durable with the commit itself.
            syncDirectory = { _, batch in
                if batch.contains(where: { $0.message.spoolPath != nil }) { try spool.syncMessagesDirectory() }
            }
        }
        let apply: @Sendable (Database, Acceptance) throws -> (MessageRecord, Account?) = { db, request in
            try request.apply(db, now: Millis.from(clock()))
        }
        writer = BatchedWriter(pool: store.pool, maximumBatch: maximumBatch, beforeBatch: syncDirectory,
                               afterCommit: onBatch, apply: apply)
    }

    /// Commits one message (in whatever transaction is next) and returns its row as stored (its log
    /// id included), so the caller need not read it back.
    public func accept(_ message: NewMessage) async throws -> MessageRecord {
        try await writer.submit(Acceptance(message: message, sender: nil)).0
    }

    /// Commits one message whose account is read in the commit's own transaction, as it is then (the
    /// SMTP path: no separate read, and so no hand-off to a reader thread, per message). `message`'s
    /// account, sandbox flag, status and problem are set from that account and from `decide`, which
    /// gets the account and, when it needs reauthorization or is blocked, the fallback that can send
    /// for it now. Throws `SenderError` when the sender's account cannot be used.
    public func accept(
        _ message: NewMessage, from sender: MessageSender,
        decide: @escaping @Sendable (_ account: Account, _ usableFallback: Account?) -> (status: MessageStatus, problem: ProblemCode?)
    ) async throws -> (record: MessageRecord, account: Account) {
        let (record, account) = try await writer.submit(Acceptance(message: message, sender: (sender, decide)))
        return (record, account!)
    }

    /// Transactions written and messages committed so far: the bench reports messages per transaction.
    public var transactions: Int { get async { writer.transactions } }
    public var messages: Int { get async { writer.committed } }
}

/// Whose account sends a message that `GroupCommitter` resolves in its transaction.
public enum MessageSender: Sendable, Equatable {
    /// The trusted networks' account, by name.
    case account(named: String)
    /// The account of a login AUTH verified, while that login still sends for it.
    case login(username: String, accountID: Int64)
}

/// Why a message's sender could not be resolved at commit (nothing of the message was stored).
public enum SenderError: Error, Sendable {
    /// The login was removed, or moved to another account, since AUTH.
    case loginGone(username: String)
    /// The trusted account does not exist.
    case accountMissing(name: String)
    /// The account could not be read (a database error), not the sender's fault.
    case unreadable(any Error)
}

/// One message for the group commit, with the sender to resolve when its account is read there.
struct Acceptance: Sendable {
    var message: NewMessage
    var sender: (MessageSender, @Sendable (Account, Account?) -> (status: MessageStatus, problem: ProblemCode?))?

    func apply(_ db: Database, now: Int64) throws -> (MessageRecord, Account?) {
        guard let (sender, decide) = sender else { return (try RelayStore.applyAccept(db, message, now: now), nil) }
        let (account, fallback) = try Self.resolve(db, sender)
        var message = message
        message.account = account.name
        message.sandbox = account.kind == .sandbox
        (message.status, message.problemCode) = decide(account, fallback)
        return (try MessageLifecycle.accept(db, message, accountID: account.id, now: now), account)
    }

    /// The sender's account as it is now, and its usable fallback when the account needs one.
    private static func resolve(_ db: Database, _ sender: MessageSender) throws -> (Account, Account?) {
        let found: Account?
        do {
            switch sender {
            case .account(let name):
                found = try fetchAccount(db, name: name)
            case .login(let username, let accountID):
                found = try fetchAccount(db, id: accountID, holdingLogin: username)
            }
        } catch {
            throw SenderError.unreadable(error)
        }
        guard let account = found else {
            switch sender {
            case .account(let name): throw SenderError.accountMissing(name: name)
            case .login(let username, _): throw SenderError.loginGone(username: username)
            }
        }
        guard account.state.isCoveredByFallback, account.fallback != nil else { return (account, nil) }
        do {
            return (account, try fetchUsableFallback(db, account: account.name))
        } catch {
            throw SenderError.unreadable(error)
        }
    }
}
