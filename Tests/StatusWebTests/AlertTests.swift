import AccountAlerts
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RelayStatus
import RelayStore
import RelayVocabulary
import ServiceLifecycle
import Testing

/// A real HTTP receiver on a loopback port that records every POST and answers with scripted statuses.
final class WebhookReceiver: @unchecked Sendable {
    private let lock = NSLock()
    private var bodies: [Data] = []
    private var statuses: [HTTPResponse.Status]
    private var task: Task<Void, any Error>?
    private(set) var url: URL!

    private let finalStatus: HTTPResponse.Status
    private let answer: String

    /// `failFirst` 500s, then `status` with `answer` as the body.
    init(failFirst: Int = 0, status: HTTPResponse.Status = .noContent, answer: String = "") {
        statuses = Array(repeating: .internalServerError, count: failFirst)
        finalStatus = status
        self.answer = answer
    }

    var received: [Data] { lock.withLock { bodies } }

    func start() async throws {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            let status: HTTPResponse.Status = self.lock.withLock {
                self.bodies.append(Data(buffer: body))
                return self.statuses.isEmpty ? self.finalStatus : self.statuses.removeFirst()
            }
            guard status != .noContent else { return Response(status: status) }
            return Response(status: status, body: .init(byteBuffer: ByteBuffer(string: self.answer)))
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "receiver")
        logger.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress!.port!) }, logger: logger)
        task = Task { try await app.runService() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        url = URL(string: "http://127.0.0.1:\(port)/hook")!
    }

    func stop() { task?.cancel() }

    /// Waits (bounded) until `count` bodies arrived.
    func wait(for count: Int, seconds: Double = 15) async throws -> [Data] {
        let deadline = Date().addingTimeInterval(seconds)
        while received.count < count && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return received
    }
}

@Suite struct AlertWebhook {
    /// A watcher, and a stream that yields once its baseline reading is taken (no sleeping on a guess:
    /// under load the first reading can take longer than any fixed wait).
    func makeWatcher(_ f: Fixture, _ receiver: WebhookReceiver) -> (AccountStateWatcher, AsyncStream<Void>) {
        var logger = Logger(label: "alerts-test")
        logger.logLevel = .critical
        let (baseline, taken) = AsyncStream.makeStream(of: Void.self)
        let watcher = AccountStateWatcher(
            reporter: StatusReporter(store: f.store), webhook: receiver.url, interval: .milliseconds(50),
            retry: AlertRetryPolicy(attempts: 4, firstDelay: .milliseconds(20), maximumDelay: .milliseconds(100)), logger: logger,
            baselineTaken: { taken.yield(); taken.finish() })
        return (watcher, baseline)
    }

    func untilBaseline(_ baseline: AsyncStream<Void>) async {
        for await _ in baseline { return }
    }

    @Test func postsStateChangesWithTheProblemAndRetries() async throws {
        let f = try Fixture()
        try await f.addAccount("shop", address: "owner@shop.example")
        let receiver = WebhookReceiver(failFirst: 2)
        try await receiver.start()
        defer { receiver.stop() }
        let (watcher, baseline) = makeWatcher(f, receiver)
        let running = Task { try await watcher.run() }
        defer { running.cancel() }
        await untilBaseline(baseline)
        try await Task.sleep(for: .milliseconds(150))  // a few more readings of the unchanged state
        #expect(receiver.received.isEmpty, "no alert for the state at start")

        try await f.block("shop", state: .needsReauth, code: .grantRevoked)
        // Two 500s, then the third try is accepted: three identical bodies.
        let bodies = try await receiver.wait(for: 3)
        #expect(bodies.count == 3)
        #expect(Set(bodies).count == 1)
        let first = try #require(bodies.first)
        let alert = try #require(try JSONSerialization.jsonObject(with: first) as? [String: Any])
        #expect(alert["account"] as? String == "shop")
        #expect(alert["email"] as? String == "owner@shop.example")
        #expect(alert["from_state"] as? String == "ok")
        #expect(alert["to_state"] as? String == "needs_reauth")
        #expect(ISO8601.date(alert["at"] as? String ?? "") != nil)
        let problem = try #require(alert["problem"] as? [String: Any])
        #expect(problem["code"] as? String == "grant_revoked")
        #expect(problem["title"] as? String == "Authorization expired or revoked")
        #expect((problem["steps"] as? [String])?.contains { $0.contains("gmail-relay reauth shop") } == true)

        // And back.
        try await f.recordSuccess("shop")
        let all = try await receiver.wait(for: 4)
        try #require(all.count >= 4)
        let back = try #require(try JSONSerialization.jsonObject(with: all[3]) as? [String: Any])
        #expect(back["from_state"] as? String == "needs_reauth")
        #expect(back["to_state"] as? String == "ok")
        #expect(back["problem"] is NSNull)
    }

    @Test func givesUpAfterTheLastTry() async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        let receiver = WebhookReceiver(failFirst: 100)
        try await receiver.start()
        defer { receiver.stop() }
        let (watcher, baseline) = makeWatcher(f, receiver)
        let running = Task { try await watcher.run() }
        defer { running.cancel() }
        await untilBaseline(baseline)
        try await f.block("shop", code: .apiDisabled)
        _ = try await receiver.wait(for: 4)
        try await Task.sleep(for: .milliseconds(400))
        #expect(receiver.received.count == 4, "bounded: exactly `attempts` tries")
    }

    @Test func stateChangesArePure() async throws {
        let f = try Fixture()
        let a = try await f.addAccount("a")
        let b = try await f.addAccount("b")
        var changedB = b
        changedB.state = .blocked
        let changes = StateChanges.between(["a": .ok, "b": .ok, "gone": .ok], [a, changedB])
        #expect(changes.map(\.account.name) == ["b"])
        #expect(changes.first?.from == .ok)
        #expect(StateChanges.between([:], [a]).isEmpty, "a new account is not a change")
    }

    @Test func backoffIsBounded() {
        let policy = AlertRetryPolicy(attempts: 6, firstDelay: .seconds(1), maximumDelay: .seconds(30))
        #expect((1...7).map { policy.delay(after: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
    }
}
