import Foundation
import GmailAPI
import Logging
import MessageRewrite
import RelayStore
import RelayVocabulary

/// How one delivery attempt ended, for the SMTP reply (sync mode) and the worker's pacing.
public enum AttemptResult: Sendable, Equatable {
    case sent(gmailID: String)
    /// Back in the queue, due at `nextAttempt`; `pauseAccount` for Gmail's daily limit.
    case queued(problem: ProblemCode?, nextAttempt: Date, pauseAccount: Bool)
    case held(problem: ProblemCode)
    /// `smtpText` is Gmail's own words when Gmail refused the message.
    case failed(problem: ProblemCode, smtpText: String)
}

/// One attempt for one message that the caller has claimed (status `sending`): the header rewrite, the
/// token, the upload, the send log rows, and the message's (and maybe the account's) next state.
public struct MessageDeliverer: Sendable {
    let store: any MessageStore & AccountStore
    let tokens: AccountTokens
    let sender: GmailSender
    let policy: RetryPolicy
    let hostname: String
    let metrics: RelayMetrics
    let logger: Logger
    let clock: @Sendable () -> Date
    let random: @Sendable () -> Double
    /// Where a large body the database keeps is written for its upload (and removed after it).
    let outgoingDirectory: String

    public init(
        store: any MessageStore & AccountStore, tokens: AccountTokens, sender: GmailSender, policy: RetryPolicy, hostname: String,
        metrics: RelayMetrics, logger: Logger, clock: @escaping @Sendable () -> Date = Date.init,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        outgoingDirectory: String = NSTemporaryDirectory()
    ) {
        self.outgoingDirectory = outgoingDirectory
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

    /// `inputs`: the account and body read ahead for the claimed batch (`MessageStore.deliveryInputs`);
    /// what they lack is read here.
    public func deliver(_ message: MessageRecord, inputs: DeliveryInputs? = nil) async -> AttemptResult {
        let started = ContinuousClock.now
        do {
            let result = try await attempt(message, inputs: inputs)
            metrics.attempt(class: Self.className(result), account: message.account, duration: ContinuousClock.now - started)
            return result
        } catch {
            // The store itself failed (disk, database): leave the message for the next round.
            logger.error("delivery bookkeeping failed", metadata: ["message.id": "\(message.id)", "error": "\(error)"])
            let next = clock().addingTimeInterval(policy.backoff(failures: message.attempts + 1, random: random()))
            do {
                try await store.markStatus(id: message.id, status: .queued, problemCode: message.problem, nextAttemptAt: next,
                                           detail: "store error, will retry: \(error)")
            } catch {
                // The store is away (a shared database down): the row stays `sending`, and on PostgreSQL this
                // relay's heartbeat would keep its lease alive, so nobody would take it over. Queue it again
                // as soon as the store answers.
                logger.error("could not queue the message again; retrying until the store answers",
                             metadata: ["message.id": "\(message.id)", "error": "\(error)"])
                let store = self.store, logger = self.logger, problem = message.problem, id = message.id
                Task { await Self.requeueWhenTheStoreAnswers(id, problem: problem, next: next, store: store, logger: logger) }
            }
            return .queued(problem: message.problem, nextAttempt: next, pauseAccount: false)
        }
    }

    /// Tries `markStatus(.queued)` every few seconds (growing to a minute) until the store takes it.
    static func requeueWhenTheStoreAnswers(
        _ id: Int64, problem: ProblemCode?, next: Date, store: any MessageStore, logger: Logger
    ) async {
        var wait = 2.0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(wait))
            do {
                try await store.markStatus(id: id, status: .queued, problemCode: problem, nextAttemptAt: next,
                                           detail: "store error, will retry")
                logger.notice("message queued again after the store came back", metadata: ["message.id": "\(id)"])
                return
            } catch StoreError.invalidTransition {
                return  // no longer `sending` (taken over, retried or restarted meanwhile): nothing to do
            } catch {
                wait = min(60, wait * 2)
            }
        }
    }

    private func attempt(_ message: MessageRecord, inputs: DeliveryInputs?) async throws -> AttemptResult {
        let id = message.id
        var readAhead = inputs?.accounts[message.account]
        if readAhead == nil { readAhead = try await store.account(named: message.account) }
        guard let own = readAhead else {
            return try await failWithoutAttempt(id, account: message.account, problem: .accountRemoved,
                                                detail: "account \(message.account) no longer exists")
        }
        // While the account needs reauthorization or is blocked, its fallback (when set and ok) sends
        // its mail: the rewrite, the token and the answer's effects are the fallback's.
        let fallback = own.state.isCoveredByFallback && own.fallback != nil ? try await store.usableFallback(for: own.name) : nil
        let account = fallback ?? own
        // Message-ID and Date, when the client sent none, are the same on every attempt: a resend after a
        // crash can be recognised as the same message.
        let newMessageID = "relay-\(id).\(Int64(message.createdAt.timeIntervalSince1970 * 1000))@\(hostname)"
        let outgoing: UploadBody
        let rewrite: RewriteResult
        if let spoolPath = message.spoolPath, FileManager.default.fileExists(atPath: spoolPath) {
            (outgoing, rewrite) = try SpooledMessage.outgoing(
                spoolPath: spoolPath, fileIfLargerAt: spoolPath + ".outgoing", envelopeRecipients: message.recipients,
                accountAddresses: account.fromAddresses, now: message.createdAt, newMessageID: newMessageID)
        } else if message.spoolPath == nil, message.size > SpooledMessage.inMemoryLimit, let built = try await SpooledMessage.outgoing(
            pieces: store.bodyPieces(messageID: id), fileIfLargerAt: "\(outgoingDirectory)/outgoing-\(id).eml",
            envelopeRecipients: message.recipients, accountAddresses: account.fromAddresses, now: message.createdAt,
            newMessageID: newMessageID
        ) {
            // A large body the database keeps (PostgreSQL): read a piece at a time, never whole.
            (outgoing, rewrite) = built
        } else if message.spoolPath == nil, let body = try await inlineBody(of: id, inputs: inputs) {
            (outgoing, rewrite) = try SpooledMessage.outgoing(
                inlineBody: body, envelopeRecipients: message.recipients, accountAddresses: account.fromAddresses,
                now: message.createdAt, newMessageID: newMessageID)
        } else {
            return try await failWithoutAttempt(id, account: account.name, problem: .spoolMissing,
                                                detail: "the message body is missing (spool file or database)")
        }
        defer { if case .file(let file) = outgoing { try? FileManager.default.removeItem(at: file) } }
        // Everything this attempt learns goes into one report, written in one transaction at the end.
        // The placeholder outcome is always replaced before the report is written.
        var report = AttemptReport(messageID: id, account: account.name, outcome: .held(problemCode: .grantMissing))
        if fallback != nil { report.fallback = .init(standingInFor: own) }
        // The header as sent: the first attempt's, or the fallback's (another From) when it sends.
        if message.rewrittenHeaders == nil || fallback != nil {
            report.rewrittenHeaders = String(decoding: rewrite.header, as: UTF8.self)
            if !rewrite.changes.isEmpty { report.rewriteNote = rewrite.changes.map(\.description).joined(separator: "; ") }
        }

        if account.kind == .sandbox {
            let now = clock()
            report.attempts = [NewAttempt(
                messageID: id, startedAt: now, finishedAt: now, endpoint: "sandbox", httpStatus: nil,
                responseBody: "sandbox: not sent to Google", problemCode: nil, nextDelaySeconds: nil)]
            return try await sent(report, gmailID: "sandbox-\(id)")
        }

        let entry: AccountTokens.Entry
        do {
            entry = try await tokens.entry(for: account)
        } catch let unavailable as AccountTokens.Unavailable {
            let now = clock()
            let problem = unavailable.problem
            report.attempts = [NewAttempt(
                messageID: id, startedAt: now, finishedAt: now, endpoint: "token", httpStatus: nil,
                responseBody: "not sent: \(problem.rawValue)", problemCode: problem, nextDelaySeconds: nil)]
            return try await hold(report, own: own, problem: problem, state: unavailable.accountState, detail: nil)
        }

        let (outcome, exchanges) = await sender.send(message: outgoing, tokens: entry.cache)
        if let token = await entry.cache.cachedToken, token.expiresAt != account.tokenExpiresAt {
            report.tokenExpiresAt = token.expiresAt
            report.tokenScopes = token.scope.map { _ in token.scopes.sorted() }
        }
        switch outcome {
        case .sent(let gmailID, _, _):
            report.attempts = rows(exchanges, of: id, problem: nil, nextDelay: nil)
            return try await sent(report, gmailID: gmailID)
        case .failed(let call):
            return try await failed(report, message: message, account: account, own: own, grant: entry.grant, call: call, exchanges: exchanges)
        }
    }

    private func inlineBody(of id: Int64, inputs: DeliveryInputs?) async throws -> [UInt8]? {
        if let body = inputs?.inlineBodies[id] { return body }
        return try await store.inlineBody(messageID: id)
    }

    private func failed(
        _ report: AttemptReport, message: MessageRecord, account: Account, own: Account, grant: StoredGrant, call: FailedCall,
        exchanges: [HTTPExchange]
    ) async throws -> AttemptResult {
        var report = report
        let now = clock()
        let previous = try await store.attempts(messageID: message.id)
        let preconditions = previous.filter { $0.problem == .preconditionTransient }.count
        let classification = grant.classify(call, consentedAt: account.consentedAt, now: now,
                                            previousPreconditionFailures: preconditions)
        let failures = previous.filter { $0.problem != nil }.count + 1
        let decision = policy.decide(classification, failures: failures, acceptedAt: message.createdAt, now: now, random: random())
        let problem = classification.problem

        var exchanges = exchanges
        if call.endpoint == .token { exchanges.append(HTTPExchange(call, at: now)) }
        var nextDelay: Double?
        if case .retry(let at) = decision { nextDelay = at.timeIntervalSince(now) }
        if case .pauseAccount(let until) = decision { nextDelay = until.timeIntervalSince(now) }
        report.attempts = rows(exchanges, of: message.id, problem: problem, detail: classification.detail, nextDelay: nextDelay)
        logger.info("delivery attempt failed", metadata: [
            "message.id": "\(message.id)", "account": "\(account.name)", "problem": "\(problem.rawValue)",
            "class": "\(classification.failureClass.name)", "http.status": "\(call.response?.status ?? 0)",
        ])

        switch decision {
        case .retry(let at):
            report.outcome = .queued(problemCode: problem, nextAttemptAt: at, detail: "\(problem.rawValue): \(problem.summary)")
            try await store.finishAttempt(report)
            metrics.messageOutcome("retry", account: account.name)
            return .queued(problem: problem, nextAttempt: at, pauseAccount: false)
        case .pauseAccount(let until):
            report.outcome = .queued(problemCode: problem, nextAttemptAt: until,
                                     detail: "\(problem.rawValue): account paused until \(ISO8601DateFormatter().string(from: until))")
            // Shown on the status page; the account still works, it only waits.
            report.accountChange = .state(.ok, problemCode: problem, detail: classification.detail, holdQueued: false)
            try await store.finishAttempt(report)
            metrics.messageOutcome("retry", account: account.name)
            return .queued(problem: problem, nextAttempt: until, pauseAccount: true)
        case .hold(let state):
            return try await hold(report, own: own, problem: problem, state: state, detail: classification.detail)
        case .fail(let reason):
            let text = reason == problem ? classification.smtpText : "gave up after \(failures) attempts: \(classification.problem.summary)"
            report.outcome = .failed(problemCode: reason, detail: "\(reason.rawValue): \(text)")
            try await store.finishAttempt(report)
            metrics.messageOutcome("failed", account: account.name)
            return .failed(problem: reason, smtpText: text)
        }
    }

    private func sent(_ report: AttemptReport, gmailID: String) async throws -> AttemptResult {
        var report = report
        report.outcome = .sent(gmailID: gmailID)
        report.accountChange = .succeeded(at: clock())
        let effects = try await store.finishAttempt(report)
        metrics.messageOutcome("sent", account: report.account)
        if effects.released > 0 {
            // A send went through, so whatever stopped the account is over: its held mail goes too.
            logger.info("held mail released", metadata: ["account": "\(report.account)", "count": "\(effects.released)"])
        }
        logger.info("message sent", metadata: [
            "message.id": "\(report.messageID)", "account": "\(report.account)", "gmail.message_id": "\(gmailID)",
        ])
        return .sent(gmailID: gmailID)
    }

    private func hold(_ report: AttemptReport, own: Account, problem: ProblemCode, state: AccountState, detail: ProblemDetail?) async throws -> AttemptResult {
        var report = report
        report.accountChange = .state(state, problemCode: problem, detail: detail, holdQueued: true)
        // The account itself just stopped, but its fallback can send: this message goes through the
        // fallback at once, and the store keeps the account's other mail queued for the same reason.
        if report.fallback == nil, state.isCoveredByFallback, let name = own.fallback,
           let standby = try await store.account(named: name), standby.state == .ok {
            let now = clock()
            report.outcome = .queued(problemCode: problem, nextAttemptAt: now, detail: "\(problem): next attempt through fallback \(name)")
            try await store.finishAttempt(report)
            metrics.messageOutcome("retry", account: report.account)
            logger.warning("account cannot send; its mail goes through its fallback", metadata: [
                "account": "\(report.account)", "problem": "\(problem)", "state": "\(state.rawValue)", "fallback": "\(name)",
            ])
            return .queued(problem: problem, nextAttempt: now, pauseAccount: false)
        }
        report.outcome = .held(problemCode: problem)
        let effects = try await store.finishAttempt(report)
        metrics.messageOutcome("held", account: report.account)
        logger.warning("account cannot send; its mail is held", metadata: [
            "account": "\(report.account)", "problem": "\(problem.rawValue)", "state": "\(state.rawValue)", "held.others": "\(effects.alsoHeld)",
        ])
        return .held(problem: problem)
    }

    /// Nothing can be sent at all (no account, no body): failed for good, without calling Google.
    private func failWithoutAttempt(_ id: Int64, account: String, problem: ProblemCode, detail: String) async throws -> AttemptResult {
        try await store.finishAttempt(AttemptReport(messageID: id, account: account,
                                                    outcome: .failed(problemCode: problem, detail: detail)))
        metrics.messageOutcome("failed", account: account)
        return .failed(problem: problem, smtpText: detail)
    }

    /// One send-log row per HTTP exchange; the problem, its classified detail and the chosen delay go on the last one.
    private func rows(_ exchanges: [HTTPExchange], of id: Int64, problem: ProblemCode?, detail: ProblemDetail? = nil, nextDelay: Double?) -> [NewAttempt] {
        exchanges.enumerated().map { index, exchange in
            let last = index == exchanges.count - 1
            let body = exchange.response.map { Redaction.redact($0.bodyText) } ?? exchange.transportError.map { "no answer: \($0)" }
            return NewAttempt(
                messageID: id, startedAt: exchange.startedAt, finishedAt: exchange.finishedAt,
                endpoint: exchange.url.absoluteString, httpStatus: exchange.response?.status, responseBody: body,
                problemCode: last ? problem : nil, problemDetail: last ? detail : nil, nextDelaySeconds: last ? nextDelay : nil)
        }
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
