/// One thing `rewriteHeader` changed, for the send log.
public enum RewriteChange: Equatable, Sendable, CustomStringConvertible {
    /// Envelope recipients that were in no To/Cc/Bcc field and now are in Bcc.
    case addedBcc([String])
    /// Several Bcc fields became one.
    case mergedBcc(fieldCount: Int)
    /// From named an address that is not the account's; Gmail would have replaced it silently.
    case rewroteFrom(original: String, to: String)
    /// There was no From; the account's primary address was added.
    case addedFrom(String)
    /// The original From, so replies still reach the sender.
    case addedReplyTo(String)
    /// A From field after the first (a message has exactly one, RFC 5322 §3.6).
    case droppedExtraFrom(String)
    case droppedSender(String)
    case addedMessageID(String)
    case addedDate(String)
    /// Return-Path is written by the final receiver, not by the sender (RFC 5321 §4.4).
    case droppedReturnPath
    /// A line that is not a header field; left in, it could end Gmail's header parsing early.
    case droppedMalformedLine(String)
    /// An envelope recipient that is no address (should not pass the SMTP layer); it is not delivered.
    case unreadableRecipient(String)

    public var description: String {
        switch self {
        case .addedBcc(let addresses):
            return "added envelope recipients to Bcc: \(addresses.joined(separator: ", "))"
        case .mergedBcc(let count):
            return "merged \(count) Bcc fields into one"
        case .rewroteFrom(let original, let new):
            return "From \(original.isEmpty ? "(empty)" : original) is not an address of the account; rewrote it to \(new)"
        case .addedFrom(let address):
            return "no From; added From: \(address)"
        case .addedReplyTo(let value):
            return "added Reply-To: \(value) (the original From)"
        case .droppedExtraFrom(let value):
            return "dropped a second From: \(value)"
        case .droppedSender(let value):
            return "dropped Sender: \(value) (not an address of the account)"
        case .addedMessageID(let value):
            return "added Message-ID: \(value)"
        case .addedDate(let value):
            return "added Date: \(value)"
        case .droppedReturnPath:
            return "dropped Return-Path (the receiving server writes it)"
        case .droppedMalformedLine(let line):
            return "dropped a line that is not a header field: \(line)"
        case .unreadableRecipient(let recipient):
            return "envelope recipient \(recipient) is not an address; it was not added"
        }
    }
}
