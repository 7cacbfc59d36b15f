/// An addr-spec: `local@domain`.
///
/// Equality follows RFC 5321 §2.4: the domain compares case-insensitively, the local part exactly.
/// Gmail itself ignores case in local parts, so recipient and account matching use `recipientKey`.
public struct EmailAddress: Hashable, Sendable, CustomStringConvertible {
    /// As written, quotes kept when needed (`"john doe"`); a quoted local part that does not need its
    /// quotes is stored without them, so `"john"@x` and `john@x` are the same address.
    public let localPart: String
    public let domain: String

    public var addrSpec: String { "\(localPart)@\(domain)" }

    /// The addr-spec as it is written into a header field: bare when it reads back as this address,
    /// else with the local part quoted. (A bare local part such as `=?UTF-8?B?abc` would start an
    /// encoded-word, which the tokenizer reads as one atom up to a later `?=`, `@` and all: the address
    /// would vanish from the field, and Gmail would not send to it. The fuzzer found that one.)
    public var headerForm: String {
        let bare = addrSpec
        if AddressList.parse(bare).first?.address.recipientKey == recipientKey { return bare }
        var quoted = "\""
        for character in Self.unquoted(localPart) {
            if character == "\"" || character == "\\" { quoted.append("\\") }
            quoted.append(character)
        }
        return quoted + "\"@" + domain
    }
    public var description: String { addrSpec }

    /// The key under which Gmail sees two addresses as the same mailbox: quoting undone (`"a..b"@x`
    /// and `a..b@x` are one mailbox, RFC 5322 §3.4.1), all lower case.
    public var recipientKey: String { "\(Self.unquoted(localPart))@\(domain)".lowercased() }

    /// A local part with its quoted strings' delimiters dropped and their quoted-pairs unescaped.
    static func unquoted(_ localPart: String) -> String {
        guard localPart.contains("\"") else { return localPart }
        var result = "", inQuotes = false, escaped = false
        for character in localPart {
            if escaped {
                result.append(character)
                escaped = false
            } else if inQuotes && character == "\\" {
                escaped = true
            } else if character == "\"" {
                inQuotes.toggle()
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Whether Gmail treats both as the same mailbox (case-insensitive throughout).
    public func matchesIgnoringCase(_ other: EmailAddress) -> Bool {
        recipientKey == other.recipientKey
    }

    public static func == (lhs: EmailAddress, rhs: EmailAddress) -> Bool {
        lhs.localPart == rhs.localPart && lhs.domain.lowercased() == rhs.domain.lowercased()
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(localPart)
        hasher.combine(domain.lowercased())
    }
}

// In an extension, so the memberwise initializer (local part and domain, for the parser) stays.
extension EmailAddress {
    /// The first mailbox in `text` (`a@b`, `<a@b>`, `Name <a@b>`), or nil when there is none.
    public init?(parsing text: String) {
        guard let mailbox = AddressList.parse(text).first else { return nil }
        self = mailbox.address
    }
}

/// A mailbox: an address with the display name it was given, if any.
public struct Mailbox: Equatable, Sendable {
    public var address: EmailAddress
    /// The display name as written, bytes untouched (quotes, encoded-words and raw UTF-8 kept), so it
    /// can be put back in a field exactly. Nil when the mailbox has no name.
    public var rawDisplayName: [UInt8]?

    public init(address: EmailAddress, rawDisplayName: [UInt8]? = nil) {
        self.address = address
        self.rawDisplayName = rawDisplayName
    }

    /// The display name for people: quotes removed, quoted-pairs unescaped, encoded-words decoded.
    public var displayName: String? {
        guard let raw = rawDisplayName else { return nil }
        let words = AddressTokenizer.tokenize(raw).compactMap { token -> String? in
            let bytes = raw[token.range]
            switch token.kind {
            case .quotedString: return String(decoding: unquoted(bytes), as: UTF8.self)
            case .comment: return nil
            default: return String(decoding: bytes, as: UTF8.self)
            }
        }
        return EncodedWord.decode(words.joined(separator: " "))
    }

    /// `Name <local@domain>` with the name as written, or the bare address when there is no name.
    public var rendered: [UInt8] {
        guard let name = rawDisplayName, !name.isEmpty else { return Array(address.headerForm.utf8) }
        return name + Array(" <\(address.headerForm)>".utf8)
    }
}

/// The content of a quoted string or comment: delimiters dropped, quoted-pairs (`\x`) unescaped.
func unquoted<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
    var content = Array(bytes.dropFirst())
    if let last = content.last, last == ASCII.quote || last == ASCII.closeParen || last == ASCII.closeBracket {
        content.removeLast()
    }
    var result: [UInt8] = []
    var escaped = false
    for byte in content {
        if !escaped && byte == ASCII.backslash {
            escaped = true
            continue
        }
        result.append(byte)
        escaped = false
    }
    return result
}
