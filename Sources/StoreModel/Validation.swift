import Foundation

package enum Validation {
    private static let nameCharacters = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
    private static let usernameCharacters = nameCharacters.union("@+")

    /// `[A-Za-z0-9._-]{1,64}`
    package static func isValidAccountName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy(nameCharacters.contains)
    }

    /// `[A-Za-z0-9._@+-]{1,64}`: account-name characters plus what e-mail-like logins use.
    package static func isValidUsername(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy(usernameCharacters.contains)
    }

    /// A bare addr-spec as Gmail's send-as list holds it: local@domain, no spaces, brackets or commas.
    package static func isValidAddress(_ address: String) -> Bool {
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
package enum JSONList {
    package static func encode(_ list: [String]) -> String {
        // Encoding [String] cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: list, options: [.withoutEscapingSlashes])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    package static func decode(_ text: String?) -> [String] {
        guard let text, let list = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else { return [] }
        return list
    }
}
