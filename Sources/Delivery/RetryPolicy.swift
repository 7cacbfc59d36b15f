import Foundation
import GmailAPI
import RelayStore
import RelayVocabulary

/// What happens to a message after a failed attempt. Pure: the caller passes the clock and the dice.
public enum DeliveryDecision: Sendable, Equatable {
    /// Back to the queue, due at `at`.
    case retry(at: Date)
    /// Back to the queue at `until`, and the whole account waits until then (Gmail's daily sending limit).
    case pauseAccount(until: Date)
    /// The message (and the account's other waiting mail) is held until a person acts; the account's state.
    case hold(accountState: AccountState)
    /// Failed for good, with this problem code (Gmail's refusal, or too old).
    case fail(problem: ProblemCode)
}

/// Backoff and give-up rules of the delivery worker.
public struct RetryPolicy: Sendable, Equatable {
    /// Delay after the first transient failure; it doubles after each further one.
    public var initialDelay: TimeInterval
    /// The delay never grows past this.
    public var maximumDelay: TimeInterval
    /// A message still failing this long after it was accepted fails for good.
    public var maxAge: TimeInterval
    /// A daily limit without a retry time waits this long.
    public var dailyLimitPause: TimeInterval

    public init(initialDelay: TimeInterval = 1, maximumDelay: TimeInterval = 15 * 60, maxAge: TimeInterval = 72 * 3600,
                dailyLimitPause: TimeInterval = 3600) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maxAge = maxAge
        self.dailyLimitPause = dailyLimitPause
    }

    /// Exponential backoff with "equal jitter": the n-th failure (from 1) waits between half and all of
    /// `initialDelay * 2^(n-1)`, capped. The jitter spreads retries of a burst that failed together.
    /// `random` is in 0..<1.
    public func backoff(failures: Int, random: Double) -> TimeInterval {
        let exponent = Double(max(0, min(failures - 1, 30)))
        let full = min(maximumDelay, initialDelay * pow(2, exponent))
        return full / 2 + full / 2 * min(max(random, 0), 1)
    }

    /// The verdict for a classified failure. `failures` counts this message's failed attempts including
    /// this one; `acceptedAt` is when SMTP took it.
    public func decide(_ classification: Classification, failures: Int, acceptedAt: Date, now: Date, random: Double) -> DeliveryDecision {
        switch classification.failureClass {
        case .messageRejected:
            return .fail(problem: classification.problem)
        case .accountBlocked:
            return .hold(accountState: Self.accountState(for: classification))
        case .rateLimited(let retryAfter, let dailyLimit):
            if dailyLimit {
                // Hours, not seconds: waiting is the only fix, and the account is paused as a whole. A message
                // is not failed for age here: the limit is the account's, not the message's fault.
                return .pauseAccount(until: max(retryAfter ?? now.addingTimeInterval(dailyLimitPause), now))
            }
            let at = max(retryAfter ?? now.addingTimeInterval(backoff(failures: failures, random: random)), now)
            return tooOld(at, acceptedAt) ? .fail(problem: .maxAgeExceeded) : .retry(at: at)
        case .transient:
            let at = now.addingTimeInterval(backoff(failures: failures, random: random))
            return tooOld(at, acceptedAt) ? .fail(problem: .maxAgeExceeded) : .retry(at: at)
        }
    }

    private func tooOld(_ at: Date, _ acceptedAt: Date) -> Bool {
        at.timeIntervalSince(acceptedAt) > maxAge
    }

    /// needs_reauth when a person re-authorizing (or re-adding the OAuth client) is the fix, blocked otherwise.
    public static func accountState(for classification: Classification) -> AccountState {
        if classification.needsReauthorization { return .needsReauth }
        switch classification.problem {
        case .clientInvalid, .clientSecretInvalid, .clientDeleted, .grantRevoked, .testingModeExpiry, .grantUnrecognized:
            return .needsReauth
        default:
            return .blocked
        }
    }
}
