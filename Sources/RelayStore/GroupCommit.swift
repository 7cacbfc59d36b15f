import Foundation
import StoreModel
import GRDB
import RelayVocabulary

/// Group commit for accepted messages: messages whose SMTP sessions finish while a commit is being
/// written go into the next transaction together, so N concurrent clients cost one fsync of the
/// spool directory and one of the database, not N of each (their bodies were synced one by one, in
/// parallel, by `SpoolFile.finish(syncingDirectory: false)`). Each caller still returns only after
/// the transaction holding its own message is durable, so a 250 keeps meaning "on disk"; a message
/// for an unknown account fails alone. The batching itself is BatchedWriter's.
public final class GroupCommitter: Sendable {
    private let writer: BatchedWriter<Acceptance, (MessageRecord, SenderAccount?)>

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
        let apply: @Sendable (Database, Acceptance) throws -> (MessageRecord, SenderAccount?) = { db, request in
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
    /// gets the account and whether, when it needs reauthorization or is blocked, its fallback can send
    /// for it now. Throws `SenderError` when the sender's account cannot be used (that message alone
    /// fails; the rest of its batch commits).
    public func accept(
        _ message: NewMessage, readingAccountOf sender: MessageSender, decide: @escaping IntakeDecision
    ) async throws -> (record: MessageRecord, account: SenderAccount) {
        let (record, account) = try await writer.submit(Acceptance(message: message, sender: (sender, decide)))
        return (record, account!)
    }

    /// Transactions written and messages committed so far: the bench reports messages per transaction.
    public var transactions: Int { get async { writer.transactions } }
    public var messages: Int { get async { writer.committed } }
}

extension SenderAccount {
    init(row: Row) {
        self.init(id: row["id"], name: row["name"], kind: AccountKind(rawValue: row["kind"]) ?? .sandbox,
                  state: AccountState(rawValue: row["state"]) ?? .unconfigured, problemCode: ProblemCode(stored: row["problem_code"]),
                  fallback: row["fallback_account"])
    }
}

/// One message for the group commit, with the sender to resolve when its account is read there.
struct Acceptance: Sendable {
    var message: NewMessage
    var sender: (MessageSender, IntakeDecision)?

    func apply(_ db: Database, now: Int64) throws -> (MessageRecord, SenderAccount?) {
        guard let (sender, decide) = sender else { return (try RelayStore.applyAccept(db, message, now: now), nil) }
        let (account, fallbackCanSend) = try Self.resolve(db, sender)
        var message = message
        message.account = account.name
        message.sandbox = account.kind == .sandbox
        (message.status, message.problemCode) = decide(account, fallbackCanSend)
        return (try MessageLifecycle.accept(db, message, accountID: account.id, now: now), account)
    }

    /// The sender's account as it is now, and whether its fallback sends for it now (only asked for an
    /// account that needs reauthorization or is blocked and has a fallback).
    private static func resolve(_ db: Database, _ sender: MessageSender) throws -> (SenderAccount, Bool) {
        let found: SenderAccount?
        do {
            switch sender {
            case .account(let name):
                found = try Row.fetchOne(db, cached: "SELECT \(SenderAccount.columns) FROM accounts WHERE name = ?", arguments: [name])
                    .map(SenderAccount.init(row:))
            case .login(let username, let accountID):
                found = try Row.fetchOne(db, cached: """
                        SELECT \(SenderAccount.columns) FROM accounts
                        WHERE id = ? AND EXISTS (SELECT 1 FROM credentials WHERE username = ? AND account_id = accounts.id)
                        """, arguments: [accountID, username]).map(SenderAccount.init(row:))
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
        guard account.state.isCoveredByFallback, account.fallback != nil else { return (account, false) }
        do {
            return (account, try fetchUsableFallback(db, account: account.name) != nil)
        } catch {
            throw SenderError.unreadable(error)
        }
    }
}
