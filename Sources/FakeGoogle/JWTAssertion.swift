internal import Crypto
import Foundation
internal import _CryptoExtras

/// The decoded claims of the last JWT-bearer assertion the fake received (docs/google-api.md §5.1).
public struct JWTClaims: Sendable, Equatable {
    public var header: [String: String]
    public var iss: String?
    public var sub: String?
    public var scope: String?
    public var aud: String?
    public var iat: Int?
    public var exp: Int?
    /// The claims JSON as sent.
    public var json: String

    public var scopes: [String] { scope?.split(separator: " ").map(String.init) ?? [] }
}

/// A compact JWS `header.claims.signature`, parsed but not yet trusted.
struct JWTAssertion {
    var signingInput: Data
    var signature: Data
    var claims: JWTClaims

    enum Failure: Error { case malformed }

    init(_ token: String) throws {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let headerData = Base64URL.decodeStrict(parts[0]),
              let claimsData = Base64URL.decodeStrict(parts[1]),
              let signature = Base64URL.decodeStrict(parts[2]),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
              let claims = try? JSONSerialization.jsonObject(with: claimsData) as? [String: Any]
        else { throw Failure.malformed }
        self.signingInput = Data("\(parts[0]).\(parts[1])".utf8)
        self.signature = signature
        func int(_ key: String) -> Int? {
            (claims[key] as? NSNumber)?.intValue
        }
        self.claims = JWTClaims(
            header: header.compactMapValues { $0 as? String },
            iss: claims["iss"] as? String,
            sub: claims["sub"] as? String,
            scope: claims["scope"] as? String,
            aud: claims["aud"] as? String,
            iat: int("iat"),
            exp: int("exp"),
            json: String(decoding: claimsData, as: UTF8.self)
        )
    }

    /// RS256 = RSASSA-PKCS1-v1_5 with SHA-256.
    func isSigned(by key: _RSA.Signing.PublicKey) -> Bool {
        guard claims.header["alg"] == "RS256" else { return false }
        return key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: signingInput, padding: .insecurePKCS1v1_5)
    }
}
