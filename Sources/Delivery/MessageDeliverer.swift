import Foundation
import GmailAPI
import Logging
import RelayStore

/// How one delivery attempt ended, for the SMTP reply (sync mode) and the worker's pacing.
public enum AttemptResult: Sendable, Equatable {
    case sent(gmailID: String)
    /// Back in the queue, due at `nextAttempt`; `pauseAccount` for Gmail's daily limit.
    case queued(problem: String?, nextAttempt: Date, pauseAccount: Bool)
    case held(problem: String)
    /// `smtpText` is Gmail's own words when Gmail refused the message.
    case failed(problem: String, smtpText: String)
}

/// One attempt for one message that the caller has claimed (status `sending`): the header rewrite, the
/// token, the upload, the send log rows, and the message's (and maybe the account's) next state.
public struct MessageDeliverer: Sendable {
    let store: RelayStore
    let tokens: AccountTokens
    let sender: GmailSender
    let policy: RetryPolicy
    let hostname: String
    let metrics: RelayMetrics
    let logger: Logger
    let clock: @Sendable () -> Date
    let random: @Sendable () -> Double

    public init(
        store: RelayStore, tokens: AccountTokens, sender: GmailSender, policy: RetryPolicy, hostname: String,
        metrics: RelayMetrics, logger: Logger, clock: @escaping @Sendable () -> Date = Date.init,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.store = store
        self.tokens = tokens
        self.sender = sender
        self.policy = policy
        self.hostname = hostname
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        self.random = random
    }

    public func deliver(_ message: MessageRecord) async -> AttemptResult {
        let started = ContinuousClock.now
        do {
            let result = try await attempt(message)
            metrics.attempt(class: Self.className(result), account: message.account, duration: ContinuousClock.now - started)
            return result
        } catch {
            // The store itself failed (disk, database): leave the message for the next round.
            logger.error("delivery bookkeeping failed", metadata: ["message.id": "\(message.id)", "error": "\(error)"])
            let next = clock().addingTimeInterval(policy.backoff(failures: message.attempts + 1, random: random()))
            try? await store.markStatus(id: message.id, status: .queued, problemCode: message.problem, nextAttemptAt: next,
                                        detail: "store error, will retry: \(error)")
            return .queued(problem: message.problem, nextAttempt: next, pauseAccount: false)
        }
    }

    private func attempt(_ message: MessageRecord) async throws -> AttemptResult {
        let id = message.id
        guard let account = try await store.account(named: message.account) else {
            return try await fail(message, problem: RelayProblem.accountRemoved.rawValue, text: "account \(message.account) no longer exists")
        }
        guard let spoolPath = message.spoolPath, FileManager.default.fileExists(atPath: spoolPath) else {
            return try await fail(message, problem: RelayProblem.spoolMissing.rawValue, text: "the message file is missing from the spool")
        }

        let outgoing = spoolPath + ".outgoing"
        defer { try? FileManager.default.removeItem(atPath: outgoing) }
        // Message-ID and Date, when the client sent none, are the same on every attempt: a resend after a
        // crash can be recognised as the same message.
        let rewrite = try SpooledMessage.writeOutgoing(
            spoolPath: spoolPath, to: outgoing, envelopeRecipients: message.recipients,
            accountAddresses: account.fromAddresses, now: message.createdAt,
            newMessageID: "relay-\(id).\(Int64(message.createdAt.timeIntervalSince1970 * 1000))@\(hostname)")
        if message.rewrittenHeaders == nil {
            try await store.setRewrittenHeaders(id: id, headers: String(decoding: rewrite.header, as: UTF8.self))
            if !rewrite.changes.isEmpty {
                try await store.recordEvent(messageID: id, kind: "rewritten",
                                            detail: rewrite.changes.map(\.description).joined(separator: "; "))
            }
        }

        if account.kind == .sandbox {
            let now = clock()
            try await store.recordAttempt(NewAttempt(
                messageID: id, startedAt: now, finishedAt: now, endpoint: "sandbox", httpStatus: nil,
                responseBody: "sandbox: not sent to Google", problemCode: nil, nextDelaySeconds: nil))
            return try await sent(message, account: account, gmailID: "sandbox-\(id)")
        }

        let entry: AccountTokens.Entry
        do {
            entry = try await tokens.entry(for: account)
        } catch let unavailable as AccountTokens.Unavailable {
            let now = clock()
            try await store.recordAttempt(NewAttempt(
                messageID: id, startedAt: now, finishedAt: now, endpoint: "token", httpStatus: nil,
                responseBody: "not sent: \(unavailable.problem.rawValue)", problemCode: unavailable.problem.rawValue,
                nextDelaySeconds: nil))
            return try await hold(message, account: account, problem: unavailable.problem.rawValue,
                                  state: unavailable.accountState, detail: nil)
        }

        let (outcome, exchanges) = await sender.send(messageFile: URL(fileURLWithPath: outgoing), tokens: entry.cache)
        if let token = await entry.cache.cachedToken, token.expiresAt != account.tokenExpiresAt {
            try? await store.setTokenExpiry(name: account.name, expiresAt: token.expiresAt)
        }
        switch outcome {
        case .sent(let gmailID, _, _):
            try await record(exchanges, of: id, problem: nil, nextDelay: nil)
            return try await sent(message, account: account, gmailID: gmailID)
        case .failed(let call):
            return try await failed(message, account: account, grant: entry.grant, call: call, exchanges: exchanges)
        }
    }

    private func failed(
        _ message: MessageRecord, account: Account, grant: StoredGrant, call: FailedCall, exchanges: [HTTPExchange]
    ) async throws -> AttemptResult {
        let now = clock()
        let previous = try await store.attempts(messageID: message.id)
        let preconditions = previous.filter { $0.problem == ProblemCode.preconditionTransient.rawValue }.count
        let failure = GoogleFailure(call, accountKind: grant.classifierKind, consentedAt: account.consentedAt, now: now,
                                    previousPreconditionFailures: preconditions)
            ?? GoogleFailure(endpoint: .gmailSend, status: nil, transportError: call.description, accountKind: grant.classifierKind, now: now)
        let classification = FailureClassifier.classify(failure)
        let failures = previous.filter { $0.problem != nil }.count + 1
        let decision = policy.decide(classification, failures: failures, acceptedAt: message.createdAt, now: now, random: random())
        let problem = classification.problem.rawValue

        var rows = exchanges
        if call.endpoint == .token {
            // A failed token request is an attempt too, with Google's whole answer.
            rows.append(HTTPExchange(url: call.url, startedAt: now, finishedAt: now, response: call.response,
                                     transportError: call.transportError))
        }
        var nextDelay: Double?
        if case .retry(let at) = decision { nextDelay = at.timeIntervalSince(now) }
        if case .pauseAccount(let until) = decision { nextDelay = until.timeIntervalSince(now) }
        try await record(rows, of: message.id, problem: problem, nextDelay: nextDelay)
        logger.info("delivery attempt failed", metadata: [
            "message.id": "\(message.id)", "account": "\(account.name)", "problem": "\(problem)",
            "class": "\(classification.failureClass.name)", "http.status": "\(call.response?.status ?? 0)",
        ])

        switch decision {
        case .retry(let at):
            try await store.markStatus(id: message.id, status: .queued, problemCode: problem, nextAttemptAt: at,
                                       detail: "\(problem): \(classification.problem.summary)")
            metrics.messageOutcome("retry", account: account.name)
            return .queued(problem: problem, nextAttempt: at, pauseAccount: false)
        case .pauseAccount(let until):
            try await store.markStatus(id: message.id, status: .queued, problemCode: problem, nextAttemptAt: until,
                                       detail: "\(problem): account paused until \(ISO8601DateFormatter().string(from: until))")
            // Shown on the status page; the account still works, it only waits.
            try await store.setAccountState(name: account.name, state: .ok, problemCode: problem,
                                            detail: Self.encode(classification.detail))
            metrics.messageOutcome("retry", account: account.name)
            return .queued(problem: problem, nextAttempt: until, pauseAccount: true)
        case .hold(let state):
            return try await hold(message, account: account, problem: problem, state: state,
                                  detail: Self.encode(classification.detail))
        case .fail(let reason):
            let text = reason == problem ? classification.smtpText : "gave up after \(failures) attempts: \(classification.problem.summary)"
            return try await fail(message, problem: reason, text: text, smtpText: text)
        }
    }

    private func sent(_ message: MessageRecord, account: Account, gmailID: String) async throws -> AttemptResult {
        try await store.markSent(id: message.id, gmailID: gmailID)
        let wasStopped = account.state != .ok || account.problemCode != nil
        try await store.recordAccountSuccess(name: account.name, at: clock())
        metrics.messageOutcome("sent", account: account.name)
        if wasStopped {
            // A send went through, so whatever stopped the account is over: its held mail may go too.
            if account.problemCode != nil && account.state == .ok {
                try await store.setAccountState(name: account.name, state: .ok, problemCode: nil, detail: nil)
            }
            let released = try await store.releaseHeld(account: account.name)
            if released > 0 {
                logger.info("held mail released", metadata: ["account": "\(account.name)", "count": "\(released)"])
            }
        }
        logger.info("message sent", metadata: ["message.id": "\(message.id)", "account": "\(account.name)", "gmail.message_id": "\(gmailID)"])
        return .sent(gmailID: gmailID)
    }

    private func hold(_ message: MessageRecord, account: Account, problem: String, state: AccountState, detail: String?) async throws -> AttemptResult {
        try await store.markStatus(id: message.id, status: .held, problemCode: problem)
        try await store.setAccountState(name: account.name, state: state, problemCode: problem, detail: detail)
        let alsoHeld = try await store.holdQueued(account: account.name, problemCode: problem)
        metrics.messageOutcome("held", account: account.name)
        logger.warning("account cannot send; its mail is held", metadata: [
            "account": "\(account.name)", "problem": "\(problem)", "state": "\(state.rawValue)", "held.others": "\(alsoHeld)",
        ])
        return .held(problem: problem)
    }

    private func fail(_ message: MessageRecord, problem: String, text: String, smtpText: String? = nil) async throws -> AttemptResult {
        try await store.markStatus(id: message.id, status: .failed, problemCode: problem, detail: "\(problem): \(text)")
        metrics.messageOutcome("failed", account: message.account)
        return .failed(problem: problem, smtpText: smtpText ?? text)
    }

    /// One send-log row per HTTP exchange; the problem and the chosen delay go on the last one.
    private func record(_ exchanges: [HTTPExchange], of id: Int64, problem: String?, nextDelay: Double?) async throws {
        for (index, exchange) in exchanges.enumerated() {
            let last = index == exchanges.count - 1
            let body = exchange.response.map { Redaction.redact($0.bodyText) } ?? exchange.transportError.map { "no answer: \($0)" }
            try await store.recordAttempt(NewAttempt(
                messageID: id, startedAt: exchange.startedAt, finishedAt: exchange.finishedAt,
                endpoint: exchange.url.absoluteString, httpStatus: exchange.response?.status, responseBody: body,
                problemCode: last ? problem : nil,
                nextDelaySeconds: last ? nextDelay : nil))
        }
    }

    static func encode(_ detail: ProblemDetail) -> String? {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(detail)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func className(_ result: AttemptResult) -> String {
        switch result {
        case .sent: return "sent"
        case .queued(_, _, let pause): return pause ? "rate_limited" : "transient"
        case .held: return "account_blocked"
        case .failed: return "message_rejected"
        }
    }
}
