import Foundation
import GRDB
@testable import RelayStore
import RelayVocabulary
import Testing

/// "v5-attempt-problem" on a real SQLite file written by the v4 schema, with the rows an older relay left.
@Suite struct MigrationV5Tests {
    static let apiDisabled = #"{"error":{"code":403,"message":"Gmail API has not been used in project 1 before or it is disabled.","errors":[{"message":"Gmail API has not been used in project 1 before or it is disabled.","domain":"usageLimits","reason":"accessNotConfigured"}],"status":"PERMISSION_DENIED"}}"#
    static let invalidGrant = #"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#

    /// A data directory holding a v4 database with two accounts, three messages, their attempts and events.
    static func makeV4Directory() throws -> String {
        let dir = NSTemporaryDirectory() + "relaystore-v4-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let queue = try DatabaseQueue(path: dir + "/data/relay.sqlite")
        try Schema.migrator.migrate(queue, upTo: "v4")
        try queue.write { db in
            let t: Int64 = 1_796_000_000_000
            try db.execute(sql: """
                INSERT INTO accounts (id, name, kind, from_addresses, state, problem_code, created_at, updated_at)
                VALUES (1, 'shop', 'oauth_user', '["owner@shop.example"]', 'needs_reauth', 'testing_mode_expiry', \(t), \(t)),
                       (2, 'blog', 'oauth_user', '["blog@shop.example"]', 'ok', NULL, \(t), \(t));
                INSERT INTO messages (id, status, account, account_id, peer, tls, mail_from, recipients, size, sandbox,
                    problem_code, attempts, created_at, updated_at)
                VALUES (1, 'failed', 'blog', 2, '192.0.2.7:1', 1, 'a@shop.example', '["b@example.com"]', 10, 0, 'api_disabled', 1, \(t), \(t)),
                       (2, 'held', 'shop', 1, '192.0.2.7:2', 1, 'a@shop.example', '["b@example.com"]', 10, 0, 'testing_mode_expiry', 2, \(t), \(t)),
                       (3, 'queued', 'blog', 2, '192.0.2.7:3', 1, 'a@shop.example', '["b@example.com"]', 10, 0, 'backend_error', 1, \(t), \(t));
                INSERT INTO attempts (message_id, started_at, finished_at, endpoint, http_status, response_body, problem_code)
                VALUES (1, \(t), \(t), 'https://gmail.googleapis.com/upload/gmail/v1/users/me/messages/send?uploadType=media', 403, ?, 'api_disabled'),
                       (2, \(t), \(t), 'https://oauth2.googleapis.com/tokeninfo?access_token=x', 200, '{}', NULL),
                       (2, \(t), \(t), 'https://oauth2.googleapis.com/token', 400, ?, 'testing_mode_expiry'),
                       (3, \(t), \(t), 'https://gmail.googleapis.com/upload/gmail/v1/users/me/messages/send?uploadType=media', 502, '<html><title>502</title> (not json)', 'backend_error');
                INSERT INTO events (account_id, account, at, kind, detail)
                VALUES (1, 'shop', \(t), 'account_state', 'needs_reauth (testing_mode_expiry): {"raw_body":"(x)"}'),
                       (2, 'blog', \(t), 'account_state', 'ok (was needs_reauth, grant_revoked) after a success'),
                       (2, 'blog', \(t), 'account_state', 'blocked (api_disabled)');
                """, arguments: [apiDisabled, invalidGrant])
        }
        try queue.close()
        return dir
    }

    @Test func oldAttemptsGetTheirDetailOnce() async throws {
        let dir = try Self.makeV4Directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try RelayStore.open(dataDirectory: dir + "/data", options: .init(passwordHashing: .testing))

        let gmail = try #require(try await store.attempts(messageID: 1).first?.detail)
        #expect(gmail.endpoint == .gmailSend)
        #expect(gmail.httpStatus == 403)
        #expect(gmail.reason == "accessNotConfigured")
        #expect(gmail.status == "PERMISSION_DENIED")
        #expect(gmail.googleMessage?.hasPrefix("Gmail API has not been used") == true)
        #expect(gmail.bodyFormat == .googleError)
        #expect(gmail.rawBody == Self.apiDisabled)

        let shop = try await store.attempts(messageID: 2)
        #expect(shop.first?.detail == nil, "an attempt without a problem gets no detail")
        let token = try #require(shop.last?.detail)
        #expect(token.endpoint == .token)
        #expect(token.reason == "invalid_grant")
        #expect(token.googleMessage == "Token has been expired or revoked.")
        #expect(token.bodyFormat == .oauthError)

        let html = try #require(try await store.attempts(messageID: 3).first?.detail, "a body that is no JSON does not stop the migration")
        #expect(html.bodyFormat == .html)
        #expect(html.reason == nil)
        #expect(html.httpStatus == 502)
    }

    @Test func oldAccountStateEventsNameTheirProblemInAField() async throws {
        let dir = try Self.makeV4Directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try RelayStore.open(dataDirectory: dir + "/data", options: .init(passwordHashing: .testing))
        #expect(try await store.accountHadProblem("shop", .testingModeExpiry))
        #expect(try await !store.accountHadProblem("blog", .grantRevoked), "a success event names the old problem in prose only")
        #expect(try await store.accountHadProblem("blog", .apiDisabled))
        #expect(try await store.events(account: "shop").first?.problem == .testingModeExpiry)
    }

    @Test func newAttemptsStoreTheirDetail() async throws {
        let dir = try Self.makeV4Directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try RelayStore.open(dataDirectory: dir + "/data", options: .init(passwordHashing: .testing))
        let detail = ProblemDetail(reason: "rateLimitExceeded", retryAfter: Date(timeIntervalSince1970: 1_800_000_000),
                                   endpoint: .gmailSend, httpStatus: 429, bodyFormat: .googleError, rawBody: "{}")
        // Message 3 is queued in the old database: claimed and finished as the worker does.
        #expect(try await store.claimAll().map(\.id) == [3])
        _ = try await store.finish(3, .queued(problemCode: .rateLimited, nextAttemptAt: Date() + 60, detail: nil), attempts: [NewAttempt(
            messageID: 3, startedAt: Date(), finishedAt: Date(), endpoint: "https://example.invalid/send", httpStatus: 429,
            responseBody: "{}", problemCode: .rateLimited, problemDetail: detail, nextDelaySeconds: 60)])
        #expect(try await store.attempts(messageID: 3).last?.detail == detail)
        try await store.setAccountState(name: "blog", state: .needsReauth, problemCode: .testingModeExpiry)
        #expect(try await store.accountHadProblem("blog", .testingModeExpiry))
    }
}
