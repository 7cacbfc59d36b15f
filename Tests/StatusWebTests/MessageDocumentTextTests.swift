import Foundation
import RelayStatus
import RelayStore
import Testing

/// `gmail-relay log show ID` without --json: the text `MessageDocument.humanReadable()` prints.
@Suite struct MessageDocumentTextTests {
    /// The rewritten headers are stored as sent to Gmail, with CRLF and a folded line.
    static let headers = "From: wordpress@example.org\r\nTo: alice@example.com,\r\n bob@example.com\r\nSubject: Hello\r\n"

    @Test func everyLineOfTheHeadersSentToGmailIsIndented() async throws {
        let f = try Fixture()
        try await f.addAccount("main")
        let id = try await f.addMessage(account: "main", headers: Self.headers)

        let document = try #require(try await StatusReporter(store: f.store).messageDocument(id: id))
        let lines = document.humanReadable().split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        let start = try #require(lines.firstIndex(of: "  headers sent to Gmail:"))
        #expect(Array(lines[(start + 1)...].prefix(5)) == [
            "    From: wordpress@example.org",
            "    To: alice@example.com,",
            "     bob@example.com",
            "    Subject: Hello",
            "  attempts: 0",
        ])
    }

    @Test func headersWithBareLineFeedsAreIndentedToo() async throws {
        let f = try Fixture()
        try await f.addAccount("main")
        let id = try await f.addMessage(account: "main", headers: "From: a@example.com\nTo: b@example.com\n")

        let document = try #require(try await StatusReporter(store: f.store).messageDocument(id: id))
        #expect(document.humanReadable().contains(
            "  headers sent to Gmail:\n    From: a@example.com\n    To: b@example.com\n  attempts: 0"))
    }
}
