import Foundation

/// Text to HTML for the few places a template needs markup inside text (catalogue steps): everything is
/// escaped first, then only our own tags are added, so nothing from a message or from Google can inject any.
enum HTMLText {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// `command` becomes <code>command</code>; http(s) URLs become links.
    static func rich(_ text: String) -> String {
        let escaped = escape(text)
        var out = ""
        var inCode = false
        for piece in escaped.split(separator: "`", omittingEmptySubsequences: false).enumerated() {
            if piece.offset > 0 { out += inCode ? "</code>" : "<code>"; inCode.toggle() }
            out += inCode ? String(piece.element) : linkify(String(piece.element))
        }
        if inCode { out += "</code>" }
        return out
    }

    /// Links for https:// and http:// runs in already escaped text; trailing punctuation stays outside.
    static func linkify(_ escaped: String) -> String {
        var out = ""
        var rest = Substring(escaped)
        while let range = rest.range(of: "https://") ?? rest.range(of: "http://") {
            out += rest[..<range.lowerBound]
            var end = range.lowerBound
            // Ends at white space, brackets, or an escaped quote or angle bracket (&amp; stays: query strings).
            while end < rest.endIndex, !" \t\n()<>\"".contains(rest[end]),
                  !["&quot;", "&lt;", "&gt;", "&#39;"].contains(where: { rest[end...].hasPrefix($0) }) {
                end = rest.index(after: end)
            }
            var url = rest[range.lowerBound..<end]
            while let last = url.last, ".,;:".contains(last) { url = url.dropLast() }
            out += "<a href=\"\(url)\" rel=\"noreferrer\">\(url)</a>"
            rest = rest[url.endIndex...]
        }
        return out + rest
    }
}

/// Pretty-prints a JSON text keeping its key order (Google's order is part of what an operator reads);
/// nil when the text is not JSON, so it is shown as it came.
enum JSONPretty {
    static func format(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let first = trimmed.first, first == "{" || first == "[",
              (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed])) != nil
        else { return nil }
        var out = ""
        var depth = 0
        var inString = false
        var escaped = false
        let characters = Array(trimmed)
        var index = 0
        func newline() { out += "\n" + String(repeating: "  ", count: depth) }
        while index < characters.count {
            let c = characters[index]
            if inString {
                out.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
                index += 1
                continue
            }
            switch c {
            case "\"":
                inString = true
                out.append(c)
            case "{", "[":
                // Empty containers stay on one line.
                var next = index + 1
                while next < characters.count, characters[next].isWhitespace { next += 1 }
                if next < characters.count, characters[next] == (c == "{" ? "}" : "]") {
                    out += c == "{" ? "{}" : "[]"
                    index = next
                } else {
                    out.append(c)
                    depth += 1
                    newline()
                }
            case "}", "]":
                depth -= 1
                newline()
                out.append(c)
            case ",":
                out.append(c)
                newline()
            case ":":
                out += ": "
            case " ", "\t", "\n", "\r":
                break
            default:
                out.append(c)
            }
            index += 1
        }
        return out
    }
}
