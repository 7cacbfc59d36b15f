import Foundation
import NIOCore
import NIOSSL
import SMTPServer
import Testing

/// SIGHUP's job, without the signal: `SMTPCertificate.reload()` while a real server runs, checked with real
/// TLS handshakes (implicit TLS and STARTTLS) against certificates made at test time with openssl.
@Suite struct TLSReload {
    /// Two self-signed pairs, A and B, and the two files the server reads (starting as A).
    final class Files: @unchecked Sendable {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-reload-\(UUID().uuidString)").path
        var cert: String { directory + "/cert.pem" }
        var key: String { directory + "/key.pem" }

        init() throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for name in ["a", "b"] { try Self.openssl(in: directory, name: name) }
            try install("a")
        }
        deinit { try? FileManager.default.removeItem(atPath: directory) }

        static func openssl(in directory: String, name: String) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name)-key.pem",
                "-out", "\(name)-cert.pem", "-days", "\(name == "a" ? 10 : 40)", "-subj", "/CN=relay-\(name).test",
            ]
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        }

        /// Replaces the served files the way certbot does (new content at the same path).
        func install(_ name: String, keyOf keyName: String? = nil) throws {
            try? FileManager.default.removeItem(atPath: cert)
            try? FileManager.default.removeItem(atPath: key)
            try FileManager.default.copyItem(atPath: directory + "/\(name)-cert.pem", toPath: cert)
            try FileManager.default.copyItem(atPath: directory + "/\(keyName ?? name)-key.pem", toPath: key)
        }

        func certificate(_ name: String) throws -> NIOSSLCertificate {
            try #require(try NIOSSLCertificate.fromPEMFile(directory + "/\(name)-cert.pem").first)
        }
    }

    /// The certificate the server presented to a new implicit-TLS connection.
    static func presented(_ server: RunningServer) async throws -> NIOSSLCertificate? {
        let client = try await server.connect(tls: try SMTPTestClient.clientTLSContext(), port: server.ports[1])
        defer { Task { await client.close() } }
        #expect(try await client.readReply().code == 220)
        return try await client.channel.nioSSL_peerCertificate().get()
    }

    @Test func newHandshakesGetTheReloadedCertificateAndOpenSessionsSurvive() async throws {
        let files = try Files()
        let certificate = try SMTPCertificate(certificatePath: files.cert, keyPath: files.key)
        var configuration = SMTPServerConfiguration.test(plaintextAuthAllowed: { _ in false })
        configuration.certificate = certificate
        let server = try await RunningServer.start(configuration, implicitTLSListener: true)

        let a = try files.certificate("a"), b = try files.certificate("b")
        #expect(try await Self.presented(server) == a)
        #expect(certificate.notValidAfter == Date(timeIntervalSince1970: TimeInterval(a.notValidAfter)))

        // A session opened on A stays open across the reload.
        let open = try await server.connect(tls: try SMTPTestClient.clientTLSContext(), port: server.ports[1])
        #expect(try await open.readReply().code == 220)
        #expect(try await open.command("EHLO before.example").code == 250)

        try files.install("b")
        try certificate.reload()
        #expect(try await Self.presented(server) == b)
        #expect(certificate.notValidAfter == Date(timeIntervalSince1970: TimeInterval(b.notValidAfter)))
        #expect(try await open.command("NOOP").code == 250)
        #expect(try await open.channel.nioSSL_peerCertificate().get() == a)

        // STARTTLS on the submission port takes the new one too.
        let upgraded = try await server.connect()
        #expect(try await upgraded.readReply().code == 220)
        #expect(try await upgraded.command("EHLO cms.example").code == 250)
        #expect(try await upgraded.command("STARTTLS").code == 220)
        try await upgraded.startTLS(try SMTPTestClient.clientTLSContext())
        #expect(try await upgraded.command("EHLO cms.example").code == 250)
        #expect(try await upgraded.channel.nioSSL_peerCertificate().get() == b)

        // A broken certificate file, then a key that belongs to another certificate: refused, B stays.
        try "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".write(toFile: files.cert, atomically: true, encoding: .utf8)
        #expect(throws: SMTPCertificateError.self) { try certificate.reload() }
        try files.install("b", keyOf: "a")
        do {
            try certificate.reload()
            Issue.record("a key of another certificate was accepted")
        } catch let error as SMTPCertificateError {
            guard case .keyDoesNotMatch = error else { Issue.record("\(error)"); return }
            #expect(!"\(error)".contains("PRIVATE KEY"), "the error must not carry key material")
        }
        #expect(try await Self.presented(server) == b)
        #expect(certificate.notValidAfter == Date(timeIntervalSince1970: TimeInterval(b.notValidAfter)))
        #expect(try await open.command("NOOP").code == 250)

        await open.close()
        await upgraded.close()
        await server.stop()
    }

    @Test func aContextHandedInCannotBeReloaded() throws {
        let certificate = SMTPCertificate(context: try TestCertificate.serverContext())
        #expect(certificate.notValidAfter == nil)
        #expect(throws: SMTPCertificateError.notReloadable) { try certificate.reload() }
    }
}
