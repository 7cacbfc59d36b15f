import Delivery
import RelayConfig
import RelayStore
import Submission

/// Intake's sync-delivery seam, wired to the delivery worker.
struct WorkerSyncDelivery: SyncDelivery {
    let worker: DeliveryWorker

    func wake() { worker.wake() }

    func start(_ message: MessageRecord) async -> Task<SyncOutcome, Never>? {
        guard let attempt = await worker.sendNow(message) else { return nil }
        return Task { Self.outcome(await attempt.value) }
    }

    static func outcome(_ result: AttemptResult) -> SyncOutcome {
        switch result {
        case .sent(let gmailID): .sent(gmailID: gmailID)
        case .held(let problem): .held(problem: problem)
        case .failed(_, let text): .failed(text: text)
        case .queued: .queued
        }
    }
}

extension RelayMetrics: IntakeMetrics {}

extension IntakePolicy {
    /// Intake's settings from the configuration.
    init(_ configuration: RelayConfiguration) {
        self.init(
            maxRecipients: configuration.smtp.maxRecipients, trustedAccount: configuration.smtp.trustedAccount,
            syncTimeout: configuration.delivery.mode == .sync ? configuration.delivery.syncTimeout : nil,
            cannotSendProblem: .grantMissing)
    }
}
