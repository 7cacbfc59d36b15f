import Foundation
import Logging
import RelayStore

/// Delivery for sandbox accounts: every step a real send takes (the header rewrite Gmail would get,
/// an attempt in the send log) except the HTTP call to Google. The message is recorded as sent.
final class SandboxDelivery: Sendable {
    private let store: RelayStore
    private let hostname: String
    private let logger: Logger

    init(store: RelayStore, hostname: String, logger: Logger) {
        self.store = store
        self.hostname = hostname
        self.logger = logger
    }

    /// Returns the pretend Gmail id, or nil when the message could not be processed (it stays queued).
    func deliver(messageID id: Int64) async -> String? {
        do {
            guard let message = try await store.message(id: id), let spoolPath = message.spoolPath else { return nil }
            let account = try await store.account(named: message.account)
            let started = Date()
            let outgoing = spoolPath + ".outgoing"
            let result = try SpooledMessage.writeOutgoing(
                spoolPath: spoolPath, to: outgoing, envelopeRecipients: message.recipients,
                accountAddresses: account?.fromAddresses ?? [], now: started, messageIDDomain: hostname
            )
            try? FileManager.default.removeItem(atPath: outgoing)
            let headers = String(decoding: result.header, as: UTF8.self)
            try await store.setRewrittenHeaders(id: id, headers: headers)
            let changes = result.changes.map(\.description).joined(separator: "\n")
            try await store.recordAttempt(
                NewAttempt(
                    messageID: id, startedAt: started, finishedAt: Date(), endpoint: "sandbox",
                    httpStatus: nil, responseBody: "sandbox: not sent to Google" + (changes.isEmpty ? "" : "\nrewritten:\n" + changes),
                    problemCode: nil, nextDelaySeconds: nil
                )
            )
            let gmailID = "sandbox-\(id)"
            try await store.markSent(id: id, gmailID: gmailID)
            return gmailID
        } catch {
            logger.error("sandbox delivery failed", metadata: ["message.id": "\(id)", "error": "\(error)"])
            return nil
        }
    }
}
