import FakeGoogle
import Foundation
import GoogleFixtures
import RelayVocabulary
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// users.messages.send on the fake, over real HTTP.
@Suite struct FakeGoogleSendTests: FakeGoogleSuite {
    let google: FakeGoogleServer
    let client: FGClient
    let token: String

    init() async throws {
        google = FakeGoogleServer()
        client = FGClient(base: try await google.start())
        google.addUser(email: "alice@example.com", sendAs: ["news@example.com"])
        token = google.issueAccessToken(email: "alice@example.com", scopes: [FGFixtures.gmailSend])
    }

    // The captured bodies (GoogleFixtures) plus the final newline Google's front ends send.

    /// §2.1, verbatim.
    static let failedPreconditionBody = GoogleErrorFixture.failedPrecondition + "\n"

    /// §2.3, verbatim.
    static let invalidCredentialsBody = GoogleErrorFixture.invalidCredentials + "\n"

    /// §2.4, with the send method docs/google-api.md infers (its captures name GetProfile).
    static let insufficientScopesBody = GoogleErrorFixture.insufficientScopes
        .replacingOccurrences(of: "MailboxService.GetProfile", with: "MailboxService.SendMessage") + "\n"

    /// §2.1 "Mail service not enabled" (captured on one line; the same shape pretty-printed).
    static let mailServiceNotEnabledBody = GoogleErrorFixture.failedPrecondition
        .replacingOccurrences(of: "Precondition check failed.", with: "Mail service not enabled") + "\n"

    // MARK: Success

    @Test func sendRecordsRecipientsIncludingBcc() async throws {
        try await stopping {
            let answer = try await client.send(token: token, message: FGFixtures.message)
            #expect(answer.status == 200, "\(answer.text)")
            let id = try #require(answer.json["id"] as? String)
            #expect(id.count == 16)
            #expect(id.allSatisfy { $0.isHexDigit })
            #expect(answer.text == "{\n  \"id\": \"\(id)\",\n  \"threadId\": \"\(id)\",\n  \"labelIds\": [\n    \"SENT\"\n  ]\n}\n")
            #expect(answer.header("Content-Type") == "application/json; charset=UTF-8")

            let sent = try #require(google.outbox.first)
            #expect(sent.id == id)
            #expect(sent.user == "alice@example.com")
            #expect(sent.from == "alice@example.com")
            #expect(sent.to == ["john@example.org", "bob@example.net"])
            #expect(sent.cc == ["x@example.com", "z@example.com"])
            #expect(sent.bcc == ["hidden@example.com"])
            #expect(sent.recipients == ["john@example.org", "bob@example.net", "x@example.com", "z@example.com", "hidden@example.com"])
            #expect(sent.subject == "hello")
            #expect(sent.raw == Data(FGFixtures.message.utf8))
            #expect(google.sendRequestCount == 1)
        }
    }

    @Test func foldedHeadersAliasesAndSelfSends() async throws {
        try await stopping {
            let folded = "From: \"News\" <news@example.com>\r\nTo: a@example.com,\r\n b@example.com\r\nBcc: alice@example.com\r\nSubject: x\r\n\r\nbody"
            let answer = try await client.send(token: token, message: folded, userID: "alice@example.com")
            #expect(answer.status == 200, "\(answer.text)")
            #expect((answer.json["labelIds"] as? [String]) == ["UNREAD", "SENT", "INBOX"])
            let sent = try #require(google.outbox.last)
            #expect(sent.to == ["a@example.com", "b@example.com"])
            #expect(sent.sentFrom == "news@example.com", "a send-as alias is kept")

            let stranger = "From: someone@else.example\nTo: a@example.com\n\nbody"
            _ = try await client.send(token: token, message: stranger)
            #expect(google.outbox.last?.sentFrom == "alice@example.com", "Gmail rewrites an unknown From")
        }
    }

    @Test func metadataURIAcceptsRaw() async throws {
        try await stopping {
            let raw = FGFixtures.base64url(Data(FGFixtures.message.utf8))
            let answer = try await client.request(
                "POST", "/gmail/v1/users/me/messages/send",
                headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"],
                body: Data(#"{"raw": "\#(raw)"}"#.utf8))
            #expect(answer.status == 200, "\(answer.text)")
            #expect(google.outbox.last?.bcc == ["hidden@example.com"])

            let missing = try await client.request(
                "POST", "/gmail/v1/users/me/messages/send",
                headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], body: Data("{}".utf8))
            #expect(missing.status == 400)
            #expect(missing.text.contains("'raw' RFC822 payload message string or uploading message via /upload/* URL required"))
        }
    }

    // MARK: What Gmail checks

    @Test func authenticationFailures() async throws {
        try await stopping {
            let missing = try await client.send(token: nil, message: FGFixtures.message)
            #expect(missing.status == 401)
            #expect(missing.text.contains(#""reason": "CREDENTIALS_MISSING""#))
            #expect(missing.text.contains(#""message": "Login Required.""#))

            let invalid = try await client.send(token: "ya29.bogus", message: FGFixtures.message)
            #expect(invalid.status == 401)
            #expect(invalid.text == Self.invalidCredentialsBody)

            google.expireAccessTokens()
            let expired = try await client.send(token: token, message: FGFixtures.message)
            #expect(expired.status == 401)
            #expect(expired.text == Self.invalidCredentialsBody)
            #expect(google.outbox.isEmpty)
            #expect(google.sendRequestCount == 3)
        }
    }

    @Test func scopesUserIdMailboxAndRecipients() async throws {
        try await stopping {
            let identityOnly = google.issueAccessToken(email: "alice@example.com", scopes: ["openid", "email"])
            let scopes = try await client.send(token: identityOnly, message: FGFixtures.message)
            #expect(scopes.status == 403)
            #expect(scopes.text == Self.insufficientScopesBody)

            let modify = google.issueAccessToken(email: "alice@example.com", scopes: ["https://www.googleapis.com/auth/gmail.modify"])
            let modifyAnswer = try await client.send(token: modify, message: FGFixtures.message)
            #expect(modifyAnswer.status == 200, "gmail.modify can send")

            let alias = try await client.send(token: token, message: FGFixtures.message, userID: "news@example.com")
            #expect(alias.status == 403)
            #expect(alias.text.contains(#""message": "Delegation denied for alice@example.com""#))
            #expect(alias.text.contains(#""reason": "forbidden""#))

            google.addUser(email: "nomail@example.com", hasGmail: false)
            let noGmail = google.issueAccessToken(email: "nomail@example.com", scopes: [FGFixtures.gmailSend])
            let disabled = try await client.send(token: noGmail, message: FGFixtures.message)
            #expect(disabled.status == 400)
            #expect(disabled.text == Self.mailServiceNotEnabledBody)

            let noRecipients = try await client.send(token: token, message: "From: alice@example.com\r\nSubject: x\r\n\r\nbody")
            #expect(noRecipients.status == 400)
            #expect(noRecipients.text.contains(#""message": "Recipient address required""#))

            let indented = try await client.send(token: token, message: "  To: a@example.com\r\nSubject: x\r\n\r\nbody")
            #expect(indented.text.contains("Recipient address required"), "indented headers are not parsed")

            let badTo = try await client.send(token: token, message: "To: human@f\r\n\r\nbody")
            #expect(badTo.status == 400)
            #expect(badTo.text.contains(#""message": "Invalid To header""#))

            let wrongType = try await client.send(token: token, message: FGFixtures.message, contentType: "text/plain")
            #expect(wrongType.status == 400)
            #expect(google.outbox.count == 1)
        }
    }

    @Test func oversizedUploadIs413() async throws {
        try await stopping {
            let header = Data("To: a@example.com\r\n\r\n".utf8)
            let raw = header + Data(repeating: 0x41, count: FakeGoogleServer.maxUploadBytes + 1 - header.count)
            let answer = try await client.send(token: token, raw: raw)
            #expect(answer.status == 413)
            #expect(answer.text.contains("<title>413 Request Entity Too Large</title>"))
            #expect(google.outbox.isEmpty)
        }
    }

    // MARK: Injection

    /// Every send-side preset answers its status and body, once per count.
    @Test func eachSendPresetAnswersItsBodyAndStatus() async throws {
        try await stopping {
            let retry = Date(timeIntervalSince1970: 1_786_000_000.123)
            let retryText = "2026-08-06T07:06:40.123Z"
            typealias Row = (InjectedFailure, Int, String?, String?, String?)  // failure, status, message, reason, status name
            let rows: [Row] = [
                (.failedPrecondition, 400, "Precondition check failed.", "failedPrecondition", "FAILED_PRECONDITION"),
                (.failedPreconditionBadRequest, 400, "Bad Request", "failedPrecondition", "FAILED_PRECONDITION"),
                (.mailServiceNotEnabled, 400, "Mail service not enabled", "failedPrecondition", "FAILED_PRECONDITION"),
                (.invalidArgumentRecipient, 400, "Recipient address required", "invalidArgument", "INVALID_ARGUMENT"),
                (.invalidToHeader, 400, "Invalid To header", "invalidArgument", "INVALID_ARGUMENT"),
                (.unauthenticated, 401, nil, "authError", "UNAUTHENTICATED"),
                (.credentialsMissing, 401, nil, "required", "UNAUTHENTICATED"),
                (.insufficientScopes, 403, "Request had insufficient authentication scopes.", "insufficientPermissions", "PERMISSION_DENIED"),
                (.serviceDisabled(project: "123456789012"), 403, nil, "accessNotConfigured", "PERMISSION_DENIED"),
                (.accessNotConfigured(), 403, nil, "accessNotConfigured", "PERMISSION_DENIED"),
                (.delegationDenied(), 403, "Delegation denied for alice@example.com", "forbidden", "PERMISSION_DENIED"),
                (.domainPolicy, 403, "The domain administrators have disabled Gmail apps.", "domainPolicy", "PERMISSION_DENIED"),
                (.projectDailyLimit, 403, "Daily Limit Exceeded", "dailyLimitExceeded", "PERMISSION_DENIED"),
                (.queriesPerMinute(project: "42"), 403,
                 "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:42'.",
                 "rateLimitExceeded", "PERMISSION_DENIED"),
                (.userRateLimit(retryAfter: retry), 429, "User-rate limit exceeded.  Retry after \(retryText)", "rateLimitExceeded", "RESOURCE_EXHAUSTED"),
                (.userRateLimit403(retryAfter: retry), 403, "User-rate limit exceeded.  Retry after \(retryText)", "rateLimitExceeded", "PERMISSION_DENIED"),
                (.dailyLimit(retryAfter: retry), 429, "User-rate limit exceeded.  Retry after \(retryText) (Mail sending)", "rateLimitExceeded", "RESOURCE_EXHAUSTED"),
                (.rateLimitExceeded429, 429, "Resource has been exhausted (e.g. check quota).", "rateLimitExceeded", "RESOURCE_EXHAUSTED"),
                (.tooManyConcurrentRequests, 429, "Too many concurrent requests for user", "rateLimitExceeded", "RESOURCE_EXHAUSTED"),
                (.backendError500, 500, "Backend Error", "backendError", "INTERNAL"),
                (.internalError500, 500, "Internal error encountered.", "backendError", "INTERNAL"),
                (.serviceUnavailable503, 503, "The service is currently unavailable.", "backendError", "UNAVAILABLE"),
                (.htmlBadGateway502, 502, nil, nil, nil),
                (.payloadTooLarge413, 413, nil, nil, nil),
            ]
            for (failure, status, message, reason, statusName) in rows {
                google.inject(failure, endpoint: .send)
                let answer = try await client.send(token: token, message: FGFixtures.message)
                #expect(answer.status == status, "\(failure)")
                #expect(google.pendingInjectionCount == 0, "\(failure)")
                guard let reason else {
                    #expect(answer.header("Content-Type") == "text/html; charset=UTF-8", "\(failure)")
                    continue
                }
                #expect(answer.header("Content-Type") == "application/json; charset=UTF-8", "\(failure)")
                #expect(answer.text.hasPrefix("{\n  \"error\": {\n    \"code\": \(status),\n"), "\(failure): \(answer.text)")
                let error = try #require(answer.json["error"] as? [String: Any], "\(failure)")
                #expect((error["code"] as? Int) == status, "\(failure)")
                if let message { #expect((error["message"] as? String) == message, "\(failure)") }
                let item = try #require((error["errors"] as? [[String: Any]])?.first, "\(failure)")
                #expect((item["reason"] as? String) == reason, "\(failure)")
                #expect((error["status"] as? String) == statusName, "\(failure)")
            }
            #expect(google.outbox.isEmpty, "no injected failure sends")

            // A few whole bodies, byte for byte.
            google.inject(.failedPrecondition, endpoint: .send)
            let precondition = try await client.send(token: token, message: FGFixtures.message)
            #expect(precondition.text == Self.failedPreconditionBody)

            google.inject(.unauthenticated, endpoint: .send)
            let unauthenticated = try await client.send(token: token, message: FGFixtures.message)
            #expect(unauthenticated.text == Self.invalidCredentialsBody)

            google.inject(.userRateLimit403(retryAfter: retry), endpoint: .send)
            let limited = try await client.send(token: token, message: FGFixtures.message)
            // §2.7's capture, pretty-printed.
            #expect(limited.text == """
                {
                  "error": {
                    "code": 403,
                    "message": "User-rate limit exceeded.  Retry after \(retryText)",
                    "errors": [
                      {
                        "message": "User-rate limit exceeded.",
                        "domain": "usageLimits",
                        "reason": "rateLimitExceeded"
                      }
                    ],
                    "status": "PERMISSION_DENIED"
                  }
                }

                """)

            google.inject(.serviceDisabled(project: "123456789012"), endpoint: .send)
            let disabled = try await client.send(token: token, message: FGFixtures.message)
            let details = try #require(((disabled.json["error"] as? [String: Any])?["details"] as? [[String: Any]])?.first)
            #expect((details["reason"] as? String) == "SERVICE_DISABLED")
            let metadata = try #require(details["metadata"] as? [String: String])
            #expect(metadata["activationUrl"] == "https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=123456789012")
            #expect(metadata["consumer"] == "projects/123456789012")

            google.inject(.htmlBadGateway502, endpoint: .send)
            let html = try await client.send(token: token, message: FGFixtures.message)
            #expect(html.text.hasPrefix("<!DOCTYPE html>\n<html lang=en>\n"))
            #expect(html.text.contains("<title>Error 502 (Server Error)!!1</title>"))
        }
    }

    @Test func injectionCountIsConsumedAndScopedToAnAccount() async throws {
        try await stopping {
            google.addUser(email: "bob@example.com")
            let bob = google.issueAccessToken(email: "bob@example.com", scopes: [FGFixtures.gmailSend])
            google.inject(.backendError500, endpoint: .send, account: "alice@example.com", count: 2)
            #expect(google.pendingInjectionCount == 2)

            let bobAnswer = try await client.send(token: bob, message: FGFixtures.message)
            #expect(bobAnswer.status == 200, "another account is not affected")
            let first = try await client.send(token: token, message: FGFixtures.message)
            let second = try await client.send(token: token, message: FGFixtures.message)
            let third = try await client.send(token: token, message: FGFixtures.message)
            #expect([first.status, second.status, third.status] == [500, 500, 200] as [Int])
            #expect(google.pendingInjectionCount == 0)
            #expect(google.outbox.map(\.user) == ["bob@example.com", "alice@example.com"])

            // Authentication comes first: a request without a token does not use up the count.
            google.inject(.serviceUnavailable503, endpoint: .send, count: 1)
            let unauthenticated = try await client.send(token: nil, message: FGFixtures.message)
            #expect(unauthenticated.status == 401)
            #expect(google.pendingInjectionCount == 1)
            google.clearInjections()
            #expect(google.pendingInjectionCount == 0)
        }
    }

    @Test func hangDelaysTheAnswer() async throws {
        try await stopping {
            google.inject(.hang(seconds: 1.0), endpoint: .send)
            let started = Date()
            let answer = try await client.send(token: token, message: FGFixtures.message)
            #expect(answer.status == 200, "after the delay the request is answered normally")
            #expect(Date().timeIntervalSince(started) >= 0.9)

            google.inject(.hang(seconds: 3.0), endpoint: .send)
            let impatient = FGClient(base: client.base, timeout: 0.5)
            do {
                _ = try await impatient.send(token: token, message: FGFixtures.message)
                Issue.record("expected a client time-out")
            } catch {}
        }
    }

    /// The production client uploads from a file (HTTPTransport.upload); the fake must take that too.
    @Test func uploadFromAFile() async throws {
        try await stopping {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("fake-google-\(UUID().uuidString).eml")
            try Data(FGFixtures.message.utf8).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            var request = URLRequest(url: client.url("/upload/gmail/v1/users/me/messages/send?uploadType=media"))
            request.httpMethod = "POST"
            request.setValue("message/rfc822", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            let configuration = URLSessionConfiguration.ephemeral
            configuration.timeoutIntervalForRequest = 10
            let (data, response) = try await URLSession(configuration: configuration).upload(for: request, fromFile: file)
            #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(String(decoding: data, as: UTF8.self))")
            #expect(google.outbox.first?.raw == Data(FGFixtures.message.utf8))
        }
    }

    // MARK: Address lists

    /// Recipient headers as Gmail reads them (docs/google-api.md §1.5, §2.2), one send per row.
    @Test func addressListParsing() async throws {
        try await stopping {
            let table: [(String, [String])] = [
                ("a@example.com", ["a@example.com"]),
                ("\"Doe, John\" <john@example.org>, bob@example.net", ["john@example.org", "bob@example.net"]),
                ("Team: x@example.com, y@example.com;, z@example.com", ["x@example.com", "y@example.com", "z@example.com"]),
                ("a@example.com (Alice, the first)", ["a@example.com"]),
                ("=?UTF-8?B?w4lsb2TDrWU=?= <e@example.com>", ["e@example.com"]),
                ("<@relay.example:route@example.com>", ["route@example.com"]),
                ("\"quoted <not@this>\" <real@example.com>", ["real@example.com"]),
                ("undisclosed-recipients:;, last@example.com", ["last@example.com"]),
            ]
            for (input, expected) in table {
                let answer = try await client.send(token: token, message: "To: \(input)\r\nSubject: t\r\n\r\nbody")
                #expect(answer.status == 200, "\(input): \(answer.text)")
                #expect(google.outbox.last?.to == expected, "\(input)")
            }
            for bad in ["human@f", "First Last", "a@b@", "<>"] {
                let answer = try await client.send(token: token, message: "To: \(bad)\r\n\r\nbody")
                #expect(answer.status == 400, "\(bad)")
                #expect(answer.text.contains("Invalid To header"), "\(bad)")
            }
            let onlyUndisclosed = try await client.send(token: token, message: "To: undisclosed-recipients:;\r\n\r\nbody")
            #expect(onlyUndisclosed.text.contains("Recipient address required"))
        }
    }
}
