/// One header field: its name, its physical lines as they were written, and its unfolded value.
public struct HeaderField: Equatable, Sendable {
    /// The field name as written (`Message-Id`, `CC`), without trailing white space before the colon.
    public let name: String
    /// The field's physical lines without their line ends: the first holds the name, the others are
    /// folded continuation lines starting with SP or HTAB. Kept byte-identical (RFC 2047 encoded-words
    /// and raw UTF-8 stay as they are).
    public let lines: [[UInt8]]
    /// The value unfolded (RFC 5322 §2.2.3: line ends removed, the continuation's white space kept)
    /// and trimmed of surrounding white space.
    public let valueBytes: [UInt8]

    private let lowercasedName: String

    /// The unfolded value as text (invalid UTF-8 shows as U+FFFD; `valueBytes` has the real bytes).
    public var value: String { String(decoding: valueBytes, as: UTF8.self) }

    /// The field as it goes on the wire: every line followed by CRLF.
    public var raw: [UInt8] {
        var bytes: [UInt8] = []
        for line in lines {
            bytes += line
            bytes += [ASCII.cr, ASCII.lf]
        }
        return bytes
    }

    /// Field names compare case-insensitively (RFC 5322 §1.2.2).
    public func isNamed(_ other: String) -> Bool {
        lowercasedName == other.lowercased()
    }

    /// A field we write ourselves. Control bytes in the value are replaced by spaces so a value can
    /// never start a new line; the line is folded at spaces to stay near 78 characters.
    public init(name: String, value: [UInt8]) {
        let clean = trimmedWhitespace(value.map { ASCII.isControl($0) ? ASCII.space : $0 })
        self.name = name
        self.lowercasedName = name.lowercased()
        self.valueBytes = clean
        self.lines = foldedLines(name: Array(name.utf8), value: clean)
    }

    public init(name: String, value: String) {
        self.init(name: name, value: Array(value.utf8))
    }

    /// A field read from a message; `colon` is the index of the colon in the first line.
    init(name: String, lines: [[UInt8]], colon: Int) {
        self.name = name
        self.lowercasedName = name.lowercased()
        self.lines = lines
        var unfolded = Array(lines[0][(colon + 1)...])
        for continuation in lines.dropFirst() {
            unfolded += continuation
        }
        self.valueBytes = trimmedWhitespace(unfolded)
    }

    public static func == (lhs: HeaderField, rhs: HeaderField) -> Bool {
        lhs.name == rhs.name && lhs.lines == rhs.lines
    }
}

/// Where we fold the fields we generate: RFC 5322 §2.1.1 recommends 78 characters per line.
private let foldWidth = 78

/// Splits `Name: value` into lines, breaking before a space once a line would pass `foldWidth`.
/// Any SP in a structured or unstructured value may be preceded by a line end (it is FWS), so a break
/// never changes the meaning. A word longer than the width stays whole on its own line.
private func foldedLines(name: [UInt8], value: [UInt8]) -> [[UInt8]] {
    var current = name + [ASCII.colon]
    guard !value.isEmpty else { return [current] }
    var lines: [[UInt8]] = []
    for chunk in spaceLedChunks(value) {
        if current.count + chunk.count > foldWidth && current.count > name.count + 1 {
            lines.append(current)
            current = chunk
        } else {
            current += chunk
        }
    }
    lines.append(current)
    return lines
}

/// `a b  c` -> [" a", " b", "  c"]: each chunk is a run of spaces followed by a word, so it can start
/// a continuation line.
private func spaceLedChunks(_ value: [UInt8]) -> [[UInt8]] {
    var chunks: [[UInt8]] = []
    var current: [UInt8] = [ASCII.space]
    var previousWasSpace = true
    for byte in value {
        let isSpace = byte == ASCII.space
        if isSpace && !previousWasSpace {
            chunks.append(current)
            current = []
        }
        current.append(byte)
        previousWasSpace = isSpace
    }
    chunks.append(current)
    return chunks
}

func trimmedWhitespace<C: BidirectionalCollection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
    guard let first = bytes.firstIndex(where: { !ASCII.isWhitespace($0) }),
          let last = bytes.lastIndex(where: { !ASCII.isWhitespace($0) })
    else { return [] }
    return Array(bytes[first...last])
}
