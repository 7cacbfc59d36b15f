import MessageRewrite

/// Subject, Message-ID and the To/Cc/Bcc recipients of a message, read from its bytes as DATA streams
/// through the sink, so nothing reads the stored message back.
///
/// Bounded: it looks at no more than `limit` bytes and stops at the blank line that ends the header
/// block, so the body is never scanned. It keeps only the first Subject and first Message-ID field and
/// the To/Cc/Bcc field being read (its recipients go into a set when it ends). A header cut off by the
/// limit is read up to its last complete line, as `HeaderBlock(messagePrefix:isWholeMessage:)` does,
/// and each field is parsed by `HeaderBlock`, so the results are the ones the header parser gives.
public struct HeaderCapture: Sendable {
    /// Headers longer than this are not something a CMS sends; the rest is treated as body.
    public static let defaultLimit = 256 * 1024
    /// A field name longer than this (white space before the colon included) is none of ours.
    static let nameLimit = 256

    private enum Kept: Sendable { case subject, messageID, recipients }

    /// Where the scanner is in the current physical line.
    private enum LineState: Sendable {
        /// Nothing of this line read yet.
        case start
        /// The line began with CR: a CRLF here is the blank line, anything else a continuation.
        case carriageReturn
        /// Reading what may be a field name (the bytes are in `name`).
        case name
        /// The line belongs to the field being kept: its bytes go to `field`.
        case keep
        /// The line is not ours: skip to its line feed.
        case skip
    }

    private let limit: Int
    private var scanned = 0
    private var done = false
    private var state = LineState.start
    private var name: [UInt8] = []
    /// The field being kept, and where its current (maybe cut-off) physical line starts.
    private var field: (kind: Kept, bytes: [UInt8], lineStart: Int)?
    private var subjectField: [UInt8]?
    private var messageIDField: [UInt8]?
    private var recipientKeys = Set<String>()

    public init(limit: Int = HeaderCapture.defaultLimit) {
        self.limit = limit
    }

    /// Whether the header block has ended (blank line or limit): later bytes are not looked at.
    public var isComplete: Bool { done }

    /// Reads the next bytes of the message.
    public mutating func scan(_ bytes: [UInt8]) {
        guard !done else { return }
        for byte in bytes {
            if scanned == limit {
                // Cut off: the header goes on past the limit; only complete lines count.
                dropPartialLine()
                done = true
                return
            }
            scanned += 1
            consume(byte)
            if done { return }
        }
    }

    /// The message has ended. A header without a blank line is all header, its last line included.
    public mutating func finish() {
        guard !done else { return }
        if case .carriageReturn = state { continueLine(with: 0x0D) }
        finishField()
        done = true
    }

    /// The Subject as written, encoded-words decoded for display.
    public var subject: String? {
        subjectField.flatMap { HeaderBlock(parsing: $0).subject }.map(EncodedWord.decode)
    }

    /// The Message-ID as written, angle brackets included; nil when missing or blank.
    public var messageID: String? {
        messageIDField.flatMap { HeaderBlock(parsing: $0).messageID }
    }

    /// How many distinct addresses Gmail would send the message to: the To, Cc and Bcc mailboxes and
    /// the envelope recipients together (see `HeaderBlock.gmailRecipientCount`).
    public func gmailRecipientCount(envelopeRecipients: [String]) -> Int {
        var keys = recipientKeys
        for recipient in envelopeRecipients {
            if let address = EmailAddress(parsing: recipient) { keys.insert(address.recipientKey) }
        }
        return keys.count
    }

    // MARK: The line scanner (same line rules as HeaderBlock: LF ends a line, a CR elsewhere is a space)

    private mutating func consume(_ byte: UInt8) {
        switch state {
        case .start:
            switch byte {
            case 0x0A: endOfHeader()
            case 0x0D: state = .carriageReturn
            case 0x20, 0x09: continueLine(with: byte)
            default:
                finishField()
                name = [byte]
                state = .name
            }
        case .carriageReturn:
            if byte == 0x0A { return endOfHeader() }
            continueLine(with: 0x0D)
            consume(byte)
        case .name:
            switch byte {
            case 0x3A: startField(line: name + [byte])
            case 0x0A: state = .start  // no colon: a malformed line, no field of ours
            default:
                name.append(byte)
                if name.count > Self.nameLimit { state = .skip }
            }
        case .keep:
            field?.bytes.append(byte)
            if byte == 0x0A { state = .start }
        case .skip:
            if byte == 0x0A { state = .start }
        }
    }

    /// A continuation line (it starts with white space): part of the field above when that is kept.
    private mutating func continueLine(with byte: UInt8) {
        guard field != nil else {
            state = .skip
            return
        }
        field!.lineStart = field!.bytes.count
        field!.bytes.append(byte)
        state = .keep
    }

    /// A line with a colon: kept when it names a field we report on (and, for Subject and
    /// Message-ID, the first one), skipped otherwise.
    private mutating func startField(line: [UInt8]) {
        state = .skip
        name = []
        guard let kind = Self.kind(ofNameIn: line) else { return }
        switch kind {
        case .subject where subjectField != nil: return
        case .messageID where messageIDField != nil: return
        default: break
        }
        field = (kind, line, 0)
        state = .keep
    }

    private mutating func finishField() {
        guard let finished = field else { return }
        field = nil
        switch finished.kind {
        case .subject: subjectField = finished.bytes
        case .messageID: messageIDField = finished.bytes
        case .recipients:
            for mailbox in HeaderBlock(parsing: finished.bytes).mailboxes(in: ["To", "Cc", "Bcc"]) {
                recipientKeys.insert(mailbox.address.recipientKey)
            }
        }
    }

    private mutating func endOfHeader() {
        finishField()
        done = true
    }

    private mutating func dropPartialLine() {
        switch state {
        case .keep:
            if field!.lineStart == 0 { field = nil } else { field!.bytes.removeSubrange(field!.lineStart...) }
        case .start, .carriageReturn, .name, .skip:
            break
        }
        finishField()
    }

    /// Which of our fields a line up to its colon names. A name is printable US-ASCII; white space
    /// before the colon is tolerated, and a CR reads as a space (as in `HeaderBlock`).
    private static func kind(ofNameIn line: [UInt8]) -> Kept? {
        var name = line.dropLast().map { $0 == 0x0D ? 0x20 : $0 }
        while let last = name.last, last == 0x20 || last == 0x09 { name.removeLast() }
        guard !name.isEmpty, name.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        switch String(decoding: name, as: UTF8.self).lowercased() {
        case "subject": return .subject
        case "message-id": return .messageID
        case "to", "cc", "bcc": return .recipients
        default: return nil
        }
    }
}
