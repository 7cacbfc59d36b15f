/// Where the header block of a message ends and its body begins.
public struct HeaderBoundary: Equatable, Sendable {
    /// Offset just past the last header line's line end: `message[..<headerEnd]` is the header block
    /// that `rewriteHeader` takes. The blank separator line is not part of it.
    public var headerEnd: Int
    /// Offset of the first body byte, just past the blank line. Equal to `headerEnd` when the
    /// message has no blank line (then it is all header and has no body).
    public var bodyStart: Int

    /// Whether a blank line separates header and body.
    public var hasSeparator: Bool { bodyStart > headerEnd }

    public init(headerEnd: Int, bodyStart: Int) {
        self.headerEnd = headerEnd
        self.bodyStart = bodyStart
    }
}

/// Finds the end of the header block in the first bytes of a message.
///
/// A blank line is `CRLF` or a bare `LF` at the start of a line (PHPMailer and most clients send
/// CRLF; some scripts send LF only). A message that starts with a blank line has an empty header.
///
/// - Parameters:
///   - prefix: the first bytes of the message (the whole message or only its first N bytes).
///   - isWholeMessage: whether `prefix` is the complete message. Then a message without a blank line
///     is all header. Otherwise such a prefix returns nil: the header goes on past it (or is too long).
/// - Returns: the boundary, or nil when the prefix ends before the header does.
public func splitHeader(_ prefix: [UInt8], isWholeMessage: Bool) -> HeaderBoundary? {
    var lineStart = 0
    while lineStart < prefix.count {
        switch prefix[lineStart] {
        case ASCII.lf:
            return HeaderBoundary(headerEnd: lineStart, bodyStart: lineStart + 1)
        case ASCII.cr where lineStart + 1 < prefix.count && prefix[lineStart + 1] == ASCII.lf:
            return HeaderBoundary(headerEnd: lineStart, bodyStart: lineStart + 2)
        case ASCII.cr where lineStart + 1 == prefix.count && !isWholeMessage:
            // A CR as the last byte of a partial prefix may be the start of the blank line.
            return nil
        default:
            break
        }
        guard let lineFeed = prefix[lineStart...].firstIndex(of: ASCII.lf) else { break }
        lineStart = lineFeed + 1
    }
    return isWholeMessage ? HeaderBoundary(headerEnd: prefix.count, bodyStart: prefix.count) : nil
}

/// Byte values the header and address parsers look at.
enum ASCII {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22  // "
    static let openParen: UInt8 = 0x28  // (
    static let closeParen: UInt8 = 0x29  // )
    static let comma: UInt8 = 0x2C  // ,
    static let dot: UInt8 = 0x2E  // .
    static let colon: UInt8 = 0x3A  // :
    static let semicolon: UInt8 = 0x3B  // ;
    static let lessThan: UInt8 = 0x3C  // <
    static let equals: UInt8 = 0x3D  // =
    static let greaterThan: UInt8 = 0x3E  // >
    static let question: UInt8 = 0x3F  // ?
    static let at: UInt8 = 0x40  // @
    static let openBracket: UInt8 = 0x5B  // [
    static let backslash: UInt8 = 0x5C  // \
    static let closeBracket: UInt8 = 0x5D  // ]
    static let underscore: UInt8 = 0x5F  // _
    static let delete: UInt8 = 0x7F

    /// SP or HTAB: what starts a folded continuation line.
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// Control bytes (other than HTAB) never belong in an address or in a field we write.
    static func isControl(_ byte: UInt8) -> Bool { (byte < space && byte != tab) || byte == delete }
}
