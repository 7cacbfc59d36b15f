import Foundation
import GmailAPI
import GoogleFixtures
import RelayVocabulary
import Testing
@testable import ProblemCatalogue

private let now = Date(timeIntervalSince1970: 1_796_000_000)  // 2026-11-29

private func context(
    _ kind: AccountKind = .oauthUser, detail: ProblemDetail? = nil, consentedAt: Date? = nil,
    subject: String? = nil, scopes: [String]? = nil
) -> ProblemContext {
    ProblemContext(
        accountName: "shop", accountKind: kind, address: "owner@shop.example", subject: subject,
        consentedAt: consentedAt, detail: detail, grantedScopes: scopes, messageID: 42, now: now)
}

/// Classifies a body byte for byte as the delivery engine would, then explains it.
private func explainAnswer(
    _ endpoint: GoogleFailure.Endpoint, status: Int, body: String, kind: GoogleFailure.AccountKind = .userGrant,
    consentedAt: Date? = nil, previousPreconditionFailures: Int = 0
) -> Explanation {
    let verdict = FailureClassifier.classify(GoogleFailure(
        endpoint: endpoint, status: status, body: Data(body.utf8), accountKind: kind, consentedAt: consentedAt,
        now: now, previousPreconditionFailures: previousPreconditionFailures))
    var ctx = context(detail: verdict.detail, consentedAt: consentedAt)
    if case .serviceAccount(let subject) = kind {
        ctx.accountKind = .serviceAccount
        ctx.subject = subject
    }
    return ProblemCatalogue.explain(code: verdict.problem, context: ctx)
}

@Suite struct CatalogueCompleteness {
    /// Every code, Google's and the relay's, has an entry: the catalogue is keyed by the one enum.
    @Test(arguments: ProblemCode.allCases)
    func everyProblemCodeHasAnEntryWithSteps(code: ProblemCode) throws {
        let entry = try #require(ProblemCatalogue.entry(for: code), "no catalogue entry for \(code.rawValue)")
        let explained = entry.explain(context(code.rawValue.hasPrefix("sa_") ? .serviceAccount : .oauthUser, subject: "info@shop.example"))
        #expect(explained.code == code)
        #expect(!explained.title.isEmpty)
        #expect(explained.explanation.count > 40)
        #expect(!explained.causes.isEmpty)
        #expect(!explained.steps.isEmpty)
        // The real name is filled in; no placeholder leaks into a rendered step.
        for step in explained.steps {
            #expect(step.range(of: #"\bNAME\b"#, options: .regularExpression) == nil, "\(code.rawValue): \(step)")
            #expect(!step.contains("log show ID"), "\(code.rawValue): \(step)")
        }
        if code.isFixedByReauth {
            #expect(explained.steps.contains { $0.contains("gmail-relay reauth shop") }, "\(code.rawValue) is fixed by reauth")
        }
    }

    @Test(arguments: ProblemCode.allCases.filter { $0.origin == .server })
    func certificateCodesSayWhenAndHowToRenew(code: ProblemCode) throws {
        let entry = try #require(ProblemCatalogue.entry(for: code), "no catalogue entry for \(code)")
        var ctx = ProblemContext(accountName: "relay", accountKind: nil, now: now)
        ctx.certificatePath = "/etc/letsencrypt/live/relay.example/fullchain.pem"
        ctx.certificateNotAfter = now.addingTimeInterval(code == .smtpCertificateExpired ? -86_400 : 3 * 86_400)
        let explained = entry.explain(ctx)
        #expect(explained.explanation.contains("fullchain.pem"))
        #expect(explained.explanation.contains(code == .smtpCertificateExpired ? "24 h ago" : "in 3.0 days"), "\(explained.explanation)")
        #expect(explained.steps.contains { $0.contains("certbot renew") })
        #expect(explained.steps.contains { $0.contains("--deploy-hook") && $0.contains("SIGHUP") })
        #expect(explained.disposition == (code == .smtpCertificateExpired ? .refused : .unaffected))
    }

    @Test func codesTitlesAndMeaningsAreDistinct() {
        let entries = ProblemCatalogue.entries
        #expect(entries.count == ProblemCode.allCases.count, "one entry per code, no more")
        #expect(Set(entries.map(\.code)).count == entries.count)
        #expect(Set(entries.map(\.title)).count == entries.count, "two codes share a title")
        #expect(Set(entries.map(\.meaning)).count == entries.count, "two codes share their explanation")
    }

    @Test func dispositionFollowsTheClassifier() {
        // held = accountBlocked, retried = rateLimited/transient, failed = messageRejected.
        #expect(ProblemCatalogue.entry(for: .grantRevoked)?.disposition == .held)
        #expect(ProblemCatalogue.entry(for: .preconditionTransient)?.disposition == .retried)
        #expect(ProblemCatalogue.entry(for: .preconditionFailed)?.disposition == .held)
        #expect(ProblemCatalogue.entry(for: .dailyLimit)?.disposition == .retried)
        #expect(ProblemCatalogue.entry(for: .messageRejected)?.disposition == .failed)
        #expect(ProblemCatalogue.entry(for: .networkError)?.disposition == .retried)
        #expect(ProblemCatalogue.entry(for: .unexpectedResponse)?.disposition == .held)
    }
}

/// Google's real bodies (GoogleFixtures, described in docs/google-api.md), through the real classifier, into the catalogue.
@Suite struct ExplanationsOfRealAnswers {
    @Test func testingModeExpiryTellsToPublishThenReauth() {
        let consent = now.addingTimeInterval(-7 * 86_400 + 3600)
        let explained = explainAnswer(.token, status: 400, body: GoogleErrorFixture.invalidGrantRevoked, consentedAt: consent)
        #expect(explained.code == .testingModeExpiry)
        #expect(explained.steps[0].contains("Publish app"))
        #expect(explained.steps[1].contains("gmail-relay reauth shop"))
        #expect(explained.explanation.contains("7 days later"))
        #expect(explained.explanation.contains("Token has been expired or revoked."))
    }

    @Test func revokedLongAfterConsentIsNotTestingMode() {
        let explained = explainAnswer(.token, status: 400, body: GoogleErrorFixture.invalidGrantRevoked, consentedAt: now.addingTimeInterval(-40 * 86_400))
        #expect(explained.code == .grantRevoked)
        #expect(explained.causes.contains { $0.contains("password") })
        #expect(explained.causes.contains { $0.contains("six months") })
        #expect(explained.steps.contains { $0.contains("gmail-relay reauth shop") })
    }

    @Test func serviceAccountVariantsAreToldApart() {
        let sa = GoogleFailure.AccountKind.serviceAccount(subject: "info@shop.example")
        let signature = explainAnswer(.token, status: 400, body: GoogleErrorFixture.invalidGrantBadSignature, kind: sa)
        let clock = explainAnswer(.token, status: 400, body: GoogleErrorFixture.invalidGrantClockSkew, kind: sa)
        let subject = explainAnswer(.token, status: 400, body: GoogleErrorFixture.invalidGrantUnknownSubject, kind: sa)
        let dwd = explainAnswer(.token, status: 401, body: GoogleErrorFixture.unauthorizedClient, kind: sa)
        #expect([signature.code, clock.code, subject.code, dwd.code] == [.saInvalidSignature, .saClockSkew, .saUnknownSubject, .saNotAuthorized])
        #expect(signature.steps.contains { $0.contains("Create new key") })
        #expect(clock.steps.contains { $0.contains("timedatectl") })
        #expect(subject.explanation.contains("info@shop.example"))
        #expect(dwd.steps.contains { $0.contains("Manage Domain Wide Delegation") && $0.contains("numeric Client ID") })
    }

    @Test func failedPreconditionVariantsAreToldApart() {
        let precondition = GoogleErrorFixture.failedPrecondition
        let noMail = GoogleErrorFixture.mailServiceNotEnabled
        let noSubject = explainAnswer(.gmailSend, status: 400, body: precondition, kind: .serviceAccount(subject: nil))
        let consumer = explainAnswer(.gmailSend, status: 400, body: precondition, kind: .serviceAccount(subject: "someone@gmail.com"))
        let disabled = explainAnswer(.gmailSend, status: 400, body: noMail)
        let transient = explainAnswer(.gmailSend, status: 400, body: precondition)
        let again = explainAnswer(.gmailSend, status: 400, body: precondition, previousPreconditionFailures: 1)
        #expect([noSubject.code, consumer.code, disabled.code, transient.code, again.code]
            == [.saNoSubject, .saConsumerAccount, .mailServiceDisabled, .preconditionTransient, .preconditionFailed])
        #expect(noSubject.explanation.contains("domain-wide delegation"))
        #expect(noSubject.steps.contains { $0.contains("--subject") })
        #expect(consumer.explanation.contains("gmail.com"))
        #expect(consumer.steps.contains { $0.contains("--client-secret-file") })
        #expect(disabled.steps.contains { $0.contains("Service status") })
        #expect(transient.disposition == .retried && again.disposition == .held)
        let explanations = [noSubject, consumer, disabled, transient, again].map(\.explanation)
        #expect(Set(explanations).count == 5)
    }

    @Test func apiDisabledCarriesTheActivationURLFromTheBody() {
        let explained = explainAnswer(.gmailSend, status: 403, body: GoogleErrorFixture.accessNotConfigured)
        #expect(explained.code == .apiDisabled)
        #expect(explained.steps[0] == "Open https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=861228239640 (signed in as a project owner) and click Enable.")
    }

    @Test func rateLimitCarriesTheRetryTime() {
        let body = GoogleErrorFixture.mailSendingSuggested
            .replacingOccurrences(of: "2026-01-01T00:00:00.000Z", with: "2026-11-29T09:30:00.000Z")
        let explained = explainAnswer(.gmailSend, status: 429, body: body)
        #expect(explained.code == .dailyLimit)
        #expect(explained.explanation.contains("2026-11-29 09:30 UTC"))
        #expect(explained.steps[0].contains("2026-11-29 09:30 UTC"))
        #expect(explained.causes[0].contains("2,000 messages a day"))
    }

    @Test func messageRejectedQuotesGmailOnce() {
        let explained = explainAnswer(.gmailSend, status: 400, body: GoogleErrorFixture.invalidToHeader)
        #expect(explained.code == .messageRejected)
        #expect(explained.explanation.contains("Gmail's own words: “Invalid To header”"))
        #expect(explained.explanation.components(separatedBy: "Invalid To header").count == 2)
        #expect(explained.steps[0].contains("gmail-relay log show 42"))
    }

    @Test func scopeInsufficientShowsGrantedAndNeeded() throws {
        let entry = try #require(ProblemCatalogue.entry(for: .scopeInsufficient))
        let explained = entry.explain(context(scopes: ["openid", "https://www.googleapis.com/auth/gmail.readonly"]))
        #expect(explained.explanation.contains("Sending needs one of: https://www.googleapis.com/auth/gmail.send"))
        #expect(explained.explanation.contains("The grant has: openid, https://www.googleapis.com/auth/gmail.readonly."))
        let unknown = entry.explain(context())
        #expect(unknown.explanation.contains("not known to the relay"))
    }
}

@Suite struct TroubleshootingDocument {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func committedFileEqualsTheCatalogue() throws {
        let path = Self.repositoryRoot.appendingPathComponent("docs/troubleshooting.md")
        let committed = try String(contentsOf: path, encoding: .utf8)
        let generated = ProblemCatalogue.troubleshootingMarkdown()
        #expect(committed == generated, "docs/troubleshooting.md is stale: run `.build/debug/gmail-relay troubleshooting-doc > docs/troubleshooting.md`")
    }

    @Test func documentHasEveryCodeWithPlaceholders() {
        let text = ProblemCatalogue.troubleshootingMarkdown()
        for entry in ProblemCatalogue.entries {
            #expect(text.contains("\n## \(entry.code)\n"), "\(entry.code) missing")
        }
        #expect(text.contains("gmail-relay reauth NAME"))
        #expect(!text.contains("1970"), "the placeholder clock leaked into the docs")
    }
}

@Suite struct WarningEntries {
    @Test(arguments: ProblemCode.allCases.filter { $0.origin == .warning })
    func warningsLeaveMailAloneAndSayWhatToDo(code: ProblemCode) throws {
        let entry = try #require(ProblemCatalogue.entry(for: code), "no catalogue entry for \(code)")
        #expect(entry.disposition == .unaffected)
        var ctx = ProblemContext(accountName: "shop", accountKind: .serviceAccount, subject: "boss@shop.example",
                                 consentedAt: now.addingTimeInterval(-5 * 86_400), now: now)
        ctx.keyStoredAt = now.addingTimeInterval(-100 * 86_400)
        let explained = entry.explain(ctx)
        #expect(explained.steps.count >= 2)
        if code == .serviceAccountKeyOld {
            #expect(explained.explanation.contains("2026-08-22 00:53 UTC") && explained.explanation.contains("100.0 days ago"), "\(explained.explanation)")
            #expect(explained.steps.contains { $0.contains("account update shop --service-account NEW-KEY.json --subject boss@shop.example") })
        } else {
            #expect(explained.explanation.contains("ends on 2026-12-02 00:53 UTC") && explained.explanation.contains("in 2.0 days"), "\(explained.explanation)")
        }
    }
}
