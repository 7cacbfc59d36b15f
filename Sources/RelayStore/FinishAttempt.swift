import Foundation
import StoreModel
import GRDB
import RelayVocabulary

extension RelayStore {
    /// Writes everything one attempt learned in one transaction, shared with the other attempts that
    /// finish at the same moment (BatchedWriter): concurrent deliveries cost one commit, not one each.
    @discardableResult
    public func finishAttempt(_ report: AttemptReport) async throws -> AttemptEffects {
        try await attemptWriter.submit(report)
    }

    /// The body of `finishAttempt`, inside the batch's transaction.
    static func applyAttempt(_ db: Database, _ report: AttemptReport, now: Int64) throws -> AttemptEffects {
        let id = report.messageID
        if let headers = report.rewrittenHeaders {
            try db.execute(cached: "UPDATE messages SET rewritten_headers = ? WHERE id = ?", arguments: [headers, id])
        }
        if let note = report.rewriteNote {
            try MessageLifecycle.note(db, id: id, kind: .rewritten, detail: note, now: now)
        }
        for attempt in report.attempts {
            _ = try insertAttempt(db, attempt, now: now)
        }
        if let fallback = report.fallback, let detail = report.fallbackDetail {
            if report.wasSent {
                try db.execute(cached: "UPDATE messages SET sent_through = ? WHERE id = ?", arguments: [report.account, id])
            }
            let row = try Row.fetchOne(db, cached: "SELECT account_id FROM messages WHERE id = ?", arguments: [id])
            try insertEvent(db, at: now, kind: .fallback, detail: detail,
                            messageID: id, accountID: row?["account_id"], account: fallback.ownAccount)
        }
        try MessageLifecycle.apply(db, id: id, report.move, now: now)
        var effects = AttemptEffects()
        switch report.accountChange {
        case .succeeded(let at)?:
            if try applyAccountSuccess(db, name: report.account, at: Millis.from(at)) {
                effects.released = try applyReleaseHeld(db, account: report.account, now: now)
            }
        case .state(let state, let problem, let detail, let holdQueued)?:
            try applyAccountState(db, name: report.account, state: state, problemCode: problem, detail: detail, now: now)
            if holdQueued, let problem {
                effects.alsoHeld = try applyHoldQueued(db, account: report.account, problemCode: problem, now: now)
            }
        case nil:
            break
        }
        if let expires = report.tokenExpiresAt {
            try recordToken(db, name: report.account, expiresAt: expires, scopes: report.tokenScopes, now: now)
        }
        return effects
    }
}

// MARK: - Writing an attempt's row, inside finishAttempt's transaction

func insertAttempt(_ db: Database, _ attempt: NewAttempt, now: Int64) throws -> Int64 {
    let body = attempt.storedResponseBody
    try db.execute(cached: "UPDATE messages SET attempts = attempts + 1, updated_at = ? WHERE id = ?",
                   arguments: [now, attempt.messageID])
    if db.changesCount == 0 { throw StoreError.unknownMessage(attempt.messageID) }
    try db.execute(cached: """
            INSERT INTO attempts (message_id, started_at, finished_at, endpoint, http_status, response_body,
                problem_code, problem_detail, next_delay_seconds)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
        arguments: [attempt.messageID, Millis.from(attempt.startedAt), Millis.from(attempt.finishedAt),
                    attempt.endpoint, attempt.httpStatus, body, attempt.problemCode?.rawValue,
                    attempt.problemDetail?.json, attempt.nextDelaySeconds])
    return db.lastInsertedRowID
}
