/// The header block of a message, parsed into fields. Lenient: it never fails; lines that are not
/// header fields are set aside in `malformedLines`.
///
/// Line ends may be CRLF or bare LF; a CR that is not part of a line end is read as a space, so no
/// output line can be split by it. An empty line ends the current field and is otherwise ignored
/// (the caller passes the header block without the blank separator line).
public struct HeaderBlock: Equatable, Sendable {
    public var fields: [HeaderField]
    /// Lines that are neither a field nor a continuation of one (no colon, bad name, a continuation
    /// line with no field before it), without line ends.
    public var malformedLines: [[UInt8]]

    public init(fields: [HeaderField], malformedLines: [[UInt8]] = []) {
        self.fields = fields
        self.malformedLines = malformedLines
    }

    /// Parses a header block (everything before the blank separator line).
    public init(parsing header: [UInt8]) {
        var fields: [HeaderField] = []
        var malformed: [[UInt8]] = []
        var pending: (name: String, colon: Int, lines: [[UInt8]])?

        func finishPending() {
            if let field = pending {
                fields.append(HeaderField(name: field.name, lines: field.lines, colon: field.colon))
            }
            pending = nil
        }

        for line in physicalLines(header) {
            guard let first = line.first else {
                finishPending()
                continue
            }
            if ASCII.isWhitespace(first) {
                // A continuation belongs to the field above; after a malformed line it has no field.
                if pending != nil { pending!.lines.append(line) } else { malformed.append(line) }
                continue
            }
            finishPending()
            if let (name, colon) = fieldName(of: line) {
                pending = (name, colon, [line])
            } else {
                malformed.append(line)
            }
        }
        finishPending()
        self.init(fields: fields, malformedLines: malformed)
    }

    /// Parses the header of a message from its first bytes (see `splitHeader`). When the header goes
    /// on past `prefix`, the complete lines are parsed and the cut-off last line is left out.
    public init(messagePrefix prefix: [UInt8], isWholeMessage: Bool) {
        if let boundary = splitHeader(prefix, isWholeMessage: isWholeMessage) {
            self.init(parsing: Array(prefix[..<boundary.headerEnd]))
        } else if let lastLineFeed = prefix.lastIndex(of: ASCII.lf) {
            self.init(parsing: Array(prefix[...lastLineFeed]))
        } else {
            self.init(fields: [])
        }
    }

    /// The fields named `name` (case-insensitive), in order.
    public func fields(named name: String) -> [HeaderField] {
        fields.filter { $0.isNamed(name) }
    }

    /// The first field named `name` (case-insensitive).
    public func first(named name: String) -> HeaderField? {
        fields.first { $0.isNamed(name) }
    }

    /// Whether any field is named `name` (case-insensitive).
    public func contains(_ name: String) -> Bool {
        fields.contains { $0.isNamed(name) }
    }

    /// The unfolded Subject as written (encoded-words not decoded; see `EncodedWord.decode`).
    public var subject: String? { first(named: "Subject")?.value }

    /// The unfolded Message-ID as written, angle brackets included (`<abc@example.org>`), or nil when
    /// missing or blank.
    public var messageID: String? {
        guard let value = first(named: "Message-ID")?.value, !value.isEmpty else { return nil }
        return value
    }

    /// Every mailbox in the fields with these names, in field order (groups are flattened).
    public func mailboxes(in names: [String]) -> [Mailbox] {
        fields
            .filter { field in names.contains { field.isNamed($0) } }
            .flatMap { AddressList.parse($0.valueBytes) }
    }

    /// The header block as bytes: every line ends in CRLF; no blank separator line at the end.
    public var bytes: [UInt8] {
        fields.reduce(into: []) { $0 += $1.raw }
    }
}

/// Splits at LF, drops the CR of a CRLF, and turns any other CR into a space.
private func physicalLines(_ bytes: [UInt8]) -> [[UInt8]] {
    var lines: [[UInt8]] = []
    var current: [UInt8] = []
    for byte in bytes {
        if byte == ASCII.lf {
            if current.last == ASCII.cr { current.removeLast() }
            lines.append(current.map { $0 == ASCII.cr ? ASCII.space : $0 })
            current = []
        } else {
            current.append(byte)
        }
    }
    if !current.isEmpty {
        lines.append(current.map { $0 == ASCII.cr ? ASCII.space : $0 })
    }
    return lines
}

/// The name of a field line and the index of its colon. A name is printable US-ASCII without a colon
/// (RFC 5322 §3.6.8); white space before the colon is tolerated (obsolete syntax, §4.5).
private func fieldName(of line: [UInt8]) -> (String, Int)? {
    guard let colon = line.firstIndex(of: ASCII.colon) else { return nil }
    let name = line[..<colon].reversed().drop(while: ASCII.isWhitespace).reversed()
    guard !name.isEmpty, name.allSatisfy({ $0 > ASCII.space && $0 < ASCII.delete }) else { return nil }
    return (String(decoding: name, as: UTF8.self), colon)
}
