/// A value as written, before it is decoded for its key.
enum RawValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case array([String])
    /// Unquoted text that is neither a number nor a boolean (`listen = 127.0.0.1:2525`). Kept rather than
    /// rejected by the parser so the error can say what the key expected.
    case bare(String)

    /// The value as it appears in "got ..." of an error message.
    var display: String {
        switch self {
        case .string(let text): quoted(text)
        case .integer(let number): String(number)
        case .boolean(let flag): String(flag)
        case .array(let items): "[" + items.map(quoted).joined(separator: ", ") + "]"
        case .bare(let text): text
        }
    }
}

/// Where a value came from, so an error can say what to edit.
enum Origin: Sendable, Equatable {
    case file(name: String, line: Int)
    case environment(variable: String)
    case builtInDefault

    var location: ConfigurationError.Location? {
        switch self {
        case .file(let name, let line): .file(name: name, line: line)
        case .environment(let variable): .environment(variable: variable)
        case .builtInDefault: nil
        }
    }

    /// A short reference for messages about another key: `config.toml:4`, `GMAIL_RELAY_WEB_LISTEN`, ...
    var reference: String {
        switch self {
        case .file(let name, let line): "\(name):\(line)"
        case .environment(let variable): variable
        case .builtInDefault: "built-in default"
        }
    }
}

/// `"text"` with the characters that would make it ambiguous escaped.
func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        // Other control characters would act on the operator's terminal: shown, not sent.
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            out += "\\u{" + String(scalar.value, radix: 16) + "}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// A TOML-style integer: optional sign, digits, single underscores between digits (`36_700_160`).
func parseWholeNumber(_ text: String) -> Int? {
    var digits = Substring(text)
    var negative = false
    if let sign = digits.first, sign == "+" || sign == "-" {
        negative = sign == "-"
        digits = digits.dropFirst()
    }
    guard let first = digits.first, let last = digits.last, first.isASCIIDigit, last.isASCIIDigit,
          !digits.contains("__"),
          digits.allSatisfy({ $0.isASCIIDigit || $0 == "_" })
    else { return nil }
    // Int(_:) returns nil on overflow, which then reads as "not a whole number" rather than wrapping.
    guard let magnitude = Int(digits.filter { $0 != "_" }) else { return nil }
    return negative ? -magnitude : magnitude
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
