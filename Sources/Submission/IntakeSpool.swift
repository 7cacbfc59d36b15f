import RelayStore
import SMTPServer

/// One message while DATA streams in: the bytes go to the store's `IncomingMessage` (memory, then a
/// spool file past the inline size) and through a `HeaderCapture`, which reads Subject, Message-ID and
/// the header recipients on the way. Used by one connection at a time.
public final class IntakeSpool: SpoolSink, @unchecked Sendable {
    let message: IncomingMessage
    public private(set) var header: HeaderCapture

    public init(_ message: IncomingMessage, headerLimit: Int = HeaderCapture.defaultLimit) {
        self.message = message
        self.header = HeaderCapture(limit: headerLimit)
    }

    public func write(_ bytes: [UInt8]) throws {
        try message.write(bytes)
        header.scan(bytes)
    }

    public func abandon() {
        message.abandon()
    }

    /// The message ended at the final dot: a header without a blank line is complete now.
    func finishHeader() {
        header.finish()
    }
}
