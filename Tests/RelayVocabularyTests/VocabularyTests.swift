import Foundation
import RelayVocabulary
import Testing

@Suite struct ProblemDetailCodecTests {
    @Test func roundTripsEveryField() throws {
        let detail = ProblemDetail(
            googleMessage: "Precondition check failed.", reason: "failedPrecondition", errorInfoReason: "SERVICE_DISABLED",
            status: "FAILED_PRECONDITION", domain: "global",
            activationURL: URL(string: "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=1"),
            retryAfter: Date(timeIntervalSince1970: 1_800_000_000), endpoint: .gmailSend, httpStatus: 400,
            transportError: nil, bodyFormat: .googleError, rawBody: "{\"error\": {}}")
        let decoded = try #require(ProblemDetail(json: detail.json))
        #expect(decoded == detail)
    }

    @Test func storedFormHasTheSnakeCaseKeysSorted() {
        let json = ProblemDetail(retryAfter: Date(timeIntervalSince1970: 0), endpoint: .token, httpStatus: 429).json
        #expect(json == #"{"body_format":"empty","endpoint":"token","http_status":429,"raw_body":"","retry_after":"1970-01-01T00:00:00Z"}"#)
    }

    /// Rows written before `endpoint` existed, and dates with fractions of a second, still read.
    @Test func readsOlderRows() throws {
        let old = #"{"body_format":"google_error","http_status":429,"raw_body":"x","reason":"rateLimitExceeded","retry_after":"2026-12-02T06:40:00.250Z"}"#
        let detail = try #require(ProblemDetail(json: old))
        #expect(detail.endpoint == nil)
        #expect(detail.reason == "rateLimitExceeded")
        #expect(detail.retryAfter == Date(timeIntervalSince1970: 1_796_193_600.25))
    }

    @Test(arguments: [nil, "", "not json", "[1, 2]", #"{"raw_body": 3}"#])
    func badTextIsNoDetail(text: String?) {
        #expect(ProblemDetail(json: text) == nil)
    }
}

@Suite struct KindTests {
    /// The stored words never change: rows, docs anchors and /api/status carry them.
    @Test func rawValuesAreTheStoredWords() {
        #expect(ProblemCode.testingModeExpiry.rawValue == "testing_mode_expiry")
        #expect(ProblemCode.grantMissing.rawValue == "grant_missing")
        #expect(ProblemCode.smtpCertificateExpired.rawValue == "smtp_certificate_expired")
        #expect(AccountKind.serviceAccount.rawValue == "service_account")
        #expect(EventKind.accountState.rawValue == "account_state")
        #expect(Set(ProblemCode.allCases.map(\.rawValue)).count == ProblemCode.allCases.count)
    }

    @Test func originsSplitTheCodes() {
        let relay = ProblemCode.allCases.filter { $0.origin == .relay }
        #expect(Set(relay) == [.accountRemoved, .grantMissing, .secretUnreadable, .spoolMissing, .maxAgeExceeded])
        #expect(ProblemCode.allCases.filter { $0.origin == .server }.count == 2)
        #expect(Set(ProblemCode.allCases.filter { $0.origin == .warning }) == [.serviceAccountKeyOld, .grantTestingExpirySoon])
        #expect(ProblemCode(stored: "from_a_newer_relay") == nil)
    }

    @Test(arguments: MessageStatus.allCases)
    func everyStatusButSendingHasAnEvent(status: MessageStatus) {
        let kind = EventKind(entering: status)
        #expect((kind == nil) == (status == .sending))
        if let kind { #expect(kind.rawValue == status.rawValue) }
    }
}
