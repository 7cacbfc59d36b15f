import SMTPProtocol

/// What the SMTP glue needs from the rest of the relay. The app implements it with the store;
/// tests implement it in memory. Every call may be made concurrently from many connections.
public protocol SubmissionBackend: Sendable {
    /// Checks an SMTP login. May be slow (a password hash): called off the event loop.
    func authenticate(username: String, password: String, peer: PeerInfo) async -> AuthenticationResult
    /// Opens a spool file for an incoming message. Called on the event loop: must be quick.
    func openSpool() throws -> any SpoolSink
    /// Makes the message durable (and, in sync delivery mode, tries to deliver it) and returns the
    /// reply for the client. Called once per message, after the final dot.
    func commit(envelope: Envelope, spool: any SpoolSink, peer: PeerInfo) async -> SMTPReply
}

/// What a login check found.
public enum AuthenticationResult: Sendable, Equatable {
    case accepted
    case rejected
    /// The relay cannot check now (too many checks in flight, the store unavailable): 454, try later.
    case temporarilyUnavailable
}

/// Where message bytes go while DATA streams in. Used by one connection at a time.
public protocol SpoolSink: AnyObject, Sendable {
    /// Appends decoded message bytes. Throws on disk trouble; the connection then answers 452 at the end.
    func write(_ bytes: [UInt8]) throws
    /// Throws the partial message away (refused, failed, or the client went away).
    func abandon()
}

/// The connection's far end, as the backend and the log see it.
public struct PeerInfo: Sendable, Equatable, CustomStringConvertible {
    public var address: String
    public var port: Int?
    public var tls: Bool

    public init(address: String, port: Int?, tls: Bool) {
        self.address = address
        self.port = port
        self.tls = tls
    }

    public var description: String { port.map { "\(address):\($0)" } ?? address }
}
