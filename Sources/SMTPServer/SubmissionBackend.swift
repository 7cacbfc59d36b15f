import SMTPProtocol

/// What the SMTP glue needs from the rest of the relay. The app implements it with the store;
/// tests implement it in memory. Every call may be made concurrently from many connections.
///
/// The connection keeps what `authenticate` proved (`Login`) and hands it back with each message, so
/// the backend never has to look a login up again by name; the spool it opened comes back typed.
public protocol SubmissionBackend: Sendable {
    /// A verified login, as the backend describes it. Opaque here: SMTPServer only keeps it.
    associatedtype Login: Sendable
    /// Where one message's bytes go while DATA streams in.
    associatedtype Spool: SpoolSink

    /// Checks an SMTP login. May be slow (a password hash): called off the event loop.
    func authenticate(username: String, password: String, peer: PeerInfo) async -> AuthenticationResult<Login>
    /// Whether this login's MAIL FROM must wait for `admitSender` (a login with a daily limit). Called
    /// on the event loop once per AUTH: must be quick. The default is false.
    func checksSender(for login: Login) -> Bool
    /// Whether the login may start a message now: nil lets it, a reply refuses the MAIL FROM.
    func admitSender(login: Login, mailFrom: String, peer: PeerInfo) async -> SMTPReply?
    /// Opens a spool for an incoming message. Called on the event loop: must be quick.
    func openSpool() throws -> Spool
    /// Makes the message durable (and, in sync delivery mode, tries to deliver it) and returns the
    /// reply for the client. Called once per message, after the final dot. `login` is the session's
    /// verified login (nil for a trusted peer that did not log in). Runs as a task that prefers the
    /// connection's event loop (so it resumes there): it may await anything but must not block; move
    /// blocking work elsewhere (a thread pool, or `withTaskExecutorPreference(globalConcurrentExecutor)`).
    func commit(envelope: Envelope, login: Login?, spool: Spool, peer: PeerInfo) async -> SMTPReply
}

extension SubmissionBackend {
    public func checksSender(for login: Login) -> Bool { false }
    public func admitSender(login: Login, mailFrom: String, peer: PeerInfo) async -> SMTPReply? { nil }
}

/// What a login check found.
public enum AuthenticationResult<Login: Sendable>: Sendable {
    /// The password is right: the login, kept by the connection for its messages.
    case accepted(Login)
    case rejected
    /// The relay cannot check now (too many checks in flight, the store unavailable): 454, try later.
    case temporarilyUnavailable
}

extension AuthenticationResult: Equatable where Login: Equatable {}

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
