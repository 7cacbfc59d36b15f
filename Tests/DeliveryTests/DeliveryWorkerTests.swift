import Foundation
import GmailAPI
import Logging
import RelayStore
import RelayVocabulary
import Testing

@testable import Delivery

/// The worker's claiming rhythm, with a real SQLite store and a sandbox account (sent without Google:
/// what is measured here is the worker's own looking and claiming).
@Suite struct DeliveryWorkerTests {
    let store: RelayStore
    let metrics = RelayMetrics()
    let deliverer: MessageDeliverer
    let directory = NSTemporaryDirectory() + "worker-" + UUID().uuidString
    let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    init() async throws {
        store = try RelayStore.open(dataDirectory: directory)
        try await store.addAccount(name: "shop", kind: .sandbox, fromAddresses: ["shop@example.com"], secret: nil, state: .ok)
        // Never called for a sandbox account; the deliverer needs them all the same.
        let nowhere = URL(string: "http://127.0.0.1:9/")!
        let endpoints = GoogleEndpoints(authURL: nowhere, tokenURL: nowhere, gmailURL: nowhere, tokeninfoURL: nowhere, revokeURL: nowhere)
        let transport = HTTPTransport(timeout: 1)
        deliverer = MessageDeliverer(
            store: store, tokens: AccountTokens(store: store, endpoints: endpoints, transport: transport, metrics: metrics),
            sender: GmailSender(endpoints: endpoints, transport: transport), policy: RetryPolicy(), hostname: "relay.test",
            metrics: metrics, logger: silent)
    }

    func worker(concurrency: Int = 8, _ change: (inout DeliveryWorker.Options) -> Void) -> DeliveryWorker {
        var options = DeliveryWorker.Options()
        change(&options)
        return DeliveryWorker(store: store, deliverer: deliverer, lanes: DeliveryLanes(concurrency: concurrency, sendsPerMinute: 100_000),
                              options: options, logger: silent)
    }

    /// Accepts one queued message as the SMTP path does (body inline) and rings the worker.
    func queue(_ worker: DeliveryWorker) async throws {
        let body = Array("From: shop@example.com\r\nTo: alice@example.com\r\nSubject: Order\r\n\r\nThanks!\r\n".utf8)
        _ = try await GroupCommitter(store: store).accept(NewMessage(
            account: "shop", credentialUsername: nil, peer: "127.0.0.1:5000", tls: false, mailFrom: "shop@example.com",
            recipients: ["alice@example.com"], subject: "Order", messageID: nil, size: Int64(body.count), spoolPath: nil,
            inlineBody: body, sandbox: true, status: .queued))
        worker.wake()
    }

    /// Waits up to `seconds` until `count` messages are sent.
    func waitSent(_ count: Int, within seconds: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await store.messages(status: .sent, limit: 1000).count == count { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    func counter(_ name: String) -> Int {
        let line = metrics.prometheusText().split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func mailArrivingWithinTheClaimIntervalIsClaimedTogether() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let worker = worker { $0.claimInterval = .milliseconds(400) }
        let running = Task { try await worker.run() }
        defer { running.cancel() }
        try await queue(worker)
        #expect(try await waitSent(1, within: 10), "an idle worker claims at once")
        for _ in 0..<5 { try await queue(worker) }
        #expect(try await waitSent(6, within: 10))
        #expect(counter("relay_delivery_claimed_messages_total") == 6)
        // One claim for the first message and one for the burst (two if the burst straddled an interval).
        #expect(counter("relay_delivery_claims_total") <= 3, "\(metrics.prometheusText())")
    }

    /// Mail left queued because every slot was taken goes out as sends end, without waiting for the poll.
    @Test func mailWaitingForASlotGoesWhenOneFrees() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let worker = worker(concurrency: 1) {
            $0.pollInterval = .seconds(60)
            $0.claimInterval = .milliseconds(1)
        }
        for _ in 0..<5 { try await queue(worker) }
        let running = Task { try await worker.run() }
        defer { running.cancel() }
        #expect(try await waitSent(5, within: 20), "sent through one slot in turn, long before the 60 s poll")
        #expect(counter("relay_delivery_claims_total") == 5, "one message per claim: the lane has one slot")
    }
}
