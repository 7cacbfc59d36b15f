import Foundation
import RelayStore
import RelayVocabulary
import XCTest
@testable import Delivery
@testable import GmailAPI

/// The pure cores: retry decisions, pacing, redaction. Time is passed in; nothing sleeps.
final class RetryPolicyTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = RetryPolicy(initialDelay: 1, maximumDelay: 900, maxAge: 72 * 3600)

    private func classification(_ failureClass: FailureClass, _ problem: ProblemCode, reauth: Bool = false) -> Classification {
        Classification(failureClass: failureClass, problem: problem, detail: ProblemDetail(), needsReauthorization: reauth)
    }

    func testBackoffDoublesWithinJitterAndIsCapped() {
        for failures in 1...12 {
            let full = min(900, pow(2, Double(failures - 1)))
            XCTAssertEqual(policy.backoff(failures: failures, random: 0), full / 2, accuracy: 1e-9, "failure \(failures)")
            XCTAssertEqual(policy.backoff(failures: failures, random: 1), full, accuracy: 1e-9, "failure \(failures)")
            let middle = policy.backoff(failures: failures, random: 0.5)
            XCTAssertTrue(middle > full / 2 && middle < full, "failure \(failures): \(middle)")
        }
        XCTAssertEqual(policy.backoff(failures: 1000, random: 1), 900, "capped, no overflow")
    }

    func testDecisionsByClass() {
        let accepted = now.addingTimeInterval(-60)
        let cases: [(Classification, DeliveryDecision)] = [
            (classification(.messageRejected, .messageRejected), .fail(problem: .messageRejected)),
            (classification(.messageRejected, .messageTooLarge), .fail(problem: .messageTooLarge)),
            (classification(.accountBlocked, .grantRevoked, reauth: true), .hold(accountState: .needsReauth)),
            (classification(.accountBlocked, .clientSecretInvalid), .hold(accountState: .needsReauth)),
            (classification(.accountBlocked, .apiDisabled), .hold(accountState: .blocked)),
            (classification(.accountBlocked, .saNoSubject), .hold(accountState: .blocked)),
            (classification(.rateLimited(retryAfter: now.addingTimeInterval(900), dailyLimit: false), .rateLimited),
             .retry(at: now.addingTimeInterval(900))),
            (classification(.rateLimited(retryAfter: now.addingTimeInterval(7200), dailyLimit: true), .dailyLimit),
             .pauseAccount(until: now.addingTimeInterval(7200))),
            (classification(.rateLimited(retryAfter: nil, dailyLimit: true), .dailyLimit),
             .pauseAccount(until: now.addingTimeInterval(3600))),
            (classification(.transient, .backendError), .retry(at: now.addingTimeInterval(4))),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(policy.decide(input, failures: 4, acceptedAt: accepted, now: now, random: 0),
                           expected, "\(input.problem)")
        }
    }

    func testRateLimitWithoutTimeBacksOff() {
        let decision = policy.decide(classification(.rateLimited(retryAfter: nil, dailyLimit: false), .concurrencyLimited),
                                     failures: 2, acceptedAt: now, now: now, random: 1)
        XCTAssertEqual(decision, .retry(at: now.addingTimeInterval(2)))
    }

    func testTransientFailuresGiveUpAfterMaxAge() {
        let accepted = now.addingTimeInterval(-72 * 3600 + 100)
        let soon = policy.decide(classification(.transient, .networkError), failures: 3, acceptedAt: accepted, now: now, random: 0)
        XCTAssertEqual(soon, .retry(at: now.addingTimeInterval(2)))
        let late = policy.decide(classification(.transient, .networkError), failures: 20, acceptedAt: accepted, now: now, random: 1)
        XCTAssertEqual(late, .fail(problem: .maxAgeExceeded))
        let limited = policy.decide(classification(.rateLimited(retryAfter: now.addingTimeInterval(3600), dailyLimit: false), .rateLimited),
                                    failures: 1, acceptedAt: accepted, now: now, random: 0)
        XCTAssertEqual(limited, .fail(problem: .maxAgeExceeded))
        // The daily limit is the account's: the message waits, however old.
        let daily = policy.decide(classification(.rateLimited(retryAfter: now.addingTimeInterval(3600), dailyLimit: true), .dailyLimit),
                                  failures: 1, acceptedAt: accepted, now: now, random: 0)
        XCTAssertEqual(daily, .pauseAccount(until: now.addingTimeInterval(3600)))
    }

    func testRetryTimeInThePastMeansNow() {
        let decision = policy.decide(classification(.rateLimited(retryAfter: now.addingTimeInterval(-5), dailyLimit: false), .rateLimited),
                                     failures: 1, acceptedAt: now, now: now, random: 0)
        XCTAssertEqual(decision, .retry(at: now))
    }
}

final class PacingTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func testSlidingWindowAllowsLimitPerMinute() {
        var pacer = SendPacer(limit: 3, window: 60)
        XCTAssertEqual(pacer.available(now: start), 3)
        pacer.record(now: start)
        pacer.record(now: start.addingTimeInterval(10))
        pacer.record(now: start.addingTimeInterval(20))
        XCTAssertEqual(pacer.available(now: start.addingTimeInterval(30)), 0)
        XCTAssertEqual(pacer.nextStart(now: start.addingTimeInterval(30)), start.addingTimeInterval(60))
        XCTAssertEqual(pacer.available(now: start.addingTimeInterval(59.9)), 0)
        XCTAssertEqual(pacer.available(now: start.addingTimeInterval(60.1)), 1, "the first start left the window")
        XCTAssertEqual(pacer.available(now: start.addingTimeInterval(80.1)), 3)
    }

    func testPauseHoldsEverythingUntilItEnds() {
        var pacer = SendPacer(limit: 60)
        pacer.pause(until: start.addingTimeInterval(3600))
        XCTAssertEqual(pacer.available(now: start), 0)
        XCTAssertEqual(pacer.nextStart(now: start), start.addingTimeInterval(3600))
        pacer.pause(until: start.addingTimeInterval(60))
        XCTAssertEqual(pacer.nextStart(now: start), start.addingTimeInterval(3600), "a shorter pause does not shorten a longer one")
        XCTAssertEqual(pacer.available(now: start.addingTimeInterval(3600.5)), 60)
        XCTAssertNil(pacer.pausedUntil)
    }

    /// 60 sends a minute with 4 in flight: a burst of 200 messages is spread over the minutes, driven by a
    /// clock the test moves (each send takes 0.5 s).
    func testLanesSpreadABurstOverMinutes() async {
        let lanes = DeliveryLanes(concurrency: 4, sendsPerMinute: 60)
        var now = start
        var startedAt: [Date] = []
        var inFlight: [(end: Date, account: String)] = []
        while startedAt.count < 200 {
            for finished in inFlight.filter({ $0.end <= now }) { await lanes.finish(finished.account) }
            inFlight.removeAll { $0.end <= now }
            while startedAt.count < 200, await lanes.reserve("shop", now: now) {
                startedAt.append(now)
                inFlight.append((now.addingTimeInterval(0.5), "shop"))
            }
            let busy = await lanes.inFlight("shop")
            XCTAssertLessThanOrEqual(busy, 4)
            now = now.addingTimeInterval(0.25)
        }
        for (index, time) in startedAt.enumerated() where index >= 60 {
            XCTAssertGreaterThanOrEqual(time.timeIntervalSince(startedAt[index - 60]), 60, "send \(index): more than 60 in a minute")
        }
        let minutes = startedAt.last!.timeIntervalSince(start) / 60
        XCTAssertGreaterThan(minutes, 3, "200 sends at 60 a minute take over 3 minutes")
        XCTAssertLessThan(minutes, 3.5)
        let other = await lanes.reserve("blog", now: now)
        XCTAssertTrue(other, "another account has its own lane")
    }

    /// The worker reserves before it claims: busy and paused accounts get nothing, the others share
    /// the total one slot at a time, and slots given back count neither as in flight nor against pacing.
    func testReserveUpToGivesOnlyFreeSlotsAndCancelGivesThemBack() async {
        let lanes = DeliveryLanes(concurrency: 2, sendsPerMinute: 3)
        _ = await lanes.reserve("shop", now: start)
        _ = await lanes.reserve("shop", now: start)
        await lanes.pause("news", until: start.addingTimeInterval(600))
        var granted = await lanes.reserve(upTo: ["shop": 5, "news": 5, "blog": 5, "mail": 5], total: 3, now: start)
        XCTAssertEqual(granted, ["blog": 2, "mail": 1], "shared out in turn; busy and paused accounts get none")
        var inFlight = await lanes.inFlight
        XCTAssertEqual(inFlight, 5)
        await lanes.cancel("blog", count: 2)
        await lanes.cancel("mail", count: 1)
        inFlight = await lanes.inFlight
        XCTAssertEqual(inFlight, 2)
        // Three sends a minute: the cancelled slots were not counted as sends.
        granted = await lanes.reserve(upTo: ["blog": 5], total: 10, now: start)
        XCTAssertEqual(granted, ["blog": 2])
        await lanes.finish("blog")
        await lanes.finish("blog")
        granted = await lanes.reserve(upTo: ["blog": 5], total: 10, now: start)
        XCTAssertEqual(granted, ["blog": 1], "two of three sends this minute were made")
        await lanes.finish("shop")
        let opening = await lanes.nextOpening(now: start)
        XCTAssertEqual(opening, start.addingTimeInterval(60), "blog's pacing opens first; news waits for its pause")
    }
}

final class RedactionTests: XCTestCase {
    func testTokensAndSecretsAreRedactedAndTheRestKept() {
        let body = """
            {
              "access_token": "ya29.a0AfH6SMBx-secret",
              "refresh_token" : "1//0gLongSecret\\"quoted",
              "error": "invalid_grant",
              "error_description": "Token has been expired or revoked."
            }
            """
        let redacted = Redaction.redact(body)
        XCTAssertFalse(redacted.contains("ya29"))
        XCTAssertFalse(redacted.contains("LongSecret"))
        XCTAssertTrue(redacted.contains("\"access_token\": \"[redacted]\""))
        XCTAssertTrue(redacted.contains("\"error_description\": \"Token has been expired or revoked.\""))
        XCTAssertEqual(Redaction.redact("grant_type=refresh_token&refresh_token=1%2F%2Fabc&client_secret=xyz"),
                       "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]")
        XCTAssertEqual(Redaction.redact("Authorization: Bearer ya29.abc-def"), "Authorization: Bearer [redacted]")
        let gmail = "{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"Precondition check failed.\"\n  }\n}\n"
        XCTAssertEqual(Redaction.redact(gmail), gmail, "Gmail's error bodies go through untouched")
    }
}
