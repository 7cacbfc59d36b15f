import Foundation

/// Reads the small TOML subset the config file uses into section headers and key/value entries.
///
/// Supported: `# comments`, blank lines, `[section]` and `[section.sub]` headers that prefix the keys
/// after them, dotted keys, double-quoted strings with escapes, single-quoted literal strings, integers
/// (`36_700_160`), `true`/`false`, and arrays of strings that may span lines. Anything else of TOML
/// (multi-line strings, inline tables, arrays of tables, dates, floats) is a syntax error naming the line,
/// so a construct the relay would misread is never silently accepted.
///
/// The parser knows nothing of the keys: unknown keys and duplicates are the loader's business.
struct ConfigFileParser {
    enum Item: Sendable, Equatable {
        case section(name: String, line: Int)
        /// `key` is the full dotted key; `writtenKey` is what the line itself says (without the section).
        case entry(key: String, writtenKey: String, section: String?, value: RawValue, line: Int)
    }

    static func parse(_ text: String, fileName: String) throws(ConfigurationError) -> [Item] {
        var parser = ConfigFileParser(text: text, fileName: fileName)
        return try parser.items()
    }

    private let scalars: [Unicode.Scalar]
    private let fileName: String
    private var index = 0
    private var line = 1
    private var section: String?

    private init(text: String, fileName: String) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        let input = Array(text.unicodeScalars)
        for (position, scalar) in input.enumerated() {
            // A byte-order mark from Windows editors is not content.
            if position == 0 && scalar == "\u{FEFF}" { continue }
            // CRLF files are read as LF; a lone CR stays and is reported where it stands.
            if scalar == "\r" && position + 1 < input.count && input[position + 1] == "\n" { continue }
            scalars.append(scalar)
        }
        self.scalars = scalars
        self.fileName = fileName
    }

    // MARK: Lines

    private mutating func items() throws(ConfigurationError) -> [Item] {
        var items: [Item] = []
        while true {
            skipSpaces()
            guard let scalar = peek() else { return items }
            switch scalar {
            case "\n": advance()
            case "#": skipComment()
            case "[": items.append(try header())
            default: items.append(try keyValue())
            }
        }
    }

    private mutating func header() throws(ConfigurationError) -> Item {
        let startLine = line
        advance()  // [
        if peek() == "[" {
            throw syntaxError("arrays of tables ([[...]]) are not supported; use [section] headers")
        }
        skipSpaces()
        let name = try key()
        skipSpaces()
        guard peek() == "]" else {
            throw syntaxError("the section header [\(name) needs a closing \"]\"")
        }
        advance()
        try expectEndOfLine(after: "the section header [\(name)]")
        section = name
        return .section(name: name, line: startLine)
    }

    private mutating func keyValue() throws(ConfigurationError) -> Item {
        let startLine = line
        let written = try key()
        skipSpaces()
        guard peek() == "=" else {
            throw syntaxError("expected \"=\" after the key \(written)")
        }
        advance()
        skipSpaces()
        let full = section.map { "\($0).\(written)" } ?? written
        let value = try value(for: full)
        try expectEndOfLine(after: "the value of \(full)")
        return .entry(key: full, writtenKey: written, section: section, value: value, line: startLine)
    }

    /// A dotted key of bare parts (`smtp.tls.cert`); spaces around the dots are allowed, as in TOML.
    private mutating func key() throws(ConfigurationError) -> String {
        var parts: [String] = []
        while true {
            skipSpaces()
            let start = index
            while let scalar = peek(), Self.isBareKeyScalar(scalar) { advance() }
            if index == start {
                if peek() == "\"" || peek() == "'" {
                    throw syntaxError("quoted keys are not supported; keys use letters, digits, \"_\" and \"-\"")
                }
                if parts.isEmpty {
                    throw syntaxError("expected a key, a [section] or a comment, got \(quoted(restOfLine()))")
                }
                throw syntaxError("expected a key part after \".\" in \(parts.joined(separator: ".")).")
            }
            parts.append(String(String.UnicodeScalarView(scalars[start..<index])))
            skipSpaces()
            guard peek() == "." else { return parts.joined(separator: ".") }
            advance()
        }
    }

    private mutating func expectEndOfLine(after what: String) throws(ConfigurationError) {
        skipSpaces()
        if peek() == "#" { skipComment() }
        guard let scalar = peek(), scalar != "\n" else { return }
        throw syntaxError("unexpected text after \(what): \(quoted(restOfLine()))")
    }

    // MARK: Values

    private mutating func value(for key: String) throws(ConfigurationError) -> RawValue {
        guard let scalar = peek(), scalar != "\n", scalar != "#" else {
            throw syntaxError("\(key): expected a value after \"=\"")
        }
        switch scalar {
        case "\"":
            if lookahead("\"\"\"") { throw syntaxError("\(key): multi-line strings (\"\"\") are not supported") }
            return .string(try basicString())
        case "'":
            if lookahead("'''") { throw syntaxError("\(key): multi-line strings (''') are not supported") }
            return .string(try literalString())
        case "[":
            return .array(try array(for: key))
        case "{":
            throw syntaxError("\(key): inline tables ({...}) are not supported; use a [section] header")
        default:
            // Unquoted: a number, a boolean, or text that should have been quoted (the decoder says so).
            let start = index
            while let next = peek(), next != "\n", next != "#" { advance() }
            let text = String(String.UnicodeScalarView(scalars[start..<index]))
                .trimmingCharacters(in: .whitespaces)
            if text == "true" { return .boolean(true) }
            if text == "false" { return .boolean(false) }
            if let number = parseWholeNumber(text) { return .integer(number) }
            return .bare(text)
        }
    }

    /// `"..."` with the TOML escapes; a string must end on its own line.
    private mutating func basicString() throws(ConfigurationError) -> String {
        let startLine = line
        advance()  // "
        var out = String.UnicodeScalarView()
        while true {
            guard let scalar = peek(), scalar != "\n" else {
                throw syntaxError("unterminated string: a closing \" is missing", line: startLine)
            }
            advance()
            switch scalar {
            case "\"":
                return String(out)
            case "\\":
                guard let escape = peek(), escape != "\n" else {
                    throw syntaxError("unterminated string: a closing \" is missing", line: startLine)
                }
                advance()
                switch escape {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "u": out.append(try unicodeEscape(digits: 4))
                case "U": out.append(try unicodeEscape(digits: 8))
                default:
                    // Usually a Windows path: say how to write it instead of guessing.
                    throw syntaxError(
                        "unknown escape \\\(escape) in a string; write \\\\ for a backslash or use 'single quotes'")
                }
            default:
                out.append(scalar)
            }
        }
    }

    private mutating func unicodeEscape(digits: Int) throws(ConfigurationError) -> Unicode.Scalar {
        var hex = ""
        for _ in 0..<digits {
            guard let scalar = peek(), scalar.properties.isASCIIHexDigit else { break }
            hex.unicodeScalars.append(scalar)
            advance()
        }
        guard hex.count == digits, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
            throw syntaxError("a \\\(digits == 4 ? "u" : "U") escape needs \(digits) hex digits of a valid code point")
        }
        return scalar
    }

    /// `'...'`: no escapes at all, which is what Windows paths and regular expressions want.
    private mutating func literalString() throws(ConfigurationError) -> String {
        let startLine = line
        advance()  // '
        let start = index
        while let scalar = peek(), scalar != "'" {
            if scalar == "\n" { break }
            advance()
        }
        guard peek() == "'" else {
            throw syntaxError("unterminated string: a closing ' is missing", line: startLine)
        }
        let text = String(String.UnicodeScalarView(scalars[start..<index]))
        advance()
        return text
    }

    /// `["a", "b"]`, possibly over several lines with comments and a trailing comma.
    private mutating func array(for key: String) throws(ConfigurationError) -> [String] {
        let startLine = line
        advance()  // [
        var items: [String] = []
        while true {
            skipSpacesNewlinesAndComments()
            guard let scalar = peek() else {
                throw syntaxError("\(key): unterminated array: a closing \"]\" is missing", line: startLine)
            }
            switch scalar {
            case "]":
                advance()
                return items
            case "\"" where !lookahead("\"\"\""):
                items.append(try basicString())
            case "'" where !lookahead("'''"):
                items.append(try literalString())
            default:
                throw syntaxError("\(key): an array may hold only quoted strings, as in [\"a\", \"b\"]")
            }
            skipSpacesNewlinesAndComments()
            switch peek() {
            case ",": advance()
            case "]": advance(); return items
            case nil: throw syntaxError("\(key): unterminated array: a closing \"]\" is missing", line: startLine)
            default: throw syntaxError("\(key): expected \",\" or \"]\" after an array item")
            }
        }
    }

    // MARK: Scanning

    private func peek() -> Unicode.Scalar? {
        index < scalars.count ? scalars[index] : nil
    }

    private func lookahead(_ text: String) -> Bool {
        var position = index
        for scalar in text.unicodeScalars {
            guard position < scalars.count, scalars[position] == scalar else { return false }
            position += 1
        }
        return true
    }

    private mutating func advance() {
        if scalars[index] == "\n" { line += 1 }
        index += 1
    }

    private mutating func skipSpaces() {
        while let scalar = peek(), scalar == " " || scalar == "\t" { advance() }
    }

    private mutating func skipComment() {
        while let scalar = peek(), scalar != "\n" { advance() }
    }

    private mutating func skipSpacesNewlinesAndComments() {
        while let scalar = peek() {
            switch scalar {
            case " ", "\t", "\n": advance()
            case "#": skipComment()
            default: return
            }
        }
    }

    private func restOfLine() -> String {
        var end = index
        while end < scalars.count, scalars[end] != "\n" { end += 1 }
        return String(String.UnicodeScalarView(scalars[index..<end])).trimmingCharacters(in: .whitespaces)
    }

    private static func isBareKeyScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }

    private func syntaxError(_ message: String, line: Int? = nil) -> ConfigurationError {
        ConfigurationError(.syntax, at: .file(name: fileName, line: line ?? self.line), key: nil, message)
    }
}
