import Foundation
import Logging
import NIOPosix
import RelayStore
import RelayVocabulary
import SMTPProtocol
import SMTPServer

/// The SMTP listener's view of the relay: logins are checked against the store, message bytes go to
/// the spool, and a finished message is committed to the store before the client hears 250. In sync mode
/// the reply then waits for the first delivery attempt, up to `IntakePolicy.syncTimeout`.
///
/// The walk of one message reads forward: the login AUTH verified comes back with the message, the
/// header was read while DATA streamed in, and the committer returns the row it wrote.
public final class SubmissionIntake: SubmissionBackend {
    /// The login as AUTH verified it: username, account id and name, kind and state at that time.
    public typealias Login = VerifiedCredential

    private let store: any CredentialStore
    private let committer: any MessageIntake
    private let spool: Spool
    private let policy: IntakePolicy
    private let delivery: any SyncDelivery
    private let metrics: any IntakeMetrics
    private let logger: Logger

    /// `intake` makes a message durable (SMTP says 250 only after it returns); `spool` receives bodies too
    /// large to keep in memory until then.
    public init(
        store: any CredentialStore, intake: any MessageIntake, spool: Spool, policy: IntakePolicy,
        delivery: any SyncDelivery, metrics: any IntakeMetrics, logger: Logger
    ) {
        self.store = store
        self.committer = intake
        self.spool = spool
        self.policy = policy
        self.delivery = delivery
        self.metrics = metrics
        self.logger = logger
    }

    /// On the SQLite store: its spool, and a group committer that syncs the spool directory once per
    /// commit batch rather than once per message.
    public convenience init(store: RelayStore, policy: IntakePolicy, delivery: any SyncDelivery, metrics: any IntakeMetrics, logger: Logger) {
        self.init(
            store: store, intake: GroupCommitter(store: store, syncsSpoolDirectory: true) { metrics.acceptBatchCommitted(messages: $0) },
            spool: store.spool, policy: policy, delivery: delivery, metrics: metrics, logger: logger)
    }

    public func authenticate(username: String, password: String, peer: PeerInfo) async -> AuthenticationResult<Login> {
        do {
            switch try await store.checkCredential(username: username, password: password) {
            case .valid(let login): return .accepted(login)
            case .invalid: return .rejected
            case .busy: return .temporarilyUnavailable
            }
        } catch {
            // The store could not be read: not the client's fault, so not a 535.
            logger.error("credential check failed", metadata: ["error": "\(error)"])
            return .temporarilyUnavailable
        }
    }

    /// Only a login with a daily limit (as of its AUTH) is checked at MAIL FROM: the others cost nothing.
    public func checksSender(for login: Login) -> Bool {
        login.dailyLimit != nil
    }

    /// A login past its daily limit gets 452 4.5.3 at MAIL FROM: the message is not taken (and then
    /// held), so the site's own mail plugin keeps it and tries again. The count is of messages accepted
    /// for the login since 00:00 UTC; the limit is read now, so a changed limit applies at once.
    public func admitSender(login: Login, mailFrom: String, peer: PeerInfo) async -> SMTPReply? {
        let usage: DailyUsage
        do {
            usage = try await store.dailyUsage(username: login.username)
        } catch {
            logger.error("smtp daily limit: usage lookup failed", metadata: ["smtp.user": "\(login.username)", "error": "\(error)"])
            return SMTPReply(451, "4.3.0", "Temporary local problem, try again later")
        }
        guard usage.isExhausted, let limit = usage.limit else { return nil }
        logger.notice("smtp login over its daily limit", metadata: [
            "smtp.user": "\(login.username)", "limit": "\(limit)", "sent_today": "\(usage.count)",
        ])
        return Self.dailyLimitReply(username: login.username, usage: usage, limit: limit)
    }

    /// The words of the daily-limit refusal: the login, the limit, and when it resets.
    static func dailyLimitReply(username: String, usage: DailyUsage, limit: Int) -> SMTPReply {
        SMTPReply(452, "4.5.3", "Daily limit reached: login \(username) may send \(limit) message\(limit == 1 ? "" : "s") a day and has sent \(usage.count) today; the limit resets at 00:00 UTC (\(ISO8601.string(usage.resetsAt)))")
    }

    /// The reply while the store cannot commit (a shared database that went away): try again later.
    static let storeUnavailable = SMTPReply(451, "4.3.0", "Temporary local problem: the relay's message store is unavailable, try again later")

    public func openSpool() throws -> IntakeSpool {
        IntakeSpool(spool.receive())
    }

    /// The commit of one message. Its account is read, and its status decided, inside the store's
    /// accept transaction (SQLite: the group commit's; no separate read per message): the only wait on
    /// the way is that transaction's durable commit. Called as a task that prefers the connection's event loop
    /// (SMTPServer): nothing here blocks; a spool file's sync goes to the thread pool.
    public func commit(envelope: Envelope, login: Login?, spool: IntakeSpool, peer: PeerInfo) async -> SMTPReply {
        let sender: MessageSender
        if let login {
            sender = .login(username: login.username, accountID: login.accountID)
        } else if let trusted = policy.trustedAccount {
            sender = .account(named: trusted)
        } else {
            spool.abandon()
            return .authRequired
        }
        let body: StoredBody
        switch await finishSpool(spool) {
        case .next(let finished): body = finished
        case .stop(let reply): return reply
        }
        if let refusal = applyRecipientLimit(spool.header, envelope: envelope, body: body) { return refusal }
        let record: MessageRecord
        switch await storeMessage(envelope: envelope, login: login, peer: peer, sender: sender, header: spool.header, body: body) {
        case .next(let stored): record = stored
        case .stop(let reply): return reply
        }
        return await reply(record, Disposition(record, unknownProblem: policy.cannotSendProblem))
    }

    // MARK: The steps of a commit

    /// A step's result: go on with a value, or stop with this reply.
    enum Step<Value> {
        case next(Value)
        case stop(SMTPReply)
    }

    /// The message's body once finished: in memory (stored with its row) or a synced spool file.
    struct StoredBody {
        var spoolPath: String?
        var inline: [UInt8]?
        var size: Int

        /// Removes the spool file of a message that will not be stored.
        func discard() {
            if let spoolPath { try? FileManager.default.removeItem(atPath: spoolPath) }
        }
    }

    /// Held when its account cannot send (no doomed call to Google per message); else sent now in
    /// sync mode, or queued for the worker.
    enum Disposition: Equatable {
        case held(problem: ProblemCode)
        case sending
        case queued

        /// What the commit decided, read off the stored row.
        init(_ record: MessageRecord, unknownProblem: ProblemCode) {
            switch record.status {
            case .held: self = .held(problem: record.problem ?? unknownProblem)
            case .sending: self = .sending
            default: self = .queued
            }
        }
    }

    /// Makes the body durable (a spool file is synced and renamed; a small body stays in memory) and
    /// completes the header capture.
    func finishSpool(_ spool: IntakeSpool) async -> Step<StoredBody> {
        spool.finishHeader()
        let message = spool.message
        let finish = { @Sendable () throws -> IncomingMessage.Finished in try message.finish() }
        do {
            // Blocking file work (sync, rename) stays off Swift's cooperative pool; a small message is
            // all in memory and needs no I/O, so no hop to another thread either.
            let finished = message.isInMemory ? try finish() : try await NIOThreadPool.singleton.runIfActive(finish)
            return switch finished {
            case .inline(let bytes): .next(StoredBody(spoolPath: nil, inline: bytes, size: message.bytesWritten))
            case .file(let path): .next(StoredBody(spoolPath: path, inline: nil, size: message.bytesWritten))
            }
        } catch {
            spool.abandon()
            logger.error("spool commit failed", metadata: ["error": "\(error)"])
            return .stop(.insufficientStorage)
        }
    }

    /// Gmail sends to the To, Cc and Bcc headers: they count against smtp.max_recipients as RCPT TO does.
    func applyRecipientLimit(_ header: HeaderCapture, envelope: Envelope, body: StoredBody) -> SMTPReply? {
        let recipients = header.gmailRecipientCount(envelopeRecipients: envelope.recipients)
        let limit = policy.maxRecipients
        guard recipients > limit else { return nil }
        body.discard()
        logger.notice("message refused: too many header recipients", metadata: ["smtp.recipients": "\(recipients)", "smtp.max_recipients": "\(limit)"])
        return SMTPReply(550, "5.5.3", "Too many recipients: Gmail would send this message to \(recipients) addresses (To, Cc, Bcc and RCPT TO together); this relay allows at most \(limit) (smtp.max_recipients)")
    }

    /// An account that cannot send holds its mail, unless its fallback can send it (then as if it
    /// could). Runs in the commit transaction, with the account as it is there.
    static func decide(_ account: SenderAccount, fallbackCanSend: Bool, policy: IntakePolicy) -> Disposition {
        switch account.state {
        case .ok: policy.syncTimeout == nil ? .queued : .sending
        case .needsReauth, .blocked, .unconfigured:
            fallbackCanSend ? (policy.syncTimeout == nil ? .queued : .sending) : .held(problem: account.problemCode ?? policy.cannotSendProblem)
        }
    }

    /// Commits the row (with its "accepted" event) through the intake
    /// (`MessageIntake.accept(_:readingAccountOf:decide:)`), whose transaction reads the sender's account
    /// and decides the status there (`decide`).
    func storeMessage(
        envelope: Envelope, login: Login?, peer: PeerInfo, sender: MessageSender, header: HeaderCapture, body: StoredBody
    ) async -> Step<MessageRecord> {
        // Account, sandbox flag and status are filled in by the commit, from the account as it is then.
        let message = NewMessage(
            account: "", credentialUsername: login?.username, peer: peer.description,
            tls: envelope.tls, mailFrom: envelope.mailFrom, recipients: envelope.recipients,
            subject: header.subject, messageID: header.messageID, size: Int64(body.size), spoolPath: body.spoolPath,
            inlineBody: body.inline, sandbox: false
        )
        let policy = self.policy
        do {
            let (record, account) = try await committer.accept(message, readingAccountOf: sender) { account, fallbackCanSend in
                switch Self.decide(account, fallbackCanSend: fallbackCanSend, policy: policy) {
                case .held(let problem): (.held, problem)
                case .sending: (.sending, nil)
                case .queued: (.queued, nil)
                }
            }
            metrics.messageAccepted(account: account.name)
            logger.info("message accepted", metadata: [
                "message.id": "\(record.id)", "account": "\(account.name)", "message.size": "\(body.size)", "status": "\(record.status.rawValue)",
            ])
            return .next(record)
        } catch SenderError.loginGone(let username) {
            body.discard()
            logger.error("smtp login vanished before commit", metadata: ["smtp.user": "\(username)"])
            return .stop(SMTPReply(451, "4.7.1", "Login no longer valid, try again"))
        } catch SenderError.accountMissing(let name) {
            body.discard()
            return .stop(SMTPReply(451, "4.3.0", "Account \(name) is not configured"))
        } catch SenderError.unreadable(let error) {
            // The account could not be read: a local problem, not the login's.
            body.discard()
            logger.error("smtp commit: account lookup failed", metadata: ["error": "\(error)"])
            return .stop(error is any StoreUnavailableError ? Self.storeUnavailable : SMTPReply(451, "4.3.0", "Temporary local problem, try again later"))
        } catch let error as any StoreUnavailableError {
            logger.error("message commit failed: the store is unavailable", metadata: ["error": "\(error)"])
            body.discard()
            return .stop(Self.storeUnavailable)
        } catch {
            logger.error("message commit failed", metadata: ["error": "\(error)"])
            body.discard()
            return .stop(.insufficientStorage)
        }
    }

    /// The DATA reply: at once for held and queued mail; in sync mode after the first attempt, or
    /// "queued" when it cannot start or outlasts the sync time-out (it goes on in the background).
    func reply(_ record: MessageRecord, _ disposition: Disposition) async -> SMTPReply {
        let id = record.id
        switch disposition {
        case .held(let problem):
            return SMTPReply(250, "2.0.0", "Ok: queued as \(id), held: \(problem.rawValue)")
        case .queued:
            delivery.wake()
            return SMTPReply(250, "2.0.0", "Ok: queued as \(id)")
        case .sending:
            guard let timeout = policy.syncTimeout else { return SMTPReply(250, "2.0.0", "Ok: queued as \(id)") }
            // The attempt (the delivery worker's actor, the upload) runs on Swift's global executor,
            // not on the connection's event loop that this task prefers.
            return await withTaskExecutorPreference(globalConcurrentExecutor) {
                guard let attempt = await delivery.start(record) else { return SMTPReply(250, "2.0.0", "Ok: queued as \(id)") }
                return Self.reply(id: id, await Self.outcome(of: attempt, within: timeout))
            }
        }
    }

    /// The attempt's outcome, or nil when it is still running after `timeout`; the attempt then goes
    /// on in the background. (Not a task group: a group waits for all its children before it returns,
    /// and waiting for a Task's value does not end when the waiter is cancelled, so the reply would
    /// wait for the attempt however long it took.)
    static func outcome(of attempt: Task<SyncOutcome, Never>, within timeout: Duration) async -> SyncOutcome? {
        let answer = FirstAnswer()
        return await withCheckedContinuation { continuation in
            let timer = Task {
                try? await Task.sleep(for: timeout)
                answer.give(nil, to: continuation)
            }
            Task {
                let outcome = await attempt.value
                timer.cancel()
                answer.give(outcome, to: continuation)
            }
        }
    }

    /// The DATA reply for the first attempt's outcome (nil: still running when the sync time-out came).
    public static func reply(id: Int64, _ outcome: SyncOutcome?) -> SMTPReply {
        switch outcome {
        case .sent(let gmailID): SMTPReply(250, "2.0.0", "Ok: sent as \(gmailID) (log \(id))")
        case .held(let problem): SMTPReply(250, "2.0.0", "Ok: queued as \(id), held: \(problem.rawValue)")
        case .failed(let text): SMTPReply(554, "5.6.0", "\(text) (log \(id))")
        case .queued, nil: SMTPReply(250, "2.0.0", "Ok: queued as \(id)")
        }
    }
}

/// Resumes a continuation once: the first of the attempt and the timer to answer wins.
private final class FirstAnswer: @unchecked Sendable {
    private let lock = NSLock()
    private var answered = false

    func give(_ outcome: SyncOutcome?, to continuation: CheckedContinuation<SyncOutcome?, Never>) {
        let first = lock.withLock {
            defer { answered = true }
            return !answered
        }
        if first { continuation.resume(returning: outcome) }
    }
}
