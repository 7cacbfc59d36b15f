import Foundation
import GRDB
import RelayVocabulary

enum Validation {
    private static let nameCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
    private static let usernameCharacters = nameCharacters.union("@+")

    /// `[A-Za-z0-9._-]{1,64}`
    static func isValidAccountName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy(nameCharacters.contains)
    }

    /// `[A-Za-z0-9._@+-]{1,64}`: account-name characters plus what e-mail-like logins use.
    static func isValidUsername(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy(usernameCharacters.contains)
    }

    /// A bare addr-spec as Gmail's send-as list holds it: local@domain, no spaces, brackets or commas.
    static func isValidAddress(_ address: String) -> Bool {
        guard address.utf8.count <= 254, let at = address.lastIndex(of: "@") else { return false }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty else { return false }
        let forbidden = Set(" \t\r\n<>,;\"()[]\\".unicodeScalars)
        return !address.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f || forbidden.contains($0) }
    }
}

/// JSON arrays of strings in TEXT columns.
/// Address lists stored as JSON arrays of strings. JSONSerialization, not JSONDecoder/JSONEncoder:
/// every message row read or written goes through here, and the Codable path was several times slower.
enum JSONList {
    static func encode(_ list: [String]) -> String {
        // Encoding [String] cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: list, options: [.withoutEscapingSlashes])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ text: String?) -> [String] {
        guard let text, let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else { return [] }
        return list
    }
}

/// A line in `events`.
func insertEvent(
    _ db: Database, at: Int64, kind: EventKind, detail: String,
    messageID: Int64? = nil, accountID: Int64? = nil, account: String? = nil, problem: ProblemCode? = nil
) throws {
    try db.execute(cached: """
            INSERT INTO events (message_id, account_id, account, at, kind, detail, problem_code) VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
        arguments: [messageID, accountID, account, at, kind.rawValue, detail, problem?.rawValue])
}

/// Escapes `%`, `_` and `\` for `LIKE ... ESCAPE '\'`.
func likePattern(containing text: String) -> String {
    var escaped = ""
    for c in text {
        if c == "%" || c == "_" || c == "\\" { escaped.append("\\") }
        escaped.append(c)
    }
    return "%" + escaped + "%"
}
