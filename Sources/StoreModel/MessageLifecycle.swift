import Foundation
import RelayVocabulary

// MARK: - The lifecycle of a message
//
// Every status change of a message goes through `MessageLifecycle.apply`, which checks the move against
// this table and writes the move's event in the same transaction. (Sources/RelayStore/README.md has the
// same table.)
//
//   move              from                       to          event (kind: detail)            who
//   ----------------  -------------------------  ----------  ------------------------------  ---------------------------
//   accepted          (new row)                  queued      accepted: envelope              SMTP (GroupCommitter)
//                                                sending                                     SMTP, delivery.mode = sync
//                                                held        accepted + held: problem        SMTP, account cannot send
//   claimed           queued                     sending     (none)                          worker (claimDue)
//   sent              sending                    sent        sent: Gmail id / sandbox        finishAttempt
//   attemptEnded      sending                    queued      queued: why, next attempt at    finishAttempt, markStatus
//                                                held        held: problem                   finishAttempt
//                                                failed      failed: why                     finishAttempt
//   interrupted       sending                    queued      queued: interrupted by restart  requeueInterrupted (start)
//   heldWithAccount   queued                     held        held: problem (account ...)     holdQueued, finishAttempt,
//                                                                                            recordGrantCheck
//   released          held                       queued      released: account can send      releaseHeld, reauth,
//                                                                                            account update, success
//   retried           held, failed, queued       queued      retry: was <status>             retry, retryAll
//   discarded         queued, held, failed       discarded   discarded: by whom              discard
//   accountRemoved    queued, held               failed      failed: account was removed     removeAccount
//
// `sent` and `discarded` are final: nothing leaves them (purge deletes them with the rest of the log).

/// One move of a message from one status to another, with what it changes besides the status.
package enum MessageMove: Sendable, Equatable {
    /// The delivery worker takes a due message.
    case claimed
    /// Gmail took it (`gmailID` nil for a sandbox account, which never calls Google).
    case sent(gmailID: String?)
    /// The attempt (or the sender before it) decided the next state: `.queued` to try again at
    /// `nextAttemptAt` (now when nil), `.held` or `.failed` with a problem code.
    case attemptEnded(MessageStatus, problemCode: ProblemCode?, nextAttemptAt: Int64?, detail: String?)
    /// Left `sending` by a crash or kill; back to the queue at server start.
    case interrupted
    /// Its account cannot send: waiting mail is held with the sender that found out.
    case heldWithAccount(problemCode: ProblemCode)
    /// Its account can send again.
    /// `through`: the fallback that can send it, when the message's own account still cannot.
    case released(through: String?)
    /// An operator asked for another try.
    case retried
    /// An operator dropped it.
    case discarded(detail: String)
    /// Its account was removed: it can never be sent.
    case accountRemoved

    /// The statuses this move may start from (the table above).
    package var from: Set<MessageStatus> {
        switch self {
        case .claimed, .heldWithAccount: [.queued]
        case .sent, .attemptEnded, .interrupted: [.sending]
        case .released: [.held]
        case .retried: [.held, .failed, .queued]
        case .discarded: [.queued, .held, .failed]
        case .accountRemoved: [.queued, .held]
        }
    }

    /// The status it leads to.
    package var to: MessageStatus {
        switch self {
        case .claimed: .sending
        case .sent: .sent
        case .attemptEnded(let status, _, _, _): status
        case .interrupted, .released, .retried: .queued
        case .heldWithAccount: .held
        case .discarded: .discarded
        case .accountRemoved: .failed
        }
    }

    /// Statuses an attempt may end in (`attemptEnded`); it never ends `sending` or `discarded`.
    package static let attemptOutcomes: Set<MessageStatus> = [.queued, .held, .failed]
}

/// A message as a move sees it: where it is and whose it is.
package struct MessageState: Sendable {
    package var id: Int64
    package var status: MessageStatus
    package var accountID: Int64?
    package var account: String
    /// A spool file or an inline body: something to send.
    package var hasBody = true

    package init(id: Int64, status: MessageStatus, accountID: Int64?, account: String, hasBody: Bool = true) {
        self.id = id
        self.status = status
        self.accountID = accountID
        self.account = account
        self.hasBody = hasBody
    }
}

package enum MessageLifecycle {
    /// Statuses a message may be accepted in.
    package static let initialStatuses: Set<MessageStatus> = [.queued, .sending, .held]

    /// Whether some move of the table above leads from `from` to `to`.
    package static func allows(from: MessageStatus, to: MessageStatus) -> Bool {
        let moves: [MessageMove] = [
            .claimed, .sent(gmailID: nil), .interrupted, .heldWithAccount(problemCode: .grantMissing), .released(through: nil), .retried,
            .discarded(detail: ""), .accountRemoved,
        ] + attemptOutcomesMoves
        return moves.contains { $0.to == to && $0.from.contains(from) }
    }

    private static var attemptOutcomesMoves: [MessageMove] {
        MessageMove.attemptOutcomes.map { .attemptEnded($0, problemCode: nil, nextAttemptAt: nil, detail: nil) }
    }

    /// Throws `.invalidTransition` unless `move` may start where `message` is.
    package static func check(_ message: MessageState, _ move: MessageMove) throws {
        let allowed: Bool
        if case .attemptEnded(let status, _, _, _) = move, !MessageMove.attemptOutcomes.contains(status) {
            allowed = false
        } else {
            allowed = move.from.contains(message.status)
        }
        guard allowed else { throw StoreError.invalidTransition(id: message.id, from: message.status, to: move.to) }
    }

    /// The event a move writes; nil for a claim (the attempt that follows writes its own).
    package static func event(
        for move: MessageMove, of message: MessageState, next: Int64?, now: Int64
    ) -> (kind: EventKind, detail: String)? {
        switch move {
        case .claimed:
            return nil
        case .sent(let gmailID):
            return (.sent, gmailID.map { "Gmail id \($0)" } ?? "sandbox: not sent to Google")
        case .attemptEnded(let status, let code, _, let detail):
            var text = detail ?? code?.rawValue ?? "was \(message.status.rawValue)"
            if status == .queued, let next, next > now {
                text += ", next attempt at \(ISO8601.string(Millis.date(next)))"
            }
            // attemptOutcomes only (checked before): queued, held or failed.
            return (EventKind(entering: status) ?? .failed, text)
        case .interrupted:
            return (.queued, "interrupted by a restart")
        case .heldWithAccount(let code):
            return (.held, "\(code.rawValue) (account \(message.account) cannot send)")
        case .released(let fallback?):
            return (.released, "fallback \(fallback) can send it")
        case .released(nil):
            return (.released, "account \(message.account) can send again")
        case .retried:
            return (.retry, "retry requested (was \(message.status.rawValue))")
        case .discarded(let detail):
            return (.discarded, detail)
        case .accountRemoved:
            return (.failed, "account \(message.account) was removed")
        }
    }
}

/// A column a move sets or leaves as it is.
package enum Change<Value: Sendable>: Sendable {
    case keep
    case set(Value)

    package var isSet: Bool {
        if case .set = self { return true }
        return false
    }

    package var value: Value? {
        if case .set(let value) = self { return value }
        return nil
    }
}
