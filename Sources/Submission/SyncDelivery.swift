import RelayStore
import RelayVocabulary

/// The delivery side as intake sees it: wake the queue for a queued message, or (delivery.mode = sync)
/// start the first attempt now so the DATA reply can carry its outcome. The app wires it to
/// DeliveryWorker; intake does not import Delivery.
public protocol SyncDelivery: Sendable {
    /// A message was queued: look at the queue now rather than at the next poll.
    func wake()
    /// Starts the first attempt for a message stored as `sending`. Nil when it cannot start now (the
    /// account's lane is full or paused): the message is then back in the queue.
    func start(_ message: MessageRecord) async -> Task<SyncOutcome, Never>?
}

/// How a first attempt ended, as far as the SMTP reply cares.
public enum SyncOutcome: Sendable, Equatable {
    case sent(gmailID: String)
    case held(problem: ProblemCode)
    /// Gmail refused the message for good; `text` is what the client is told.
    case failed(text: String)
    /// Back in the queue for a later attempt.
    case queued
}

/// Counters intake reports to (the app's Prometheus registry).
public protocol IntakeMetrics: Sendable {
    func messageAccepted(account: String)
    func acceptBatchCommitted(messages: Int)
}
