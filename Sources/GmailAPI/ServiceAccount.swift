import Crypto
import Foundation
import _CryptoExtras

/// A service account key file as Google hands it out (docs/google-api.md 5.2).
public struct ServiceAccountKey: Sendable {
    public var clientEmail: String
    public var clientID: String?
    public var privateKeyID: String?
    public var privateKeyPEM: String
    /// The key's own token endpoint wins over the configured one (it is also the JWT audience).
    public var tokenURI: URL?
    public var projectID: String?

    public enum ParseError: Error, CustomStringConvertible {
        case notJSON
        case notAServiceAccount(type: String?)
        case missing(String)
        case badPrivateKey(String)

        public var description: String {
            switch self {
            case .notJSON: "the key file is not JSON"
            case .notAServiceAccount(let type): "the key file's \"type\" is \(type.map { "\"\($0)\"" } ?? "missing"), expected \"service_account\" (an OAuth client file goes with --client-secret-file)"
            case .missing(let field): "the key file has no \"\(field)\""
            case .badPrivateKey(let why): "the key file's private_key cannot be read: \(why)"
            }
        }
    }

    public init(json: Data) throws {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { throw ParseError.notJSON }
        let type = object["type"] as? String
        guard type == "service_account" else { throw ParseError.notAServiceAccount(type: type) }
        guard let email = object["client_email"] as? String, !email.isEmpty else { throw ParseError.missing("client_email") }
        guard let pem = object["private_key"] as? String, !pem.isEmpty else { throw ParseError.missing("private_key") }
        self.clientEmail = email
        self.privateKeyPEM = pem
        self.clientID = object["client_id"] as? String
        self.privateKeyID = object["private_key_id"] as? String
        self.tokenURI = (object["token_uri"] as? String).flatMap(URL.init(string:))
        self.projectID = object["project_id"] as? String
        // Fail now, at `account add`, rather than at the first send.
        _ = try signingKey()
    }

    /// PKCS#8 ("BEGIN PRIVATE KEY", what Google downloads) and PKCS#1 ("BEGIN RSA PRIVATE KEY") both work.
    func signingKey() throws -> _RSA.Signing.PrivateKey {
        do {
            return try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        } catch {
            do {
                return try _RSA.Signing.PrivateKey(unsafePEMRepresentation: privateKeyPEM)
            } catch {
                throw ParseError.badPrivateKey("\(error)")
            }
        }
    }
}

/// The JWT-bearer grant of a service account, impersonating `subject` through domain-wide delegation.
public struct ServiceAccountGrant: TokenGrant {
    public var key: ServiceAccountKey
    /// The Workspace user to send as. Without one Gmail answers 400 failedPrecondition.
    public var subject: String?
    public var scopes: [String]
    public var tokenURL: URL
    let transport: HTTPTransport

    public init(key: ServiceAccountKey, subject: String?, scopes: [String] = [GmailScope.send], configuredTokenURL: URL, transport: HTTPTransport) {
        self.key = key
        self.subject = subject
        self.scopes = scopes
        self.tokenURL = key.tokenURI ?? configuredTokenURL
        self.transport = transport
    }

    /// The signed assertion: header.claims.signature, base64url without padding, RS256.
    public func assertion(now: Date) throws -> String {
        var header: [String: String] = ["alg": "RS256", "typ": "JWT"]
        if let kid = key.privateKeyID { header["kid"] = kid }
        let issuedAt = Int(now.timeIntervalSince1970)
        var claims: [String: Any] = [
            "iss": key.clientEmail,
            "scope": scopes.joined(separator: " "),
            "aud": tokenURL.absoluteString,
            "iat": issuedAt,
            "exp": issuedAt + 3600,  // Google's maximum lifetime for an assertion
        ]
        if let subject { claims["sub"] = subject }
        let headerPart = Base64URL.encode(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let claimsPart = Base64URL.encode(try JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]))
        let signingInput = Data("\(headerPart).\(claimsPart)".utf8)
        let signature = try key.signingKey().signature(for: SHA256.hash(data: signingInput), padding: .insecurePKCS1v1_5)
        return "\(headerPart).\(claimsPart).\(Base64URL.encode(signature.rawRepresentation))"
    }

    public func fetchToken(now: Date) async throws -> AccessToken {
        let response: HTTPResponse
        do {
            response = try await transport.postForm(tokenURL, fields: [
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", try assertion(now: now)),
            ])
        } catch let error as TransportError {
            throw TokenEndpointError(response: nil, transportError: error, endpoint: tokenURL)
        }
        return try TokenResponse.parse(response, endpoint: tokenURL, now: now).token
    }
}

public enum Base64URL {
    public static func encode(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
