import Foundation
import Testing

@testable import RelayStore

/// `store copy`'s SQLite side: pages of rows with every stored column, and where each body is.
@Suite struct ExportTests {
    @Test func rowsComeInIdPagesWithEveryColumnAndBodiesWhereTheyAre() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try RelayStore.open(dataDirectory: directory)
        defer { try? store.close() }
        _ = try await store.addAccount(name: "shop", kind: .sandbox, fromAddresses: ["shop@example.com"], secret: nil, state: .ok)
        let small = try await store.accept(NewMessage(
            account: "shop", credentialUsername: nil, peer: "127.0.0.1", tls: false, mailFrom: "a@example.com",
            recipients: ["b@example.com"], subject: "small", messageID: nil, size: 5, spoolPath: nil, inlineBody: Array("hello".utf8), sandbox: true))
        let file = try store.spool.create()
        try file.write(Array(repeating: UInt8(ascii: "x"), count: 70_000))
        let path = try file.finish()
        let large = try await store.accept(NewMessage(
            account: "shop", credentialUsername: nil, peer: "127.0.0.1", tls: false, mailFrom: "a@example.com",
            recipients: ["b@example.com"], subject: "large", messageID: nil, size: 70_000, spoolPath: path, sandbox: true))

        let first = try store.exportRows(table: .messages, afterID: 0, limit: 1)
        #expect(first.map(\.id) == [small])
        let second = try store.exportRows(table: .messages, afterID: small, limit: 10)
        #expect(second.map(\.id) == [large])
        #expect(try store.exportRows(table: .messages, afterID: large, limit: 10).isEmpty)
        #expect(first[0]["subject"] == .text("small") && first[0]["tls"] == .integer(0) && first[0]["spool_path"] == .null)
        #expect(second[0]["spool_path"] == .text(path))
        #expect(first[0].columns.contains("sent_through") && first[0].columns.contains("rewritten_headers"))
        #expect(try store.exportRows(table: .accounts, afterID: 0, limit: 10).map { $0["name"] } == [.text("shop")])

        #expect(try store.exportBody(messageID: small) == .inline(Data("hello".utf8)))
        #expect(try store.exportBody(messageID: large) == .file(path))
        #expect(try store.exportBody(messageID: 999) == nil)
        let counts = try store.exportCounts()
        #expect(counts["messages"] == 2 && counts["accounts"] == 1 && counts["messages.queued"] == 2)
    }
}
