import Foundation
import GRDB
import Logging
import RelayVocabulary
import SMTPServer
import Testing
@testable import RelayStore
@testable import SMTPProtocol
@testable import Submission

/// Intake against a real SQLite store and spool in a temporary directory, driven as the SMTP session
/// drives it: AUTH, open a spool, write DATA in chunks, commit.
@Suite struct IntakeTests {
    // MARK: Held, sending, queued

    @Test func anAccountThatCanSendQueuesAndWakesTheWorker() async throws {
        let relay = try Relay()
        let login = try await relay.addLogin(state: .ok)
        let (reply, record) = try await relay.send(relay.intake(), login: login)
        #expect(reply == SMTPReply(250, "2.0.0", "Ok: queued as \(record.id)"))
        #expect(record.status == .queued)
        #expect(record.subject == "Order 17" && record.messageID == "<o17@example.com>")
        #expect(record.credentialUsername == "site@example.com")
        #expect(relay.delivery.wakes == 1 && relay.delivery.started.isEmpty)
        #expect(relay.metrics.accepted == ["main"])
    }

    @Test func syncModeSendsTheStoredRowWithoutReadingItBack() async throws {
        let relay = try Relay()
        relay.delivery.outcome = .sent(gmailID: "g-1")
        let login = try await relay.addLogin(state: .ok)
        let (reply, record) = try await relay.send(relay.intake(sync: .seconds(5)), login: login)
        #expect(reply == SMTPReply(250, "2.0.0", "Ok: sent as g-1 (log \(record.id))"))
        #expect(record.status == .sending)
        // What the committer returned is the row as stored.
        let started = try #require(relay.delivery.started.first)
        #expect(started == record)
        #expect(relay.delivery.wakes == 0)
    }

    @Test(arguments: [
        (SyncOutcome.held(problem: .grantRevoked), "Ok: queued as ID, held: grant_revoked", 250),
        (SyncOutcome.failed(text: "Gmail refused it"), "Gmail refused it (log ID)", 554),
        (SyncOutcome.queued, "Ok: queued as ID", 250),
    ])
    func syncModeRepliesWithTheFirstAttempt(outcome: SyncOutcome, text: String, code: Int) async throws {
        let relay = try Relay()
        relay.delivery.outcome = outcome
        let login = try await relay.addLogin(state: .ok)
        let (reply, record) = try await relay.send(relay.intake(sync: .seconds(5)), login: login)
        #expect(reply.code == code)
        #expect(reply.lines == [text.replacingOccurrences(of: "ID", with: "\(record.id)")])
    }

    @Test func syncModeQueuesWhenTheAttemptCannotStartOrOutlastsTheTimeout() async throws {
        let relay = try Relay()
        let login = try await relay.addLogin(state: .ok)
        relay.delivery.refuses = true
        let (refused, first) = try await relay.send(relay.intake(sync: .seconds(5)), login: login)
        #expect(refused == SMTPReply(250, "2.0.0", "Ok: queued as \(first.id)"))
        relay.delivery.refuses = false
        relay.delivery.delay = .seconds(5)
        let clock = ContinuousClock()
        let started = clock.now
        let (slow, second) = try await relay.send(relay.intake(sync: .milliseconds(100)), login: login)
        #expect(slow == SMTPReply(250, "2.0.0", "Ok: queued as \(second.id)"))
        #expect(clock.now - started < .seconds(4))
    }

    @Test(arguments: [
        (AccountState.needsReauth, ProblemCode.grantRevoked as ProblemCode?, ProblemCode.grantRevoked),
        (AccountState.blocked, .permissionDenied, .permissionDenied),
        (AccountState.blocked, nil, .grantMissing),
        (AccountState.unconfigured, nil, .grantMissing),
    ])
    func anAccountThatCannotSendHoldsItsMailFromTheStart(state: AccountState, problem: ProblemCode?, held: ProblemCode) async throws {
        for sync in [nil, Duration.seconds(5)] {
            let relay = try Relay()
            let login = try await relay.addLogin(state: state, problem: problem)
            let (reply, record) = try await relay.send(relay.intake(sync: sync), login: login)
            #expect(reply == SMTPReply(250, "2.0.0", "Ok: queued as \(record.id), held: \(held.rawValue)"))
            #expect(record.status == .held && record.problem == held)
            #expect(relay.delivery.wakes == 0 && relay.delivery.started.isEmpty, "held mail does not go to Gmail")
        }
    }

    @Test func theAccountStateIsReadAtCommitNotTakenFromAuth() async throws {
        let relay = try Relay()
        let login = try await relay.addLogin(state: .ok)
        #expect(login.state == .ok)
        try await relay.store.setAccountState(name: "main", state: .needsReauth, problemCode: .grantRevoked)
        let (reply, record) = try await relay.send(relay.intake(), login: login)
        #expect(reply.lines == ["Ok: queued as \(record.id), held: grant_revoked"])
    }

    @Test func aTrustedPeerSendsThroughTheTrustedAccount() async throws {
        let relay = try Relay()
        _ = try await relay.addLogin(state: .ok)
        let (reply, record) = try await relay.send(relay.intake(trustedAccount: "main"), login: nil)
        #expect(reply.lines == ["Ok: queued as \(record.id)"])
        #expect(record.credentialUsername == nil && record.account == "main")

        let refused = try await relay.commitOnly(relay.intake(), login: nil, message: Relay.message())
        #expect(refused == .authRequired)
        let missing = try await relay.commitOnly(relay.intake(trustedAccount: "nope"), login: nil, message: Relay.message())
        #expect(missing == SMTPReply(451, "4.3.0", "Account nope is not configured"))
    }

    // MARK: Failures

    @Test func aLoginRemovedMidSessionGets451AndNothingIsKept() async throws {
        let relay = try Relay()
        let login = try await relay.addLogin(state: .ok)
        try await relay.store.removeCredential(username: login.username)
        let reply = try await relay.commitOnly(relay.intake(), login: login, message: Relay.message(bodyBytes: 100_000))
        #expect(reply == SMTPReply(451, "4.7.1", "Login no longer valid, try again"))
        #expect(try await relay.store.messages(limit: 10).isEmpty)
        #expect(relay.spoolFiles().isEmpty, "the partial spool file is removed")
    }

    @Test func aStoreErrorAtCommitIs451AndNotALoginProblem() async throws {
        let relay = try Relay()
        let login = try await relay.addLogin(state: .ok)
        // A real SQLite error on the commit path: the table the login lookup reads is gone.
        try await relay.store.pool.write { try $0.execute(sql: "ALTER TABLE credentials RENAME TO credentials_gone") }
        let reply = try await relay.commitOnly(relay.intake(), login: login, message: Relay.message(bodyBytes: 100_000))
        #expect(reply == SMTPReply(451, "4.3.0", "Temporary local problem, try again later"))
        #expect(!reply.lines.joined().contains("Login"))
        #expect(relay.spoolFiles().isEmpty)
    }

    @Test func tooManyHeaderRecipientsIs550AndTheSpoolFileIsRemoved() async throws {
        let relay = try Relay()
        let login = try await relay.addLogin(state: .ok)
        let to = (0..<4).map { "r\($0)@example.org" }.joined(separator: ", ")
        let message = Relay.message(headers: "To: \(to)\r\nCc: c@example.org\r\n", bodyBytes: 100_000)
        let reply = try await relay.commitOnly(relay.intake(maxRecipients: 5), login: login, message: message)
        #expect(reply.code == 550 && reply.enhancedCode == "5.5.3")
        #expect(reply.lines == [
            "Too many recipients: Gmail would send this message to 6 addresses (To, Cc, Bcc and RCPT TO together); this relay allows at most 5 (smtp.max_recipients)",
        ])
        #expect(try await relay.store.messages(limit: 10).isEmpty)
        #expect(relay.spoolFiles().isEmpty, "the finished spool file is removed")

        // At the limit it passes.
        let (ok, _) = try await relay.send(relay.intake(maxRecipients: 6), login: login, message: message)
        #expect(ok.code == 250)
    }

    @Test func aLargeMessageHasItsHeaderReadOnTheWayToTheSpoolFile() async throws {
        let relay = try Relay()
        let login = try await relay.addLogin(state: .ok)
        let (_, record) = try await relay.send(relay.intake(), login: login, message: Relay.message(bodyBytes: 300_000), chunk: 997)
        let path = try #require(record.spoolPath)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(record.subject == "Order 17" && record.messageID == "<o17@example.com>")
        #expect(record.size == Int64(Relay.message(bodyBytes: 300_000).count))
    }
}

// MARK: - Support

/// A store in a temporary directory (removed at deinit) and the seams intake talks to.
final class Relay: @unchecked Sendable {
    let directory: String
    let store: RelayStore
    let delivery = RecordingDelivery()
    let metrics = RecordingMetrics()

    init(clock: MovableClock? = nil) throws {
        directory = NSTemporaryDirectory() + "submission-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var options = RelayStore.Options(passwordHashing: .testing)
        if let clock { options.clock = { clock.now } }
        store = try RelayStore.open(dataDirectory: directory + "/data", options: options)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func intake(sync: Duration? = nil, maxRecipients: Int = 100, trustedAccount: String? = nil) -> SubmissionIntake {
        SubmissionIntake(
            store: store,
            policy: IntakePolicy(maxRecipients: maxRecipients, trustedAccount: trustedAccount, syncTimeout: sync, cannotSendProblem: .grantMissing),
            delivery: delivery, metrics: metrics, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    /// Account "main" in `state`, and the login site@example.com for it, verified through intake's AUTH.
    func addLogin(state: AccountState, problem: ProblemCode? = nil) async throws -> VerifiedCredential {
        try await store.addAccount(name: "main", kind: .sandbox, fromAddresses: ["site@example.com"], state: .ok)
        if state != .ok || problem != nil { try await store.setAccountState(name: "main", state: state, problemCode: problem) }
        try await store.addCredential(username: "site@example.com", account: "main", password: "correct horse battery", generated: true)
        let login = try await verify(intake(), "site@example.com", "correct horse battery")
        #expect(login.account == "main" && login.username == "site@example.com")
        return login
    }

    /// The login as intake's AUTH returns it.
    func verify(_ intake: SubmissionIntake, _ username: String, _ password: String) async throws -> VerifiedCredential {
        let result = await intake.authenticate(username: username, password: password, peer: Self.peer)
        guard case .accepted(let login) = result else { throw Failure("AUTH did not accept \(username): \(result)") }
        return login
    }

    static let peer = PeerInfo(address: "127.0.0.1", port: 40000, tls: true)

    static func message(headers: String = "To: reader@example.org\r\n", bodyBytes: Int = 40) -> [UInt8] {
        let header = "From: site@example.com\r\n\(headers)Subject: Order 17\r\nMessage-ID: <o17@example.com>\r\n\r\n"
        var body = Array(header.utf8)
        while body.count < header.utf8.count + bodyBytes { body += Array("line of the body\r\n".utf8) }
        return body
    }

    /// Writes `message` through a spool in `chunk`-byte writes and commits it.
    func commitOnly(_ intake: SubmissionIntake, login: VerifiedCredential?, message: [UInt8], chunk: Int = 4096) async throws -> SMTPReply {
        let spool = try intake.openSpool()
        var offset = 0
        while offset < message.count {
            try spool.write(Array(message[offset..<min(message.count, offset + chunk)]))
            offset += chunk
        }
        let envelope = Envelope(heloName: "cms.example.com", mailFrom: "site@example.com", recipients: ["reader@example.org"],
                                authenticatedUser: login?.username, tls: true)
        return await intake.commit(envelope: envelope, login: login, spool: spool, peer: Self.peer)
    }

    /// `commitOnly`, then the stored row (read back here, in the test, to check what intake wrote).
    func send(
        _ intake: SubmissionIntake, login: VerifiedCredential?, message: [UInt8] = Relay.message(), chunk: Int = 4096,
        trusted: Bool = false
    ) async throws -> (SMTPReply, MessageRecord) {
        let intake = trusted ? self.intake(trustedAccount: "main") : intake
        let reply = try await commitOnly(intake, login: login, message: message, chunk: chunk)
        let record = try #require(try await store.messages(limit: 1).first, "no row for \(reply)")
        return (reply, record)
    }

    /// Files in the spool (incoming and finished).
    func spoolFiles() -> [String] {
        [store.spool.incomingDirectory, store.spool.messagesDirectory].flatMap {
            (try? FileManager.default.contentsOfDirectory(atPath: $0)) ?? []
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The sync-delivery seam: records what intake asked for and answers with a chosen outcome.
final class RecordingDelivery: SyncDelivery, @unchecked Sendable {
    private let lock = NSLock()
    private var _wakes = 0
    private var _started: [MessageRecord] = []
    private var _outcome = SyncOutcome.queued
    private var _refuses = false
    private var _delay = Duration.zero

    var wakes: Int { lock.withLock { _wakes } }
    var started: [MessageRecord] { lock.withLock { _started } }
    var outcome: SyncOutcome {
        get { lock.withLock { _outcome } }
        set { lock.withLock { _outcome = newValue } }
    }
    var refuses: Bool {
        get { lock.withLock { _refuses } }
        set { lock.withLock { _refuses = newValue } }
    }
    var delay: Duration {
        get { lock.withLock { _delay } }
        set { lock.withLock { _delay = newValue } }
    }

    func wake() { lock.withLock { _wakes += 1 } }

    func start(_ message: MessageRecord) async -> Task<SyncOutcome, Never>? {
        let (refuses, outcome, delay) = lock.withLock {
            _started.append(message)
            return (_refuses, _outcome, _delay)
        }
        if refuses { return nil }
        return Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            return outcome
        }
    }
}

final class RecordingMetrics: IntakeMetrics, @unchecked Sendable {
    private let lock = NSLock()
    private var _accepted: [String] = []
    var accepted: [String] { lock.withLock { _accepted } }
    func messageAccepted(account: String) { lock.withLock { _accepted.append(account) } }
    func acceptBatchCommitted(messages: Int) {}
}
