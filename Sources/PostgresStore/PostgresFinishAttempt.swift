import Foundation
import PostgresNIO
import RelayVocabulary

extension PostgresRelayStore {
    /// Everything one attempt learned, in one transaction, as RelayStore's `applyAttempt`: the rewritten
    /// header and its note, the attempt rows (with this relay's name), the fallback's event, the message's
    /// move, the account's change and the token's expiry.
    ///
    /// A message this relay no longer holds (taken over after its lease ran out) gets nothing written:
    /// the relay holding it records its own attempt. The call then logs a warning and returns empty
    /// `AttemptEffects` (no throw, so the worker goes on with its next message).
    @discardableResult
    public func finishAttempt(_ report: AttemptReport) async throws -> AttemptEffects {
        let now = nowMillis
        return try await write { [self] db in
            let id = report.messageID
            guard let message = try await heldState(db, id, doing: "finishAttempt") else { return AttemptEffects() }
            if let headers = report.rewrittenHeaders {
                try await db.run("UPDATE messages SET rewritten_headers = \(headers) WHERE id = \(id)")
            }
            if let note = report.rewriteNote {
                try await record(db, message, kind: .rewritten, detail: note, now: now)
            }
            for attempt in report.attempts {
                try await insertAttempt(db, attempt, now: now)
            }
            if let fallback = report.fallback, let detail = report.fallbackDetail {
                if report.wasSent {
                    try await db.run("UPDATE messages SET sent_through = \(report.account) WHERE id = \(id)")
                }
                try await db.insertEvent(at: now, kind: .fallback, detail: detail, messageID: id, accountID: message.accountID,
                                         account: fallback.ownAccount)
            }
            try await apply(db, message, report.move, now: now)
            var effects = AttemptEffects()
            switch report.accountChange {
            case .succeeded(let at)?:
                if try await applyAccountSuccess(db, name: report.account, at: Millis.from(at)) {
                    effects.released = try await releaseHeld(db, account: report.account, now: now)
                }
            case .state(let state, let problem, let detail, let hold)?:
                try await applyAccountState(db, name: report.account, state: state, problemCode: problem, detail: detail, now: now)
                if hold, let problem {
                    effects.alsoHeld = try await holdQueued(db, account: report.account, problemCode: problem, now: now)
                }
            case nil:
                break
            }
            if let expires = report.tokenExpiresAt {
                try await recordToken(db, name: report.account, expiresAt: expires, scopes: report.tokenScopes, now: now)
            }
            return effects
        }
    }

    private func insertAttempt(_ db: Session, _ attempt: NewAttempt, now: Int64) async throws {
        if try await db.run("UPDATE messages SET attempts = attempts + 1, updated_at = \(now) WHERE id = \(attempt.messageID) RETURNING id") == 0 {
            throw StoreError.unknownMessage(attempt.messageID)
        }
        try await db.run("""
            INSERT INTO attempts (message_id, relay, started_at, finished_at, endpoint, http_status, response_body, problem_code,
                problem_detail, next_delay_seconds)
            VALUES (\(attempt.messageID), \(relayName), \(Millis.from(attempt.startedAt)), \(Millis.from(attempt.finishedAt)),
                \(attempt.endpoint), \(attempt.httpStatus), \(attempt.storedResponseBody), \(attempt.problemCode?.rawValue),
                \(attempt.problemDetail?.json), \(attempt.nextDelaySeconds))
            """)
    }
}
