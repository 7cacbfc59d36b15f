/// One lexical token of an address-list field (RFC 5322 §3.2), as a byte range of the source.
struct AddressToken: Equatable {
    enum Kind: Equatable {
        /// A run of atext and dots (dot-atom, obs-phrase words); bytes >= 0x80 count as atext so
        /// UTF-8 names and IDN/UTF-8 local parts (RFC 6532) stay whole.
        case atom
        case quotedString
        case comment
        case domainLiteral
        /// One of `< > @ , : ;`.
        case special(UInt8)
    }

    var kind: Kind
    /// Includes the delimiters (quotes, parentheses, brackets).
    var range: Range<Int>
    /// False for a quoted string, comment or domain literal that runs to the end of the value
    /// without its closing delimiter.
    var isClosed = true

    func isSpecial(_ byte: UInt8) -> Bool { kind == .special(byte) }
}

/// Splits an unfolded field value into tokens. Never fails: an unterminated quoted string, comment or
/// domain literal runs to the end; stray `) ] \` and control bytes are skipped.
struct AddressTokenizer {
    private let source: [UInt8]
    private var index = 0

    static func tokenize(_ source: [UInt8]) -> [AddressToken] {
        var tokenizer = AddressTokenizer(source: source)
        return tokenizer.run()
    }

    private init(source: [UInt8]) {
        self.source = source
    }

    private mutating func run() -> [AddressToken] {
        var tokens: [AddressToken] = []
        while index < source.count {
            let start = index
            let byte = source[index]
            let kind: AddressToken.Kind?
            var isClosed = true
            switch byte {
            case ASCII.space, ASCII.tab, ASCII.cr, ASCII.lf:
                index += 1
                kind = nil
            case ASCII.openParen:
                isClosed = skipComment()
                kind = .comment
            case ASCII.quote:
                isClosed = skipDelimited(until: ASCII.quote)
                kind = .quotedString
            case ASCII.openBracket:
                isClosed = skipDelimited(until: ASCII.closeBracket)
                kind = .domainLiteral
            case ASCII.lessThan, ASCII.greaterThan, ASCII.at, ASCII.comma, ASCII.colon, ASCII.semicolon:
                index += 1
                kind = .special(byte)
            case _ where Self.isAtomByte(byte):
                skipAtom()
                kind = .atom
            default:
                // Stray `)`, `]`, `\` or a control byte: not part of any address.
                index += 1
                kind = nil
            }
            if let kind { tokens.append(AddressToken(kind: kind, range: start..<index, isClosed: isClosed)) }
        }
        return tokens
    }

    /// Comments nest (RFC 5322 §3.2.2) and may hold commas; a backslash quotes the next byte.
    /// Depth is a counter, not recursion, so deep nesting cannot exhaust the stack.
    /// Returns whether the comment was closed.
    private mutating func skipComment() -> Bool {
        var depth = 0
        while index < source.count {
            let byte = source[index]
            index += 1
            switch byte {
            case ASCII.backslash: index += 1
            case ASCII.openParen: depth += 1
            case ASCII.closeParen:
                depth -= 1
                if depth == 0 { return true }
            default: break
            }
        }
        index = min(index, source.count)
        return false
    }

    /// A quoted string or domain literal: from the opening byte at `index` to `closing`, with
    /// quoted-pairs. Returns whether `closing` was found.
    private mutating func skipDelimited(until closing: UInt8) -> Bool {
        index += 1
        while index < source.count {
            let byte = source[index]
            index += 1
            if byte == ASCII.backslash {
                index += 1
            } else if byte == closing {
                index = min(index, source.count)
                return true
            }
        }
        index = min(index, source.count)
        return false
    }

    private mutating func skipAtom() {
        while index < source.count {
            if let end = encodedWordEnd(at: index) {
                index = end
            } else if Self.isAtomByte(source[index]) {
                index += 1
            } else {
                return
            }
        }
    }

    /// An RFC 2047 encoded-word (`=?charset?Q?text?=`) is read as one atom even when broken senders
    /// put specials such as commas inside it.
    private func encodedWordEnd(at start: Int) -> Int? {
        guard start + 1 < source.count, source[start] == ASCII.equals, source[start + 1] == ASCII.question
        else { return nil }
        var questionMarks = 0
        var position = start + 2
        while position < source.count {
            let byte = source[position]
            if byte <= ASCII.space || byte >= ASCII.delete { return nil }
            if byte == ASCII.question {
                questionMarks += 1
                if questionMarks == 3 {
                    guard position + 1 < source.count, source[position + 1] == ASCII.equals else { return nil }
                    return position + 2
                }
            }
            position += 1
        }
        return nil
    }

    /// atext (RFC 5322 §3.2.3) plus `.` plus any byte >= 0x80.
    static func isAtomByte(_ byte: UInt8) -> Bool {
        if byte >= 0x80 { return true }
        guard byte > ASCII.space, byte < ASCII.delete else { return false }
        switch byte {
        case ASCII.openParen, ASCII.closeParen, ASCII.lessThan, ASCII.greaterThan, ASCII.openBracket,
             ASCII.closeBracket, ASCII.colon, ASCII.semicolon, ASCII.at, ASCII.backslash, ASCII.comma,
             ASCII.quote:
            return false
        default:
            return true
        }
    }
}
