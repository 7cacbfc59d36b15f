import Foundation

/// What `rewriteHeader` returns.
public struct RewriteResult: Equatable, Sendable {
    /// The header block for Gmail. Every line ends in CRLF. The blank line that separates header and
    /// body is NOT included: the caller writes CRLF, then the body bytes unchanged.
    public var header: [UInt8]
    /// What was changed, in the order the rules ran; empty when the header went through as it was
    /// (apart from line ends, which are always CRLF).
    public var changes: [RewriteChange]
    /// The final header's fields.
    public var block: HeaderBlock
    /// The final Subject, unfolded, as written (see `EncodedWord.decode` for the send log).
    public var subject: String? { block.subject }
    /// The final Message-ID with its angle brackets.
    public var messageID: String? { block.messageID }
    /// Every To/Cc/Bcc address of the final header, in order, each once (ignoring case). Gmail sends
    /// to exactly these (docs/google-api.md §1.5).
    public var recipients: [String] {
        var seen = Set<String>()
        return block.mailboxes(in: ["To", "Cc", "Bcc"])
            .map(\.address)
            .filter { seen.insert($0.recipientKey).inserted }
            .map(\.addrSpec)
    }
}

/// Rewrites a message's header block into the one Gmail's `users.messages.send` should get.
///
/// Gmail has no envelope: it delivers to the To/Cc/Bcc fields and silently replaces a From that is not
/// the account's. So, in this order:
/// 1. From: when its first mailbox is not one of `accountAddresses` (case-insensitive), it becomes the
///    primary address with the original display name, and the original From goes to Reply-To unless
///    there is one. No From: `From: <primary>` is added. Extra From fields are dropped. Without account
///    addresses (a sandbox account) From and Sender are left alone.
/// 2. A Sender naming an address that is not the account's is dropped.
/// 3. Envelope recipients in no To/Cc/Bcc field go to Bcc; several Bcc fields become one.
/// 4. Return-Path is dropped.
/// 5. Message-ID and Date are added when missing or blank.
///
/// Other fields keep their order and bytes; added fields go at the end. Lines that are not header
/// fields are dropped. Pure: the clock and the Message-ID come in as arguments.
///
/// - Parameters:
///   - header: the header block, without the blank separator line (see `splitHeader`). CRLF or LF.
///   - envelopeRecipients: the RCPT TO addresses (`a@b` or `<a@b>`).
///   - accountAddresses: the account's address and its verified send-as aliases; the first readable
///     one is the primary address.
///   - now: the time for a missing Date (written in UTC).
///   - newMessageID: used only when Message-ID is missing (`id@host`, angle brackets optional).
public func rewriteHeader(
    _ header: [UInt8],
    envelopeRecipients: [String],
    accountAddresses: [String],
    now: Date,
    newMessageID: @autoclosure () -> String
) -> RewriteResult {
    var rewriter = HeaderRewriter(block: HeaderBlock(parsing: header), accountAddresses: accountAddresses)
    rewriter.enforceFrom()
    rewriter.dropForeignSender()
    rewriter.addEnvelopeRecipients(envelopeRecipients)
    rewriter.dropReturnPath()
    rewriter.ensurePresent("Message-ID", value: angleBracketed(newMessageID()), change: RewriteChange.addedMessageID)
    rewriter.ensurePresent("Date", value: RFC5322Date.string(from: now), change: RewriteChange.addedDate)
    let block = rewriter.assembled()
    return RewriteResult(header: block.bytes, changes: rewriter.changes, block: block)
}

/// The rules of `rewriteHeader`, each deciding per original field whether it stays, is replaced or
/// goes, and which fields are appended.
private struct HeaderRewriter {
    enum Disposition {
        case keep
        case replace(HeaderField)
        case drop
    }

    let fields: [HeaderField]
    let accounts: [EmailAddress]
    var dispositions: [Disposition]
    var appended: [HeaderField] = []
    var changes: [RewriteChange] = []

    init(block: HeaderBlock, accountAddresses: [String]) {
        fields = block.fields
        accounts = accountAddresses.compactMap(EmailAddress.init(parsing:))
        dispositions = Array(repeating: .keep, count: block.fields.count)
        changes = block.malformedLines.map { .droppedMalformedLine(printable($0)) }
    }

    func indices(named name: String) -> [Int] {
        fields.indices.filter { fields[$0].isNamed(name) }
    }

    func isAccountAddress(_ address: EmailAddress) -> Bool {
        accounts.contains { $0.matchesIgnoringCase(address) }
    }

    mutating func enforceFrom() {
        guard let primary = accounts.first?.headerForm else { return }
        let fromIndices = indices(named: "From")
        guard let fromIndex = fromIndices.first else {
            appended.append(HeaderField(name: "From", value: primary))
            changes.append(.addedFrom(primary))
            return
        }
        for extra in fromIndices.dropFirst() {
            dispositions[extra] = .drop
            changes.append(.droppedExtraFrom(fields[extra].value))
        }

        let original = fields[fromIndex]
        let mailbox = AddressList.parse(original.valueBytes).first
        if let mailbox, isAccountAddress(mailbox.address) { return }

        let replacement = HeaderField(name: "From", value: Mailbox(
            address: accounts[0], rawDisplayName: mailbox?.rawDisplayName
        ).rendered)
        dispositions[fromIndex] = .replace(replacement)
        changes.append(.rewroteFrom(original: original.value, to: replacement.value))

        // Without a readable address in From there is nobody to reply to.
        if mailbox != nil && indices(named: "Reply-To").isEmpty {
            appended.append(HeaderField(name: "Reply-To", value: original.valueBytes))
            changes.append(.addedReplyTo(original.value))
        }
    }

    mutating func dropForeignSender() {
        guard !accounts.isEmpty else { return }
        for index in indices(named: "Sender") {
            let address = AddressList.parse(fields[index].valueBytes).first?.address
            if let address, isAccountAddress(address) { continue }
            dispositions[index] = .drop
            changes.append(.droppedSender(fields[index].value))
        }
    }

    mutating func addEnvelopeRecipients(_ envelopeRecipients: [String]) {
        var present = Set(
            HeaderBlock(fields: fields).mailboxes(in: ["To", "Cc", "Bcc"]).map(\.address.recipientKey)
        )
        var missing: [EmailAddress] = []
        for recipient in envelopeRecipients {
            guard let address = EmailAddress(parsing: recipient) else {
                changes.append(.unreadableRecipient(recipient))
                continue
            }
            if present.insert(address.recipientKey).inserted { missing.append(address) }
        }

        let bccIndices = indices(named: "Bcc")
        guard !missing.isEmpty || bccIndices.count > 1 else { return }

        // One Bcc: the existing ones' mailboxes (each once), then the missing recipients.
        var seen = Set<String>()
        let existing = bccIndices
            .flatMap { AddressList.parse(fields[$0].valueBytes) }
            .filter { seen.insert($0.address.recipientKey).inserted }
        let entries = existing.map(\.rendered) + missing.map { Array($0.headerForm.utf8) }
        if let first = bccIndices.first {
            if !entries.isEmpty {
                dispositions[first] = .replace(HeaderField(name: "Bcc", value: joinedList(entries)))
            }
            for extra in bccIndices.dropFirst() { dispositions[extra] = .drop }
        } else {
            appended.append(HeaderField(name: "Bcc", value: joinedList(entries)))
        }

        if !missing.isEmpty { changes.append(.addedBcc(missing.map(\.addrSpec))) }
        if bccIndices.count > 1 { changes.append(.mergedBcc(fieldCount: bccIndices.count)) }
    }

    mutating func dropReturnPath() {
        let returnPaths = indices(named: "Return-Path")
        guard !returnPaths.isEmpty else { return }
        for index in returnPaths { dispositions[index] = .drop }
        changes.append(.droppedReturnPath)
    }

    /// Adds `name: value` unless a field of that name has a value; a blank one is replaced in place.
    mutating func ensurePresent(_ name: String, value: @autoclosure () -> String, change: (String) -> RewriteChange) {
        let existing = indices(named: name)
        guard existing.allSatisfy({ fields[$0].valueBytes.isEmpty }) else { return }
        let value = value()
        guard !value.isEmpty else { return }
        let field = HeaderField(name: name, value: value)
        if let first = existing.first {
            dispositions[first] = .replace(field)
            for extra in existing.dropFirst() { dispositions[extra] = .drop }
        } else {
            appended.append(field)
        }
        changes.append(change(field.value))
    }

    func assembled() -> HeaderBlock {
        var result: [HeaderField] = []
        for (field, disposition) in zip(fields, dispositions) {
            switch disposition {
            case .keep: result.append(field)
            case .replace(let replacement): result.append(replacement)
            case .drop: break
            }
        }
        return HeaderBlock(fields: result + appended)
    }
}

private func joinedList(_ entries: [[UInt8]]) -> [UInt8] {
    Array(entries.joined(separator: Array(", ".utf8)))
}

/// `<id@host>` from `id@host` or `<id@host>`; white space and control characters removed. Empty when
/// nothing is left.
private func angleBracketed(_ messageID: String) -> String {
    var id = messageID.unicodeScalars.filter { $0.value > 0x20 && $0.value != 0x7F }
    if id.first == "<" { id.removeFirst() }
    if id.last == ">" { id.removeLast() }
    return id.isEmpty ? "" : "<\(String(String.UnicodeScalarView(id)))>"
}

/// A malformed line for the send log: lossy UTF-8, at most 200 characters.
private func printable(_ line: [UInt8]) -> String {
    let text = String(decoding: line, as: UTF8.self)
    return text.count > 200 ? String(text.prefix(200)) + "..." : text
}
