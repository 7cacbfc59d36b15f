import Foundation
import Logging
import PostgresNIO
import PostgresTestSupport
import RelayVocabulary
import Testing

@testable import PostgresStore

/// `store copy`'s PostgreSQL side against a real PostgreSQL: a store given as rows (as RelayStore's export
/// reads them from SQLite) lands with its ids, columns and bodies, in one transaction.
@Suite struct ImporterTests {
    let logger = TestCluster.logger
    static let now: Int64 = 1_764_000_000_000

    static func row(_ pairs: KeyValuePairs<String, StoreValue>) -> StoreRow {
        StoreRow(columns: pairs.map(\.key), values: pairs.map(\.value))
    }

    static func message(_ id: Int64, _ status: String, size: Int) -> StoreRow {
        row([
            "id": .integer(id), "status": .text(status), "account": .text("shop"), "account_id": .integer(7),
            "credential_username": .text("site1"), "peer": .text("127.0.0.1"), "tls": .integer(0),
            "mail_from": .text("wp@shop.example"), "recipients": .text("[\"a@example.com\"]"), "subject": .text("s\(id)"),
            "message_id": .null, "size": .integer(Int64(size)), "spool_path": .null, "gmail_id": .null, "sandbox": .integer(0),
            "problem_code": .null, "attempts": .integer(1), "next_attempt_at": .integer(now), "rewritten_headers": .null,
            "created_at": .integer(now), "updated_at": .integer(now), "sent_through": .null,
        ])
    }

    /// Accounts 7, login 3, messages 40 (sent, no body), 41 (sending, 600 KiB inline: three chunks) and
    /// 42 (queued, a 300 KiB file), an attempt and an event.
    static func source(file: String, inline: Data, extraMessages: [StoreRow] = []) -> PostgresImporter.Source {
        let tables: [StoreTable: [StoreRow]] = [
            .accounts: [row([
                "id": .integer(7), "name": .text("shop"), "kind": .text("sandbox"), "from_addresses": .text("[]"),
                "state": .text("ok"), "secret": .blob(Data([1, 2, 3, 0, 255])), "created_at": .integer(now), "updated_at": .integer(now),
            ])],
            .credentials: [row([
                "id": .integer(3), "username": .text("site1"), "account_id": .integer(7), "password_hash": .text("$scrypt$hash"),
                "created_at": .integer(now), "last_used_at": .null, "daily_limit": .integer(50),
            ])],
            .messages: [message(40, "sent", size: 0), message(41, "sending", size: inline.count), message(42, "queued", size: 300 * 1024)]
                + extraMessages,
            .attempts: [row([
                "id": .integer(5), "message_id": .integer(41), "started_at": .integer(now), "finished_at": .integer(now),
                "endpoint": .text("https://gmail/send"), "http_status": .integer(429), "response_body": .text("{}"),
                "problem_code": .text("rate_limited"), "next_delay_seconds": .real(2.5), "problem_detail": .null,
            ])],
            .events: [row([
                "id": .integer(9), "message_id": .integer(41), "account_id": .integer(7), "account": .text("shop"),
                "at": .integer(now), "kind": .text("message"), "detail": .text("queued"), "problem_code": .null,
            ])],
        ]
        return PostgresImporter.Source(
            rows: { table, after, limit in Array((tables[table] ?? []).filter { ($0.id ?? 0) > after }.prefix(limit)) },
            body: { id in
                switch id {
                case 41: .inline(inline)
                case 42: .file(file)
                default: nil
                }
            })
    }

    func values(_ settings: PostgresSettings, _ sql: String) async throws -> [String] {
        try await TestCluster.withConnection(settings.location) { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            var result: [String] = []
            for try await (value) in rows.decode(String.self) { result.append(value) }
            return result
        }
    }

    func bodyFile(_ bytes: Data) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("importer-\(UUID().uuidString).eml").path
        try bytes.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func copiesEveryRowWithItsIdAndBodiesAsChunks() async throws {
        let inline = Data((0..<(600 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let fileBytes = Data((0..<(300 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 13) })
        let file = try bodyFile(fileBytes)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestCluster.withFreshDatabase(relayName: "mover") { settings in
            let summary = try await PostgresImporter.copy(into: settings, from: Self.source(file: file, inline: inline), logger: logger)
            #expect(summary.accounts == 1 && summary.credentials == 1 && summary.attempts == 1)
            #expect(summary.events == 2)  // the copied one, and the requeued message's "interrupted by a restart"
            #expect(summary.messages == [.sent: 1, .queued: 2])
            #expect(summary.requeued == 1)
            #expect(summary.inlineBodies == 1 && summary.spoolFileBodies == 1)
            #expect(summary.bodyBytes == Int64(inline.count + fileBytes.count))
            #expect(summary.missingBodies.isEmpty)

            // Ids and columns as given; the sending one queued, without a lease, accepted by the copying relay.
            #expect(try await values(settings, "SELECT id || ':' || status || ':' || accepted_by || ':' || coalesce(lease_owner, '-') FROM messages ORDER BY id")
                == ["40:sent:mover:-", "41:queued:mover:-", "42:queued:mover:-"])
            #expect(try await values(settings, "SELECT encode(secret, 'hex') FROM accounts WHERE id = 7") == ["01020300ff"])
            #expect(try await values(settings, "SELECT password_hash || ':' || daily_limit FROM credentials WHERE id = 3") == ["$scrypt$hash:50"])
            #expect(try await values(settings, "SELECT next_delay_seconds::text FROM attempts WHERE id = 5") == ["2.5"])
            // Bodies: 256 KiB chunks in order, byte for byte.
            #expect(try await values(settings, "SELECT message_id || ':' || count(*) FROM message_chunks GROUP BY message_id ORDER BY message_id")
                == ["41:3", "42:2"])
            let stored41 = try await values(settings, "SELECT encode(string_agg(data, ''::bytea ORDER BY seq), 'hex') FROM message_chunks WHERE message_id = 41")
            #expect(stored41 == [inline.map { String(format: "%02x", $0) }.joined()])
            let stored42 = try await values(settings, "SELECT md5(string_agg(data, ''::bytea ORDER BY seq)) FROM message_chunks WHERE message_id = 42")
            #expect(stored42 == [try await values(settings, "SELECT md5(decode('\(fileBytes.map { String(format: "%02x", $0) }.joined())', 'hex'))")[0]])
            #expect(try await values(settings, "SELECT id || ':' || coalesce(message_id::text, '-') || ':' || kind || ':' || detail FROM events ORDER BY id")
                == ["9:41:message:queued", "10:41:queued:interrupted by a restart"])
            // New rows continue after the copied ids.
            #expect(try await values(settings, """
                INSERT INTO events (at, kind, detail) VALUES (0, 'x', 'y') RETURNING id::text
                """) == ["11"])
            #expect(try await values(settings, """
                INSERT INTO messages (status, account, peer, tls, mail_from, recipients, size, sandbox, accepted_by, created_at, updated_at)
                VALUES ('queued', 'shop', 'p', 0, 'f', '[]', 0, 0, 'r', 0, 0) RETURNING id::text
                """) == ["43"])

            // Again into the same store: refused, nothing changed.
            await #expect(throws: StoreCopyError.targetNotEmpty(accounts: 1, logins: 1, messages: 4)) {
                _ = try await PostgresImporter.copy(into: settings, from: Self.source(file: file, inline: inline), logger: logger)
            }
            #expect(try await values(settings, "SELECT count(*)::text FROM message_chunks") == ["5"])
        }
    }

    /// A source column PostgreSQL has no place for stops the copy, and the one transaction leaves nothing.
    @Test func anUnknownColumnLeavesTheTargetEmpty() async throws {
        let file = try bodyFile(Data("x".utf8))
        defer { try? FileManager.default.removeItem(atPath: file) }
        var odd = Self.message(50, "queued", size: 1)
        odd.columns.append("mystery")
        odd.values.append(.text("?"))
        try await TestCluster.withFreshDatabase { settings in
            // Rows of one INSERT must have the same columns: put the odd one on a page of its own.
            let source = Self.source(file: file, inline: Data("hi".utf8), extraMessages: [odd])
            let paged = PostgresImporter.Source(rows: { table, after, _ in try source.rows(table, after, 1) }, body: source.body)
            await #expect(throws: StoreCopyError.unknownColumn(table: "messages", column: "mystery")) {
                _ = try await PostgresImporter.copy(into: settings, from: paged, logger: logger)
            }
            for table in ["accounts", "credentials", "messages", "message_chunks", "attempts", "events"] {
                let count = try await values(settings, "SELECT count(*)::text FROM \(table)")
                #expect(count == ["0"], "\(table)")
            }
        }
    }
}
