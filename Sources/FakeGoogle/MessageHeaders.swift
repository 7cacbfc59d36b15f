import Foundation

/// The header block of an RFC 5322 message, as far as Gmail's send needs it: who it comes from
/// and whom to deliver to (docs/google-api.md §1.5: recipients are taken from To, Cc and Bcc).
struct MessageHeaders: Sendable {
    /// Unfolded fields in order; names as written.
    var fields: [(name: String, value: String)]

    /// Parses up to the first empty line. A block that starts with white space or an empty line
    /// has no headers (the "indented headers are not parsed" trap of §1.5). A line without a
    /// colon ends the block.
    init(message: Data) {
        var fields: [(name: String, value: String)] = []
        var lines: [Substring] = []
        // Split on LF bytes: as Characters, "\r\n" is one grapheme and would never match "\n".
        // Header bytes are ASCII; decode lossily so 8-bit junk does not hide the block.
        for rawLine in message.prefix(1 << 20).split(separator: 0x0A, omittingEmptySubsequences: false) {
            let bytes = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine[...]
            if bytes.isEmpty { break }
            lines.append(Substring(String(decoding: bytes, as: UTF8.self)))
        }
        for line in lines {
            if let first = line.first, first == " " || first == "\t" {
                guard !fields.isEmpty else { break }
                fields[fields.count - 1].value += String(line)
                continue
            }
            guard let colon = line.firstIndex(of: ":"),
                  !line[..<colon].isEmpty,
                  line[..<colon].allSatisfy({ $0.isASCII && $0 != " " && $0 != "\t" })
            else { break }
            fields.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        self.fields = fields
    }

    func values(_ name: String) -> [String] {
        fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    func first(_ name: String) -> String? { values(name).first?.trimmingCharacters(in: .whitespaces) }
}

/// RFC 5322 address lists: display names (quoted, with commas), angle addresses, comments and groups.
enum AddressList {
    enum Failure: Error, Equatable {
        case invalid(String)
    }

    /// Every mailbox address in the field values, in order. Throws on an entry that is not an address.
    static func addresses(in values: [String]) throws -> [String] {
        try values.flatMap { try addresses(in: $0) }
    }

    static func addresses(in value: String) throws -> [String] {
        try split(value).compactMap { entry in
            let address = try mailbox(entry)
            return address
        }
    }

    /// Splits at top-level commas and group delimiters, dropping group display names.
    static func split(_ value: String) -> [String] {
        var entries: [String] = []
        var current = ""
        var inQuote = false, escaped = false, inAngle = false
        var commentDepth = 0
        for ch in value {
            if escaped { current.append(ch); escaped = false; continue }
            if inQuote {
                if ch == "\\" { escaped = true } else if ch == "\"" { inQuote = false }
                current.append(ch)
                continue
            }
            if commentDepth > 0 {
                if ch == "\\" { escaped = true } else if ch == "(" { commentDepth += 1 } else if ch == ")" { commentDepth -= 1 }
                current.append(ch)
                continue
            }
            switch ch {
            case "\"": inQuote = true; current.append(ch)
            case "(": commentDepth = 1; current.append(ch)
            case "<": inAngle = true; current.append(ch)
            case ">": inAngle = false; current.append(ch)
            case ":" where !inAngle:
                // A group: "Name: a@b, c@d;". What came before is the group's display name.
                current = ""
            case ";" where !inAngle, "," where !inAngle:
                entries.append(current)
                current = ""
            default: current.append(ch)
            }
        }
        entries.append(current)
        return entries
    }

    /// The address of one entry, or nil for an empty entry (`undisclosed-recipients:;`).
    static func mailbox(_ entry: String) throws -> String? {
        let text = stripComments(entry).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return nil }
        var address: String
        if let open = lastUnquoted("<", in: text), let close = text[open...].firstIndex(of: ">") {
            address = String(text[text.index(after: open)..<close])
            // Obsolete route syntax "<@relay:user@host>".
            if address.hasPrefix("@"), let colon = address.firstIndex(of: ":") {
                address = String(address[address.index(after: colon)...])
            }
        } else {
            address = text
        }
        address = address.trimmingCharacters(in: .whitespaces)
        guard isAddress(address) else { throw Failure.invalid(entry) }
        return address
    }

    /// What Gmail takes for a deliverable address: local@domain, with a dotted domain (`To: human@f` is refused, §2.2).
    static func isAddress(_ address: String) -> Bool {
        guard let at = address.lastIndex(of: "@") else { return false }
        let local = address[..<at], domain = address[address.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty, domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix(".") else {
            return false
        }
        if local.hasPrefix("\"") { return local.hasSuffix("\"") && local.count >= 2 && !domain.contains(where: \.isWhitespace) }
        let forbidden = CharacterSet(charactersIn: " \t\"(),:;<>[]\\")
        return address.unicodeScalars.allSatisfy { !forbidden.contains($0) }
    }

    private static func stripComments(_ s: String) -> String {
        var out = ""
        var depth = 0, inQuote = false, escaped = false
        for ch in s {
            if escaped { if depth == 0 { out.append(ch) }; escaped = false; continue }
            if ch == "\\" { escaped = true; if depth == 0 { out.append(ch) }; continue }
            if depth == 0 && ch == "\"" { inQuote.toggle() }
            if !inQuote {
                if ch == "(" { depth += 1; continue }
                if ch == ")" && depth > 0 { depth -= 1; continue }
            }
            if depth == 0 { out.append(ch) }
        }
        return out
    }

    private static func lastUnquoted(_ target: Character, in s: String) -> String.Index? {
        var inQuote = false, escaped = false
        var found: String.Index?
        var index = s.startIndex
        while index < s.endIndex {
            let ch = s[index]
            if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inQuote.toggle() } else if ch == target && !inQuote { found = index }
            index = s.index(after: index)
        }
        return found
    }
}
