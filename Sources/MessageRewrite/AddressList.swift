/// A practical RFC 5322 §3.4 address-list parser: mailboxes (`a@b`, `Name <a@b>`,
/// `"Quoted, Name" <a@b>`), groups (`undisclosed-recipients:;`, `Team: a@b, c@d;`), comments
/// (nested, with commas), angle addresses with an obsolete route, UTF-8 and encoded-word names,
/// obsolete spacing around dots and `@`.
///
/// Lenient: never fails. A part it cannot read as an address (no `@`, empty `<>`, junk) is skipped.
public enum AddressList {
    /// Every mailbox in an unfolded field value, in order, with groups flattened.
    public static func parse(_ value: [UInt8]) -> [Mailbox] {
        let tokens = AddressTokenizer.tokenize(value)
        return entries(of: tokens).compactMap { mailbox(from: $0, source: value) }
    }

    public static func parse(_ value: String) -> [Mailbox] {
        parse(Array(value.utf8))
    }

    /// Splits the token stream into one token list per mailbox: at commas outside angle brackets, at a
    /// group's `:` (the tokens before it are the group's name and are dropped) and at its `;`.
    static func entries(of tokens: [AddressToken]) -> [ArraySlice<AddressToken>] {
        var entries: [ArraySlice<AddressToken>] = []
        var entryStart = 0
        var angleStart: Int?

        for (position, token) in tokens.enumerated() {
            if let start = angleStart {
                // Inside <...>: a comma belongs to an obsolete route (`<@a,@b:x@y>`) only when the
                // bracket opened with `@`; otherwise the `>` is missing and the comma ends the entry.
                if token.isSpecial(ASCII.greaterThan) {
                    angleStart = nil
                } else if token.isSpecial(ASCII.comma), !(start + 1 < tokens.count && tokens[start + 1].isSpecial(ASCII.at)) {
                    angleStart = nil
                    entries.append(tokens[entryStart..<position])
                    entryStart = position + 1
                }
                continue
            }
            switch token.kind {
            case .special(ASCII.lessThan):
                angleStart = position
            case .special(ASCII.comma), .special(ASCII.semicolon):
                entries.append(tokens[entryStart..<position])
                entryStart = position + 1
            case .special(ASCII.colon):
                entryStart = position + 1
            default:
                break
            }
        }
        entries.append(tokens[entryStart...])
        return entries.filter { !$0.isEmpty }
    }

    /// One mailbox: `[phrase] <[route:]addr-spec>` or a bare addr-spec with optional comments.
    static func mailbox(from entry: ArraySlice<AddressToken>, source: [UInt8]) -> Mailbox? {
        guard let open = entry.firstIndex(where: { $0.isSpecial(ASCII.lessThan) }) else {
            return addrSpec(from: entry, source: source).map { Mailbox(address: $0) }
        }
        var inner = entry[(open + 1)...]
        if let close = inner.firstIndex(where: { $0.isSpecial(ASCII.greaterThan) }) {
            inner = inner[..<close]
        }
        if let routeEnd = inner.lastIndex(where: { $0.isSpecial(ASCII.colon) }) {
            inner = inner[(routeEnd + 1)...]
        }
        guard let address = addrSpec(from: inner, source: source) else { return nil }
        return Mailbox(address: address, rawDisplayName: displayName(from: entry[..<open], source: source))
    }

    /// The phrase before `<`, bytes as written from its first to its last word; comments at its
    /// edges are left out. Nil when there is no word. A phrase that is not valid as written (specials
    /// as in `a@b <c@d>`, or stray bytes such as `\` or `)`) comes back as a quoted string, so it can
    /// be written into a field safely.
    static func displayName(from phrase: ArraySlice<AddressToken>, source: [UInt8]) -> [UInt8]? {
        guard let first = phrase.firstIndex(where: { $0.kind == .atom || $0.kind == .quotedString }),
              let last = phrase.lastIndex(where: { $0.kind == .atom || $0.kind == .quotedString })
        else { return nil }
        let words = phrase[first...last]
        let bytes = Array(source[words.first!.range.lowerBound..<words.last!.range.upperBound])
        let hasSpecials = words.contains {
            if case .special = $0.kind { return true } else { return false }
        }
        // Between two tokens there may only be white space; anything else was skipped as junk.
        let hasStrayBytes = zip(words, words.dropFirst()).contains { earlier, later in
            !source[earlier.range.upperBound..<later.range.lowerBound].allSatisfy(ASCII.isWhitespace)
        }
        return hasSpecials || hasStrayBytes ? quotedString(bytes) : bytes
    }

    /// `"..."` around `bytes`, with the quotes and backslashes already in it escaped.
    static func quotedString(_ bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = [ASCII.quote]
        for byte in bytes {
            if byte == ASCII.quote || byte == ASCII.backslash { result.append(ASCII.backslash) }
            result.append(byte)
        }
        return result + [ASCII.quote]
    }

    /// `local@domain` from the tokens of an addr-spec, comments ignored. Nil when there is not exactly
    /// one `@` outside quotes, or when either side is empty or holds something other than words.
    static func addrSpec(from tokens: ArraySlice<AddressToken>, source: [UInt8]) -> EmailAddress? {
        let words = tokens.filter { $0.kind != .comment }
        guard let at = words.firstIndex(where: { $0.isSpecial(ASCII.at) }),
              !words[(at + 1)...].contains(where: { $0.isSpecial(ASCII.at) })
        else { return nil }
        let localTokens = dotJoinedRun(endingAt: words[..<at], source: source)
        let domainTokens = dotJoinedRun(startingAt: words[(at + 1)...], source: source)
        // An unclosed quote or bracket would swallow what follows once the address is written out.
        guard !localTokens.isEmpty, !domainTokens.isEmpty,
              localTokens.allSatisfy({ ($0.kind == .atom || $0.kind == .quotedString) && $0.isClosed }),
              domainTokens.allSatisfy({ ($0.kind == .atom || $0.kind == .domainLiteral) && $0.isClosed })
        else { return nil }

        let local = localPart(from: localTokens, source: source)
        let domain = domainTokens.flatMap { source[$0.range] }
        // Control bytes (a CR or LF inside quotes) must never reach a header we write.
        guard !local.contains(where: ASCII.isControl), !domain.contains(where: ASCII.isControl),
              domain.first != ASCII.dot
        else { return nil }
        return EmailAddress(
            localPart: String(decoding: local, as: UTF8.self),
            domain: String(decoding: domain, as: UTF8.self)
        )
    }

    /// The words next to the `@` that a dot joins (`john . doe`, obsolete spacing). Words set apart by
    /// white space alone are not part of the address: in `John a@b` the local part is `a`.
    private static func dotJoinedRun(
        endingAt tokens: ArraySlice<AddressToken>, source: [UInt8]
    ) -> ArraySlice<AddressToken> {
        guard var start = tokens.indices.last else { return tokens }
        while start > tokens.startIndex, dotJoins(tokens[start - 1], tokens[start], source: source) {
            start -= 1
        }
        return tokens[start...]
    }

    private static func dotJoinedRun(
        startingAt tokens: ArraySlice<AddressToken>, source: [UInt8]
    ) -> ArraySlice<AddressToken> {
        guard var end = tokens.indices.first else { return tokens }
        while end + 1 < tokens.endIndex, dotJoins(tokens[end], tokens[end + 1], source: source) {
            end += 1
        }
        return tokens[...end]
    }

    private static func dotJoins(_ earlier: AddressToken, _ later: AddressToken, source: [UInt8]) -> Bool {
        source[earlier.range.upperBound - 1] == ASCII.dot || source[later.range.lowerBound] == ASCII.dot
    }

    /// Joins the words of a local part; a lone quoted string whose content is a plain dot-atom loses
    /// its needless quotes (`"john"` -> `john`).
    private static func localPart(from tokens: ArraySlice<AddressToken>, source: [UInt8]) -> [UInt8] {
        if tokens.count == 1, let only = tokens.first, only.kind == .quotedString {
            let content = unquoted(source[only.range])
            if isDotAtom(content) { return content }
        }
        return tokens.flatMap { source[$0.range] }
    }

    private static func isDotAtom(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first, let last = bytes.last, first != ASCII.dot, last != ASCII.dot else {
            return false
        }
        return bytes.allSatisfy(AddressTokenizer.isAtomByte)
            && !zip(bytes, bytes.dropFirst()).contains { $0 == ASCII.dot && $1 == ASCII.dot }
    }
}
