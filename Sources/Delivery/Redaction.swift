import Foundation

/// Takes secrets out of text that goes into the send log: JSON string fields and form fields named like
/// a token or a key. Everything else is kept byte for byte (the log keeps Google's whole answer).
public enum Redaction {
    static let secretNames = ["access_token", "refresh_token", "id_token", "client_secret", "assertion", "private_key", "code", "code_verifier"]

    private static let jsonField = try! NSRegularExpression(
        pattern: "(\"(?:\(secretNames.joined(separator: "|")))\"\\s*:\\s*)\"(?:[^\"\\\\]|\\\\.)*\"")
    private static let formField = try! NSRegularExpression(
        pattern: "(^|[?&\\s])((?:\(secretNames.joined(separator: "|")))=)[^&\\s\"]+")
    private static let bearer = try! NSRegularExpression(pattern: "(Bearer\\s+)[A-Za-z0-9._~+/=-]+")

    public static func redact(_ text: String) -> String {
        var result = text
        for (regex, template) in [(jsonField, "$1\"[redacted]\""), (formField, "$1$2[redacted]"), (bearer, "$1[redacted]")] {
            let range = NSRange(result.startIndex..., in: result)
            result = regex.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return result
    }
}
