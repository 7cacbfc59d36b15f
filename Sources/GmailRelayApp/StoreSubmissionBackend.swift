import Delivery
import Foundation
import Logging
import NIOPosix
import RelayConfig
import RelayStore
import RelayVocabulary
import SMTPProtocol
import SMTPServer

/// The SMTP listener's view of the relay: logins are checked against the store, message bytes go to
/// the spool, and a finished message is committed to SQLite before the client hears 250. In sync mode
/// the reply then waits for the first delivery attempt, up to `delivery.sync_timeout_seconds`.
final class StoreSubmissionBackend: SubmissionBackend {
    private let store: RelayStore
    private let committer: GroupCommitter
    private let configuration: RelayConfiguration
    private let worker: DeliveryWorker
    private let metrics: RelayMetrics
    private let logger: Logger

    init(store: RelayStore, configuration: RelayConfiguration, worker: DeliveryWorker, metrics: RelayMetrics, logger: Logger) {
        self.store = store
        // The spool directory is synced once per commit batch, not once per message.
        self.committer = GroupCommitter(store: store, syncsSpoolDirectory: true) { metrics.acceptBatchCommitted(messages: $0) }
        self.configuration = configuration
        self.worker = worker
        self.metrics = metrics
        self.logger = logger
    }

    func authenticate(username: String, password: String, peer: PeerInfo) async -> AuthenticationResult {
        do {
            switch try await store.checkCredential(username: username, password: password) {
            case .valid: return .accepted
            case .invalid: return .rejected
            case .busy: return .temporarilyUnavailable
            }
        } catch {
            // The store could not be read: not the client's fault, so not a 535.
            logger.error("credential check failed", metadata: ["error": "\(error)"])
            return .temporarilyUnavailable
        }
    }

    func openSpool() throws -> any SpoolSink {
        store.spool.receive()
    }

    func commit(envelope: Envelope, spool: any SpoolSink, peer: PeerInfo) async -> SMTPReply {
        guard let sink = spool as? IncomingMessage else { return .localError }
        // Which account sends this: the login's own account (one read: the login and its account), or
        // the trusted networks' account.
        let account: Account
        do {
            if let user = envelope.authenticatedUser {
                guard let found = try await store.account(forLogin: user) else {
                    sink.abandon()
                    logger.error("smtp login vanished before commit", metadata: ["smtp.user": "\(user)"])
                    return SMTPReply(451, "4.7.1", "Login no longer valid, try again")
                }
                account = found
            } else if let trusted = configuration.smtp.trustedAccount {
                guard let found = try await store.account(named: trusted) else {
                    sink.abandon()
                    return SMTPReply(451, "4.3.0", "Account \(trusted) is not configured")
                }
                account = found
            } else {
                sink.abandon()
                return .authRequired
            }
        } catch {
            // The store could not be read: a local problem, not the login's.
            sink.abandon()
            logger.error("smtp commit: account lookup failed", metadata: ["error": "\(error)"])
            return SMTPReply(451, "4.3.0", "Temporary local problem, try again later")
        }

        let finished: IncomingMessage.Finished
        let size = sink.bytesWritten
        let header: (subject: String?, messageID: String?, recipients: Int)
        let envelopeRecipients = envelope.recipients
        let finishAndSummarize = { @Sendable () throws -> (IncomingMessage.Finished, (subject: String?, messageID: String?, recipients: Int)) in
            let finished = try sink.finish()
            switch finished {
            case .inline(let bytes):
                return (finished, SpooledMessage.summary(prefix: bytes, isWholeMessage: true, envelopeRecipients: envelopeRecipients))
            case .file(let path):
                return (finished, SpooledMessage.summary(path: path, envelopeRecipients: envelopeRecipients))
            }
        }
        do {
            // Blocking file work (sync, rename, reading the header back) stays off Swift's cooperative pool;
            // a small message is all in memory and needs no I/O, so no hop to another thread either.
            (finished, header) = sink.isInMemory
                ? try finishAndSummarize()
                : try await NIOThreadPool.singleton.runIfActive { try finishAndSummarize() }
        } catch {
            sink.abandon()
            logger.error("spool commit failed", metadata: ["error": "\(error)"])
            return .insufficientStorage
        }
        let (finalPath, inlineBody): (String?, [UInt8]?) = switch finished {
        case .inline(let bytes): (nil, bytes)
        case .file(let path): (path, nil)
        }
        // Gmail sends to the To, Cc and Bcc headers: they count against smtp.max_recipients as RCPT TO does.
        let limit = configuration.smtp.maxRecipients
        if header.recipients > limit {
            if let finalPath { try? FileManager.default.removeItem(atPath: finalPath) }
            logger.notice("message refused: too many header recipients", metadata: ["smtp.recipients": "\(header.recipients)", "smtp.max_recipients": "\(limit)"])
            return SMTPReply(550, "5.5.3", "Too many recipients: Gmail would send this message to \(header.recipients) addresses (To, Cc, Bcc and RCPT TO together); this relay allows at most \(limit) (smtp.max_recipients)")
        }

        // An account that cannot send holds its mail from the start: no doomed call to Google per message.
        let heldProblem: ProblemCode? = switch account.state {
        case .ok: nil
        case .needsReauth, .blocked, .unconfigured: account.problemCode ?? .grantMissing
        }
        let sync = configuration.delivery.mode == .sync
        let status: MessageStatus = heldProblem != nil ? .held : (sync ? .sending : .queued)
        let id: Int64
        do {
            id = try await committer.accept(
                NewMessage(
                    account: account.name, credentialUsername: envelope.authenticatedUser, peer: peer.description,
                    tls: envelope.tls, mailFrom: envelope.mailFrom, recipients: envelope.recipients,
                    subject: header.subject, messageID: header.messageID, size: Int64(size), spoolPath: finalPath,
                    inlineBody: inlineBody, sandbox: account.kind == .sandbox, status: status, problemCode: heldProblem
                )
            )
        } catch {
            logger.error("message commit failed", metadata: ["error": "\(error)"])
            if let finalPath { try? FileManager.default.removeItem(atPath: finalPath) }
            return .insufficientStorage
        }
        metrics.messageAccepted(account: account.name)
        logger.info("message accepted", metadata: [
            "message.id": "\(id)", "account": "\(account.name)", "message.size": "\(size)", "status": "\(status.rawValue)",
        ])

        if let heldProblem { return SMTPReply(250, "2.0.0", "Ok: queued as \(id), held: \(heldProblem)") }
        guard sync else {
            worker.wake()
            return SMTPReply(250, "2.0.0", "Ok: queued as \(id)")
        }
        guard let record = try? await store.message(id: id), let task = await worker.sendNow(record) else {
            return SMTPReply(250, "2.0.0", "Ok: queued as \(id)")
        }
        let timeout = configuration.delivery.syncTimeout
        let result: AttemptResult? = await withTaskGroup(of: AttemptResult?.self) { group in
            group.addTask { await task.value }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return Self.reply(id: id, result)
    }

    /// The DATA reply for the first attempt's result (nil: still running when the sync time-out came).
    static func reply(id: Int64, _ result: AttemptResult?) -> SMTPReply {
        switch result {
        case .sent(let gmailID): return SMTPReply(250, "2.0.0", "Ok: sent as \(gmailID) (log \(id))")
        case .held(let problem): return SMTPReply(250, "2.0.0", "Ok: queued as \(id), held: \(problem.rawValue)")
        case .failed(_, let text): return SMTPReply(554, "5.6.0", "\(text) (log \(id))")
        case .queued, nil: return SMTPReply(250, "2.0.0", "Ok: queued as \(id)")
        }
    }
}

/// The store's incoming message is the SMTP glue's sink as it is (same write and abandon).
extension IncomingMessage: SpoolSink {}
