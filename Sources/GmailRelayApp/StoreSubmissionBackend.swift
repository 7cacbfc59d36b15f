import Foundation
import Logging
import MessageRewrite
import NIOPosix
import RelayConfig
import RelayStore
import SMTPProtocol
import SMTPServer

/// The SMTP listener's view of the relay: logins are checked against the store, message bytes go to
/// the spool, and a finished message is committed to SQLite before the client hears 250.
final class StoreSubmissionBackend: SubmissionBackend {
    private let store: RelayStore
    private let configuration: RelayConfiguration
    private let delivery: SandboxDelivery
    private let logger: Logger

    init(store: RelayStore, configuration: RelayConfiguration, delivery: SandboxDelivery, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.delivery = delivery
        self.logger = logger
    }

    func authenticate(username: String, password: String, peer: PeerInfo) async -> Bool {
        do {
            return try await store.verifyCredential(username: username, password: password) != nil
        } catch {
            logger.error("credential check failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    func openSpool() throws -> any SpoolSink {
        try store.spool.create()
    }

    func commit(envelope: Envelope, spool: any SpoolSink, peer: PeerInfo) async -> SMTPReply {
        guard let sink = spool as? SpoolFile else { return .localError }
        // Which account sends this: the login's own account, or the trusted networks' account.
        let accountName: String
        if let user = envelope.authenticatedUser {
            guard let credential = try? await store.credential(username: user) else {
                sink.abandon()
                logger.error("smtp login vanished before commit", metadata: ["smtp.user": "\(user)"])
                return SMTPReply(451, "4.7.1", "Login no longer valid, try again")
            }
            accountName = credential.account
        } else if let trusted = configuration.smtp.trustedAccount {
            accountName = trusted
        } else {
            sink.abandon()
            return .authRequired
        }
        guard let account = try? await store.account(named: accountName) else {
            sink.abandon()
            return SMTPReply(451, "4.3.0", "Account \(accountName) is not configured")
        }

        let finalPath: String
        let size: Int
        do {
            size = sink.bytesWritten
            finalPath = try await NIOThreadPool.singleton.runIfActive { try sink.finish() }
        } catch {
            sink.abandon()
            logger.error("spool commit failed", metadata: ["error": "\(error)"])
            return .insufficientStorage
        }

        let header = SpooledMessage.summary(path: finalPath)
        let id: Int64
        do {
            id = try await store.acceptMessage(
                NewMessage(
                    account: account.name, credentialUsername: envelope.authenticatedUser, peer: peer.description,
                    tls: envelope.tls, mailFrom: envelope.mailFrom, recipients: envelope.recipients,
                    subject: header.subject, messageID: header.messageID, size: Int64(size), spoolPath: finalPath,
                    sandbox: account.kind == .sandbox
                )
            )
        } catch {
            logger.error("message commit failed", metadata: ["error": "\(error)"])
            try? FileManager.default.removeItem(atPath: finalPath)
            return .insufficientStorage
        }
        logger.info("message accepted", metadata: ["message.id": "\(id)", "account": "\(account.name)", "message.size": "\(size)"])

        if configuration.delivery.mode == .sync && account.kind == .sandbox {
            if let gmailID = await delivery.deliver(messageID: id) {
                return SMTPReply(250, "2.0.0", "Ok: sent as \(gmailID) (log \(id))")
            }
        }
        return SMTPReply(250, "2.0.0", "Ok: queued as \(id)")
    }
}

/// The store's spool file is the SMTP glue's sink as it is (same write and abandon).
extension SpoolFile: SpoolSink {}
