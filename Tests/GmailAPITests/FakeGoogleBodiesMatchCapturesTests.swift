import Foundation
import GoogleFixtures
import Testing

@testable import FakeGoogle

/// One fixture set: every answer the fake builds for a case Google was seen answering is the captured
/// body (GoogleFixtures), byte for byte, plus the final newline Google's front ends send.
struct CapturedAnswer: Sendable, CustomTestStringConvertible {
    var name: String
    var fake: FakeResponse
    var captured: String

    init(_ name: String, _ fake: FakeResponse, _ captured: String) {
        self.name = name
        self.fake = fake
        self.captured = captured
    }

    var testDescription: String { name }
}

private typealias F = GoogleErrorFixture

private func at(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)!
}

private let capturedAnswers: [CapturedAnswer] = [
    CapturedAnswer("failedPrecondition", GoogleBodies.failedPrecondition, F.failedPrecondition),
    CapturedAnswer("failedPrecondition Bad Request", GoogleBodies.failedPreconditionBadRequest, F.failedPreconditionBadRequest),
    CapturedAnswer("raw required", GoogleBodies.rawRequired, F.rawRequired),
    CapturedAnswer("Invalid To header", GoogleBodies.invalidHeader("To"), F.invalidToHeader),
    CapturedAnswer("invalid credentials", GoogleBodies.invalidCredentials, F.invalidCredentials),
    CapturedAnswer("accessNotConfigured", GoogleBodies.accessNotConfigured(project: "861228239640"), F.accessNotConfigured),
    CapturedAnswer("delegation denied", GoogleBodies.delegationDenied("example@gmail.com"), F.delegationDenied),
    CapturedAnswer("queries per minute", GoogleBodies.queriesPerMinute(project: "861228239640"), F.queriesPerMinute),
    CapturedAnswer("user-rate limit 429", GoogleBodies.userRateLimit(retryAfter: at("2026-11-22T19:04:05.123Z")), F.userRateLimit429),
    CapturedAnswer("resource exhausted", GoogleBodies.resourceExhausted, F.resourceExhausted),
    CapturedAnswer("502 page", GoogleBodies.badGateway, F.badGatewayHTML),
    CapturedAnswer("413 page", GoogleBodies.payloadTooLarge, F.payloadTooLargeHTML),
    CapturedAnswer("invalid_grant revoked", GoogleBodies.invalidGrantRevoked, F.invalidGrantRevoked),
    CapturedAnswer("invalid_grant Bad Request", GoogleBodies.invalidGrantBadRequest, F.invalidGrantBadRequest),
    CapturedAnswer("invalid_grant signature", GoogleBodies.invalidGrantBadSignature, F.invalidGrantBadSignature),
    CapturedAnswer("invalid_grant clock skew", GoogleBodies.invalidGrantClockSkew, F.invalidGrantClockSkew),
    CapturedAnswer("invalid_grant unknown subject", GoogleBodies.invalidGrantUnknownSubject, F.invalidGrantUnknownSubject),
    CapturedAnswer("invalid_grant malformed code", GoogleBodies.invalidGrantMalformedCode, F.invalidGrantMalformedCode),
    CapturedAnswer("invalid_grant code verifier", GoogleBodies.invalidGrantCodeVerifier, F.invalidGrantCodeVerifier),
    CapturedAnswer("invalid_grant verifier not needed", GoogleBodies.invalidGrantVerifierNotNeeded, F.invalidGrantVerifierNotNeeded),
    CapturedAnswer("invalid_grant audience", GoogleBodies.badAudience("https://oauth2.googleapis.com/token"), F.invalidGrantAudience),
    CapturedAnswer("invalid_grant account not found", GoogleBodies.accountNotFound, F.invalidGrantAccountNotFound),
    CapturedAnswer("unauthorized_client", GoogleBodies.unauthorizedClient, F.unauthorizedClient),
    CapturedAnswer("unauthorized_client scope", GoogleBodies.unauthorizedClientScope, F.unauthorizedClientScope),
    CapturedAnswer("unauthorized_client mismatch", GoogleBodies.unauthorizedClientMismatch, F.unauthorizedClientMismatch),
    CapturedAnswer("invalid_client not found", GoogleBodies.invalidClientNotFound, F.invalidClientNotFound),
    CapturedAnswer("invalid_client secret", GoogleBodies.invalidClientSecret, F.invalidClientSecret),
    CapturedAnswer("deleted_client", GoogleBodies.deletedClient, F.deletedClient),
    CapturedAnswer("disabled_client", GoogleBodies.disabledClient, F.disabledClient),
    CapturedAnswer("invalid_scope", GoogleBodies.invalidScope, F.invalidScope),
    CapturedAnswer("invalid_request secret missing", GoogleBodies.missingSecret, F.invalidRequest),
]

@Suite struct FakeGoogleBodiesMatchCapturesTests {
    @Test(arguments: capturedAnswers)
    func fakeAnswersTheCapturedBody(_ answer: CapturedAnswer) {
        let expected = answer.captured.hasSuffix("\n") ? answer.captured : answer.captured + "\n"
        #expect(answer.fake.bodyText == expected)
    }
}
