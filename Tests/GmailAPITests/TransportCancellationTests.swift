import FakeGoogle
import Foundation
import XCTest

@testable import GmailAPI

/// Cancelling a call in flight must end it, whenever the cancel lands. FoundationNetworking's own
/// `URLSession.data(for:)` deadlocks when the cancel races the answer (swift-corelibs-foundation
/// #5412: the cancelling thread holds the task's status lock and waits for the session's work queue,
/// which waits for that lock to resume the task). `serve` cancels calls in flight on shutdown.
final class TransportCancellationTests: XCTestCase {
    var fake: FakeGoogleServer!
    var base: URL!

    override func setUp() async throws {
        fake = FakeGoogleServer()
        base = try await fake.start()
    }

    override func tearDown() async throws {
        await fake.stop()
    }

    /// Hundreds of calls, each cancelled after a random moment around the answer's arrival.
    /// Each must finish (answered or cancelled) within a bound; a deadlock shows as a failure here
    /// instead of a hung test run, since the cancel is issued from a plain dispatch thread.
    func testCancelRacingTheAnswerNeverHangs() async throws {
        let transport = HTTPTransport(timeout: 10)
        let url = base.appendingPathComponent("tokeninfo")
        var answered = 0, cancelled = 0
        for round in 0..<400 {
            let call = Task { try await transport.get(url) }
            let delay = Double.random(in: 0...0.003)
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { call.cancel() }
            let outcome = await Self.outcome(of: call, within: 10)
            switch outcome {
            case .answered: answered += 1
            case .failed: cancelled += 1
            case .timedOut:
                return XCTFail("call \(round) neither answered nor ended after its cancel (deadlock)")
            }
        }
        XCTAssertEqual(answered + cancelled, 400)
        // The race is real only if both sides of it happened.
        XCTAssertGreaterThan(cancelled, 0, "no cancel ever landed before the answer")
        XCTAssertGreaterThan(answered, 0, "no answer ever beat the cancel")
        // And the transport still works afterwards.
        let response = try await transport.get(url)
        XCTAssertEqual(response.status, 400)
    }

    func testACancelledCallThrowsATransportError() async throws {
        fake.addUser(email: "owner@example.com")
        let token = fake.issueAccessToken(email: "owner@example.com", scopes: [GmailScope.send])
        fake.inject(.hang(seconds: 5), endpoint: .send)
        let transport = HTTPTransport(timeout: 10)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cancel-\(UUID().uuidString).eml")
        try Data("Subject: x\r\n\r\nbody\r\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let url = base.appendingPathComponent("upload/gmail/v1/users/me/messages/send")
        let started = Date()
        let call = Task { try await transport.upload(url, file: file, contentType: "message/rfc822", bearer: token) }
        try await Task.sleep(for: .milliseconds(200))
        call.cancel()
        let outcome = await Self.outcome(of: call, within: 10)
        guard case .failed(let error) = outcome else { return XCTFail("expected a failure, got \(outcome)") }
        XCTAssertTrue(error is TransportError, "\(error)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 4, "the cancel ended the call, not the hang")
    }

    enum Outcome: CustomStringConvertible {
        case answered(HTTPResponse), failed(any Error), timedOut
        var description: String {
            switch self {
            case .answered(let response): "answered \(response.status)"
            case .failed(let error): "failed \(error)"
            case .timedOut: "timed out"
            }
        }
    }

    /// The call's result, or `.timedOut`: whichever comes first (a deadlocked task never resumes, so
    /// this must not await it structurally).
    static func outcome(of call: Task<HTTPResponse, any Error>, within seconds: Double) async -> Outcome {
        let once = OnceResume()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            once.set(continuation)
            Task.detached {
                do { once.resume(.answered(try await call.value)) } catch { once.resume(.failed(error)) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { once.resume(.timedOut) }
        }
    }

    final class OnceResume: @unchecked Sendable {
        private let lock = NSLock()
        private var continuation: CheckedContinuation<Outcome, Never>?
        func set(_ continuation: CheckedContinuation<Outcome, Never>) { lock.withLock { self.continuation = continuation } }
        func resume(_ outcome: Outcome) {
            let waiting = lock.withLock { () -> CheckedContinuation<Outcome, Never>? in
                defer { continuation = nil }
                return continuation
            }
            waiting?.resume(returning: outcome)
        }
    }
}
