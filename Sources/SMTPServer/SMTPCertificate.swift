import Foundation
import NIOConcurrencyHelpers
import NIOSSL

/// The SMTP certificate and key in use, replaceable while the server runs (SIGHUP after certbot renews).
///
/// Every implicit-TLS connection and every STARTTLS reads `context` at that moment, so a reload reaches new
/// handshakes only; sessions already encrypted keep the context they started with.
public final class SMTPCertificate: Sendable {
    /// What one load of the files produced.
    public struct Loaded: Sendable {
        public let context: NIOSSLContext
        /// The leaf certificate's notAfter; nil when the context was handed in without files (tests).
        public let notValidAfter: Date?
    }

    /// The PEM files `reload()` reads again; nil for a context handed in directly.
    public let certificatePath: String?
    public let keyPath: String?
    private let loaded: NIOLockedValueBox<Loaded>

    /// Loads the files; throws when they do not make a usable server context.
    public init(certificatePath: String, keyPath: String) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.loaded = NIOLockedValueBox(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    /// A fixed context that cannot be reloaded.
    public init(context: NIOSSLContext) {
        self.certificatePath = nil
        self.keyPath = nil
        self.loaded = NIOLockedValueBox(Loaded(context: context, notValidAfter: nil))
    }

    public var context: NIOSSLContext { loaded.withLockedValue { $0.context } }
    public var notValidAfter: Date? { loaded.withLockedValue { $0.notValidAfter } }

    /// Reads the files again and, only when they load, serves them from the next handshake on. On any error
    /// the current certificate stays and the error says which file was wrong (never what is in it).
    @discardableResult
    public func reload() throws -> Loaded {
        guard let certificatePath, let keyPath else { throw SMTPCertificateError.notReloadable }
        let fresh = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        loaded.withLockedValue { $0 = fresh }
        return fresh
    }

    /// The end of the first (leaf) certificate in a PEM file; reads no key.
    public static func notValidAfter(ofFile path: String) throws -> Date {
        guard let leaf = try NIOSSLCertificate.fromPEMFile(path).first else {
            throw SMTPCertificateError.unreadableCertificate(path: path, reason: "no certificate in the file")
        }
        return Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
    }

    /// PEM chain (leaf first) and key -> a TLS 1.2+ server context. The key must belong to the leaf: BoringSSL
    /// would otherwise take the pair and fail every handshake later.
    public static func load(certificatePath: String, keyPath: String) throws -> Loaded {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw SMTPCertificateError.unreadableCertificate(path: certificatePath, reason: "\(error)")
        }
        guard let leaf = chain.first else {
            throw SMTPCertificateError.unreadableCertificate(path: certificatePath, reason: "no certificate in the file")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            // NIOSSLError names no key material; "\(error)" is safe to log.
            throw SMTPCertificateError.unreadableKey(path: keyPath, reason: "\(error)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw SMTPCertificateError.keyDoesNotMatch(certificatePath: certificatePath, keyPath: keyPath, reason: "\(error)")
        }
        return Loaded(context: context, notValidAfter: Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)))
    }
}

public enum SMTPCertificateError: Error, CustomStringConvertible, Equatable {
    case notReloadable
    case unreadableCertificate(path: String, reason: String)
    case unreadableKey(path: String, reason: String)
    case keyDoesNotMatch(certificatePath: String, keyPath: String, reason: String)

    public var description: String {
        switch self {
        case .notReloadable: "the TLS context was not loaded from files, so there is nothing to reload"
        case .unreadableCertificate(let path, let reason): "cannot read the certificate \(path) as PEM: \(reason)"
        case .unreadableKey(let path, let reason): "cannot read the private key \(path) as an unencrypted PEM key: \(reason)"
        case .keyDoesNotMatch(let cert, let key, let reason): "the key \(key) cannot be used with the certificate \(cert): \(reason)"
        }
    }
}
