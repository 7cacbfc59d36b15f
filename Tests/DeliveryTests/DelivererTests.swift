import FakeGoogle
import Foundation
import GmailAPI
import Logging
import RelayStore
import RelayVocabulary
import XCTest
import _CryptoExtras
@testable import Delivery

/// The delivery engine against the fake Google over real HTTP (URLSession), with a real SQLite store.
final class DelivererTests: XCTestCase {
    var google: FakeGoogleServer!
    var store: RelayStore!
    var tokens: AccountTokens!
    var deliverer: MessageDeliverer!
    var metrics: RelayMetrics!
    var refreshToken: String!
    var endpoints: GoogleEndpoints!
    let silent = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    override func setUp() async throws {
        google = FakeGoogleServer()
        _ = try await google.start()
        google.addOAuthClient(id: "cid", secret: "csecret")
        refreshToken = google.issueRefreshToken(clientID: "cid", email: "shop@example.com", scopes: [GmailScope.send])
        let directory = NSTemporaryDirectory() + "delivery-" + UUID().uuidString
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        store = try RelayStore.open(dataDirectory: directory)
        try await store.addAccount(
            name: "shop", kind: .oauthUser, fromAddresses: ["shop@example.com"],
            secret: try StoredGrant.oauthClient(clientID: "cid", clientSecret: "csecret", refreshToken: refreshToken).encoded(),
            state: .ok)
        endpoints = GoogleEndpoints(authURL: google.authURL!, tokenURL: google.tokenURL!, gmailURL: google.gmailURL!,
                                    tokeninfoURL: google.tokeninfoURL!, revokeURL: google.revokeURL!)
        let transport = HTTPTransport(timeout: 10)
        metrics = RelayMetrics()
        tokens = AccountTokens(store: store, endpoints: endpoints, transport: transport, metrics: metrics)
        // Tiny delays, so a retry is due a few milliseconds later.
        deliverer = MessageDeliverer(
            store: store, tokens: tokens, sender: GmailSender(endpoints: endpoints, transport: transport),
            policy: RetryPolicy(initialDelay: 0.001, maximumDelay: 0.01), hostname: "relay.test", metrics: metrics, logger: silent)
    }

    override func tearDown() async throws {
        await google.stop()
    }

    /// Spools a message and accepts it as the SMTP path would, claimed for sending.
    func submit(
        _ body: String = "From: shop@example.com\r\nTo: alice@example.com\r\nSubject: Order 1001\r\n\r\nThanks!\r\n",
        to recipients: [String] = ["alice@example.com"], account: String = "shop", status: MessageStatus = .sending
    ) async throws -> MessageRecord {
        let file = try store.spool.create()
        try file.write(Array(body.utf8))
        let path = try file.finish()
        let id = try await GroupCommitter(store: store).accept(NewMessage(
            account: account, credentialUsername: "site1", peer: "127.0.0.1:5000", tls: false, mailFrom: "shop@example.com",
            recipients: recipients, subject: "Order", messageID: nil, size: Int64(body.utf8.count), spoolPath: path,
            sandbox: false, status: status)).id
        return try await store.message(id: id)!
    }

    func expectState(_ name: String, _ expected: AccountState, file: StaticString = #filePath, line: UInt = #line) async throws {
        let account = try await store.account(named: name)
        XCTAssertEqual(account?.state, expected, "account \(name)", file: file, line: line)
    }

    func expectStatus(_ id: Int64, _ expected: MessageStatus, file: StaticString = #filePath, line: UInt = #line) async throws {
        let message = try await store.message(id: id)
        XCTAssertEqual(message?.status, expected, "message \(id)", file: file, line: line)
    }

    /// Claims what is due as the worker does, every account with room for all of it.
    func claimDue() async throws -> [MessageRecord] {
        try await store.claimDue(limit: 100, capacities: try await store.dueCounts(limit: 100))
    }

    /// Takes the message for another attempt once its retry is due.
    func reclaim(_ id: Int64) async throws -> MessageRecord {
        for _ in 0..<200 {
            if let claimed = try await claimDue().first(where: { $0.id == id }) { return claimed }
            try await Task.sleep(for: .milliseconds(5))
        }
        XCTFail("message \(id) never became due")
        throw CancellationError()
    }

    func testSendsWithEnvelopeRecipientsAsBccAndLogsTheAttempt() async throws {
        let message = try await submit(to: ["alice@example.com", "hidden@example.com"])
        let result = await deliverer.deliver(message)
        guard case .sent(let gmailID) = result else { return XCTFail("\(result)") }
        XCTAssertEqual(google.outbox.count, 1)
        let sent = google.outbox[0]
        XCTAssertEqual(sent.id, gmailID)
        XCTAssertEqual(sent.to, ["alice@example.com"])
        XCTAssertEqual(sent.bcc, ["hidden@example.com"], "an envelope-only recipient goes to Gmail as Bcc")
        XCTAssertTrue(String(decoding: sent.raw, as: UTF8.self).hasSuffix("\r\n\r\nThanks!\r\n"), "body bytes unchanged")
        XCTAssertTrue(String(decoding: sent.raw, as: UTF8.self).contains("Message-ID: <relay-\(message.id)."))
        let stored = try await store.message(id: message.id)!
        XCTAssertEqual(stored.status, .sent)
        XCTAssertEqual(stored.gmailID, gmailID)
        XCTAssertNotNil(stored.rewrittenHeaders)
        let attempts = try await store.attempts(messageID: message.id)
        XCTAssertEqual(attempts.map(\.httpStatus), [200])
        XCTAssertTrue(attempts[0].endpoint.hasSuffix("/upload/gmail/v1/users/me/messages/send?uploadType=media"))
        let account = try await store.account(named: "shop")!
        XCTAssertNotNil(account.lastSuccessAt)
        XCTAssertNotNil(account.tokenExpiresAt)
        XCTAssertTrue(metrics.prometheusText().contains(#"relay_messages_total{account="shop",outcome="sent"} 1"#), metrics.prometheusText())
    }

    /// A small message lives in the database with its row (IncomingMessage): it goes to Gmail the same way.
    func testAMessageStoredInTheDatabaseIsSentByteForByte() async throws {
        let body = "From: shop@example.com\r\nTo: alice@example.com\r\nSubject: Inline\r\n\r\nStored with its row.\r\n"
        let incoming = store.spool.receive()
        try incoming.write(Array(body.utf8))
        guard case .inline(let bytes) = try incoming.finish() else { return XCTFail("a small message went to a file") }
        let id = try await GroupCommitter(store: store).accept(NewMessage(
            account: "shop", credentialUsername: "site1", peer: "127.0.0.1:5000", tls: false, mailFrom: "shop@example.com",
            recipients: ["alice@example.com", "hidden@example.com"], subject: "Inline", messageID: nil, size: Int64(bytes.count),
            spoolPath: nil, inlineBody: bytes, sandbox: false, status: .sending)).id
        let message = try await store.message(id: id)!
        XCTAssertNil(message.spoolPath)
        let result = await deliverer.deliver(message)
        guard case .sent = result else { return XCTFail("\(result)") }
        let sent = google.outbox[0]
        XCTAssertEqual(sent.bcc, ["hidden@example.com"])
        XCTAssertTrue(String(decoding: sent.raw, as: UTF8.self).hasSuffix("\r\n\r\nStored with its row.\r\n"))
        // Retention removes the body with its row.
        let inline = try await store.inlineBody(messageID: id)
        XCTAssertEqual(inline, Array(body.utf8))
        _ = try await store.purge(before: Date().addingTimeInterval(3600))
        let afterPurge = try await store.inlineBody(messageID: id)
        XCTAssertNil(afterPurge)
    }

    func testBackendErrorsAreRetriedAndEveryBodyIsKept() async throws {
        google.inject(.backendError500, endpoint: .send, count: 2)
        var message = try await submit()
        var results: [AttemptResult] = []
        for round in 0..<3 {
            if round > 0 { message = try await reclaim(message.id) }
            results.append(await deliverer.deliver(message))
        }
        guard case .queued(let problem, _, false) = results[0] else { return XCTFail("\(results)") }
        XCTAssertEqual(problem, .backendError)
        guard case .sent = results[2] else { return XCTFail("\(results)") }
        let attempts = try await store.attempts(messageID: message.id)
        XCTAssertEqual(attempts.map(\.httpStatus), [500, 500, 200])
        XCTAssertEqual(attempts.map(\.problem), [.backendError, .backendError, nil])
        for attempt in attempts.prefix(2) {
            XCTAssertTrue(attempt.responseBody?.contains("\"reason\": \"backendError\"") == true, attempt.responseBody ?? "nil")
            XCTAssertNotNil(attempt.nextDelaySeconds)
        }
        XCTAssertEqual(google.outbox.count, 1)
        let events = try await store.events(messageID: message.id).map(\.kind.rawValue)
        XCTAssertEqual(events.filter { $0 == "queued" }.count, 2, "\(events)")
    }

    func testRevokedGrantHoldsTheMessageAndTheAccountsQueuedMail() async throws {
        google.revokeRefreshToken(refreshToken)
        let first = try await submit()
        let waiting = try await submit(status: .queued)
        let result = await deliverer.deliver(first)
        XCTAssertEqual(result, .held(problem: .grantRevoked))
        let account = try await store.account(named: "shop")!
        XCTAssertEqual(account.state, .needsReauth)
        XCTAssertEqual(account.problemCode, .grantRevoked)
        XCTAssertEqual(account.problemDetail?.googleMessage, "Token has been expired or revoked.")
        let second = try await store.message(id: waiting.id)!
        XCTAssertEqual(second.status, .held, "later mail of a blocked account is held too")
        let attempts = try await store.attempts(messageID: first.id)
        XCTAssertEqual(attempts.count, 1, "the token request is the attempt")
        XCTAssertEqual(attempts[0].httpStatus, 400)
        XCTAssertEqual(attempts[0].endpoint, google.tokenURL!.absoluteString)
        XCTAssertTrue(attempts[0].responseBody?.contains("\"error\": \"invalid_grant\"") == true)
        XCTAssertEqual(google.sendRequestCount, 0)

        // A person fixed it (here: a new grant as reauth would store); retrying sends and releases the rest.
        let fresh = google.issueRefreshToken(clientID: "cid", email: "shop@example.com", scopes: [GmailScope.send])
        try await store.updateAccount(AccountUpdate(
            name: "shop", secret: try StoredGrant.oauthClient(clientID: "cid", clientSecret: "csecret", refreshToken: fresh).encoded(),
            afterwards: .unchanged))
        try await store.retry(id: first.id)
        let again = await deliverer.deliver(try await reclaim(first.id))
        guard case .sent = again else { return XCTFail("\(again)") }
        try await expectState("shop", .ok)
        try await expectStatus(waiting.id, .queued)
    }

    func testFailedPreconditionOnceIsRetriedTwiceHolds() async throws {
        google.inject(.failedPrecondition, endpoint: .send, count: 1)
        let once = try await submit()
        let first = await deliverer.deliver(once)
        XCTAssertEqual(first.problemCode, .preconditionTransient)
        guard case .sent = await deliverer.deliver(try await reclaim(once.id)) else { return XCTFail("not sent after one failedPrecondition") }

        google.inject(.failedPrecondition, endpoint: .send, count: 2)
        let twice = try await submit()
        let firstOfTwo = await deliverer.deliver(twice)
        XCTAssertEqual(firstOfTwo.problemCode, .preconditionTransient)
        let result = await deliverer.deliver(try await reclaim(twice.id))
        XCTAssertEqual(result, .held(problem: .preconditionFailed))
        try await expectState("shop", .blocked)
    }

    func testInvalidArgumentFailsTheMessageWithGmailsWords() async throws {
        google.inject(.invalidArgumentRecipient, endpoint: .send, count: 1)
        let message = try await submit()
        let result = await deliverer.deliver(message)
        XCTAssertEqual(result, .failed(problem: .messageRejected, smtpText: "Recipient address required"))
        try await expectStatus(message.id, .failed)
        try await expectState("shop", .ok)
    }

    func testDailyLimitPausesTheAccountUntilGmailsTime() async throws {
        let retry = Date().addingTimeInterval(5400)
        google.inject(.dailyLimit(retryAfter: retry), endpoint: .send, count: 1)
        let message = try await submit()
        let result = await deliverer.deliver(message)
        guard case .queued(let problem, let next, true) = result else { return XCTFail("\(result)") }
        XCTAssertEqual(problem, .dailyLimit)
        XCTAssertEqual(next.timeIntervalSince1970, retry.timeIntervalSince1970, accuracy: 1)
        let account = try await store.account(named: "shop")!
        XCTAssertEqual(account.problemCode, .dailyLimit)
        XCTAssertEqual(account.problemDetail?.retryAfter?.timeIntervalSince1970 ?? 0, retry.timeIntervalSince1970, accuracy: 1)
        let stored = try await store.message(id: message.id)!
        XCTAssertEqual(stored.status, .queued)
        XCTAssertEqual(stored.nextAttemptAt?.timeIntervalSince1970 ?? 0, retry.timeIntervalSince1970, accuracy: 1)
    }

    func testRateLimitRetryTimeIsHonoured() async throws {
        let retry = Date().addingTimeInterval(900)
        google.inject(.userRateLimit(retryAfter: retry), endpoint: .send, count: 1)
        let message = try await submit()
        guard case .queued(.rateLimited, let next, false) = await deliverer.deliver(message) else { return XCTFail() }
        XCTAssertEqual(next.timeIntervalSince1970, retry.timeIntervalSince1970, accuracy: 1)
        let claimable = try await claimDue()
        XCTAssertTrue(claimable.isEmpty, "not due before Gmail's time")
    }

    func testConcurrentSendsShareOneTokenRefresh() async throws {
        var messages: [MessageRecord] = []
        for _ in 0..<20 { messages.append(try await submit()) }
        let deliverer = self.deliverer!
        let results = await withTaskGroup(of: AttemptResult.self) { group in
            for message in messages { group.addTask { await deliverer.deliver(message) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results.filter { if case .sent = $0 { true } else { false } }.count, 20)
        XCTAssertEqual(google.outbox.count, 20)
        XCTAssertEqual(google.tokenRequestCount(grantType: "refresh_token"), 1)
    }

    func testServiceAccountImpersonatesItsSubjectOrIsHeldWithoutOne() async throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        try google.addServiceAccount(clientEmail: "relay@proj.iam.gserviceaccount.com", publicKeyPEM: key.publicKey.pemRepresentation,
                                 delegatedScopes: [GmailScope.send], clientID: "1234567890")
        google.addUser(email: "ceo@corp.example")
        let keyJSON = """
            {"type": "service_account", "project_id": "proj", "private_key_id": "abc123",
             "private_key": \(String(data: try JSONEncoder().encode(key.pemRepresentation), encoding: .utf8)!),
             "client_email": "relay@proj.iam.gserviceaccount.com", "client_id": "1234567890",
             "token_uri": "\(google.tokenURL!.absoluteString)"}
            """
        try await store.addAccount(name: "corp", kind: .serviceAccount, fromAddresses: ["ceo@corp.example"],
                                   secret: try StoredGrant.serviceAccount(keyJSON: keyJSON, subject: "ceo@corp.example").encoded(), state: .ok)
        try await store.addAccount(name: "nosub", kind: .serviceAccount,
                                   secret: try StoredGrant.serviceAccount(keyJSON: keyJSON, subject: nil).encoded(), state: .ok)
        let body = "From: ceo@corp.example\r\nTo: bob@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
        let delegated = await deliverer.deliver(try await submit(body, to: ["bob@example.com"], account: "corp"))
        guard case .sent = delegated else { return XCTFail("\(delegated)") }
        XCTAssertEqual(google.lastAssertionClaims?.sub, "ceo@corp.example")
        XCTAssertEqual(google.outbox.last?.user, "ceo@corp.example")

        let alone = await deliverer.deliver(try await submit(body, to: ["bob@example.com"], account: "nosub"))
        XCTAssertEqual(alone, .held(problem: .saNoSubject))
        try await expectState("nosub", .blocked)
    }

    func testAccountWithoutGrantIsHeldAsNeedingReauth() async throws {
        try await store.addAccount(name: "fresh", kind: .oauthUser,
                                   secret: try StoredGrant.oauthClient(clientID: "cid", clientSecret: "csecret", refreshToken: nil).encoded(),
                                   state: .ok)
        let result = await deliverer.deliver(try await submit(account: "fresh"))
        XCTAssertEqual(result, .held(problem: .grantMissing))
        try await expectState("fresh", .needsReauth)
        XCTAssertEqual(google.tokenRequestCount(grantType: "refresh_token"), 0)
    }

    /// The worker as `serve` runs it: queued messages are claimed and sent without anyone asking.
    /// The health probe: a working grant records the check and the token's expiry; a revoked one marks
    /// the account and holds its queued mail, in the same write as the check time; no answer at all
    /// changes nothing but the check time.
    func testHealthProbeRecordsWhatTheGrantCheckFound() async throws {
        let probe = TokenHealthProbe(store: store, tokens: tokens, interval: .seconds(3600), logger: silent)
        let queued = try await submit(status: .queued)
        await probe.probe(try await store.account(named: "shop")!)
        var account = try await store.account(named: "shop")
        XCTAssertNotNil(account?.checkedAt)
        XCTAssertNotNil(account?.tokenExpiresAt)
        XCTAssertEqual(account?.state, .ok)

        google.revokeRefreshToken(refreshToken)
        google.expireAccessTokens()
        await probe.probe(try await store.account(named: "shop")!)
        try await expectState("shop", .needsReauth)
        account = try await store.account(named: "shop")
        XCTAssertEqual(account?.problemCode, .grantRevoked)
        try await expectStatus(queued.id, .held)

        await google.stop()
        try await store.updateAccount(AccountUpdate(name: "shop", afterwards: .readyToSend))
        let before = try await store.account(named: "shop")?.checkedAt
        try await Task.sleep(for: .milliseconds(5))
        await probe.probe(try await store.account(named: "shop")!)
        try await expectState("shop", .ok)
        let after = try await store.account(named: "shop")?.checkedAt
        XCTAssertNotEqual(before, after, "the check is recorded even when Google did not answer")
    }

    func testWorkerSendsQueuedMail() async throws {
        let worker = DeliveryWorker(store: store, deliverer: deliverer, lanes: DeliveryLanes(concurrency: 2, sendsPerMinute: 1000),
                                    logger: silent)
        var ids: [Int64] = []
        for _ in 0..<10 { ids.append(try await submit(status: .queued).id) }
        let running = Task { try await worker.run() }
        defer { running.cancel() }
        for _ in 0..<400 {
            if try await store.messages(status: .sent).count == 10 { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        XCTAssertEqual(google.outbox.count, 10)
        for id in ids { try await expectStatus(id, .sent) }
    }

    /// The lanes reserve before the store claims: an account with no free slot has none of its messages
    /// claimed (they stay queued, untouched), and no claimed message is ever written back to the queue.
    func testWorkerClaimsOnlyWhatTheLanesTake() async throws {
        let lanes = DeliveryLanes(concurrency: 1, sendsPerMinute: 1000)
        var options = DeliveryWorker.Options()
        options.pollInterval = .milliseconds(20)
        let worker = DeliveryWorker(store: store, deliverer: deliverer, lanes: lanes, options: options, logger: silent)
        let taken = await lanes.reserve("shop", now: Date())
        XCTAssertTrue(taken, "the account's one slot is taken: it is at capacity")
        var ids: [Int64] = []
        for _ in 0..<6 { ids.append(try await submit(status: .queued).id) }
        let running = Task { try await worker.run() }
        defer { running.cancel() }
        try await Task.sleep(for: .milliseconds(200))
        for id in ids {
            try await expectStatus(id, .queued)
            let kinds = try await store.events(messageID: id).map(\.kind.rawValue)
            XCTAssertEqual(kinds, ["accepted"], "message \(id) was never claimed")
        }
        XCTAssertEqual(google.outbox.count, 0)

        await lanes.finish("shop")
        worker.wake()
        for _ in 0..<400 {
            if try await store.messages(status: .sent).count == ids.count { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        for id in ids {
            let kinds = try await store.events(messageID: id).map(\.kind.rawValue).filter { $0 != "rewritten" }
            XCTAssertEqual(kinds, ["accepted", "sent"], "message \(id): claimed once, sent, never put back")
        }
        let inFlight = await lanes.inFlight
        XCTAssertEqual(inFlight, 0, "every reserved slot was used or given back")
    }
}

extension AttemptResult {
    var problemCode: ProblemCode? {
        switch self {
        case .sent: return nil
        case .queued(let problem, _, _): return problem
        case .held(let problem): return problem
        case .failed(let problem, _): return problem
        }
    }
}
