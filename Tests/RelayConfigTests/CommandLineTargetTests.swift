import Foundation
import Testing

@testable import RelayConfig

/// `store copy --to URL`: the URL parsed as store.url is, its password from exactly one place.
@Suite struct CommandLineTargetTests {
    private func target(_ url: String, file: String? = nil, env: [String: String] = [:]) throws -> PostgresLocation {
        try PostgresLocation.commandLineTarget(url, passwordFile: file, environment: env)
    }

    private func reason(_ url: String, file: String? = nil, env: [String: String] = [:]) -> String? {
        do {
            _ = try target(url, file: file, env: env)
            return nil
        } catch {
            return "\(error)"
        }
    }

    private func passwordFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func passwordFromEachPlace() throws {
        let inURL = try target("postgres://relay:S3cret-pw@db.internal/relay?sslmode=require")
        #expect(inURL.password?.value == "S3cret-pw" && inURL.host == "db.internal" && inURL.sslMode == .require)
        #expect(inURL.description == "postgres://relay:***@db.internal:5432/relay?sslmode=require")
        let file = try passwordFile("From-File\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try target("postgres://relay@127.0.0.1/relay", file: file).password?.value == "From-File")
        #expect(try target("postgres://relay@127.0.0.1/relay", env: ["GMAIL_RELAY_STORE_PASSWORD": "From-Env"]).password?.value == "From-Env")
        #expect(try target("postgres://relay@127.0.0.1/relay").password == nil)
    }

    @Test func errorsAreStoreURLsAndNeverShowThePassword() throws {
        // The same reasons as store.url's, said about --to.
        #expect(reason("mysql://relay@db/relay") == "--to: expected a postgres:// URL such as postgres://relay@db.internal:5432/relay?sslmode=require")
        #expect(reason("postgres://relay:Pw-123@db.internal") == "--to: names no database: add /DATABASE after the host, as in postgres://relay@db.internal:5432/relay?sslmode=require")
        let file = try passwordFile("Other-Pw")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let twice = reason("postgres://relay:Pw-123@db.internal/relay", file: file, env: ["GMAIL_RELAY_STORE_PASSWORD": "Env-Pw"])
        #expect(twice == "--to: the database password is given in more than one place: the URL, --password-file, GMAIL_RELAY_STORE_PASSWORD; keep one")
        let missing = reason("postgres://relay@db.internal/relay", file: "/nonexistent/pw")
        #expect(missing?.hasPrefix("--to: cannot read the password file /nonexistent/pw") == true)
        let empty = try passwordFile("\n")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(reason("postgres://relay@db.internal/relay", file: empty)?.contains("must hold the password") == true)
        for text in [twice, missing] { #expect(!(text ?? "").contains("Pw-123") && !(text ?? "").contains("Other-Pw")) }
    }
}
