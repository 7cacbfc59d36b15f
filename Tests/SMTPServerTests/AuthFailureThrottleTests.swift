import NIOCore
import Testing
@testable import SMTPServer

/// The back-off before a 535: per address and per username, the longer of the two.
@Suite struct AuthFailureThrottleTests {
    @Test func guessesAtOneUsernameFromManyAddressesSlowDown() {
        let throttle = AuthFailureThrottle(base: .milliseconds(100))
        let now = NIODeadline.now()
        // Every guess from a new address: the address has no history, the username does.
        let delays = (1...6).map { throttle.failed(peer: "192.0.2.\($0)", username: "site1", now: now) }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .milliseconds(3200)])
        // Another username from a new address starts low.
        #expect(throttle.failed(peer: "192.0.2.99", username: "site2", now: now) == .milliseconds(100))
        // Usernames are compared without case, as logins are typed.
        #expect(throttle.failed(peer: "192.0.2.100", username: "SITE1", now: now) == .milliseconds(6400))
        #expect(throttle.failed(peer: "192.0.2.101", username: "site1", now: now) == .seconds(10), "capped")
    }

    @Test func oneAddressTryingManyUsernamesSlowsDownToo() {
        let throttle = AuthFailureThrottle(base: .milliseconds(100))
        let now = NIODeadline.now()
        let delays = (1...4).map { throttle.failed(peer: "198.51.100.7", username: "user\($0)", now: now) }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800)])
    }

    @Test func aQuietQuarterHourForgetsAndASuccessClearsItsAddressOnly() {
        let throttle = AuthFailureThrottle(base: .milliseconds(100))
        let start = NIODeadline.now()
        for _ in 0..<3 { _ = throttle.failed(peer: "192.0.2.1", username: "site1", now: start) }
        throttle.succeeded(peer: "192.0.2.1")
        // The address is forgiven, the username is not: another address guessing it still waits.
        #expect(throttle.failed(peer: "192.0.2.1", username: "other", now: start) == .milliseconds(100))
        #expect(throttle.failed(peer: "192.0.2.2", username: "site1", now: start) == .milliseconds(800))
        let later = start + .minutes(16)
        #expect(throttle.failed(peer: "192.0.2.2", username: "site1", now: later) == .milliseconds(100))
    }
}
