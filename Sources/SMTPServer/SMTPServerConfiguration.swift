import NIOCore
import NIOSSL

/// Settings of the SMTP listeners, independent of how the configuration file spells them.
public struct SMTPServerConfiguration: Sendable {
    public var hostname: String
    public var maxMessageBytes: Int
    public var maxRecipients: Int
    public var maxLineLength: Int
    public var maxErrors: Int
    public var maxConnections: Int
    /// Most connections from one client address (`smtp.max_connections_per_address`).
    public var maxConnectionsPerAddress: Int
    /// How long a refused connection may stay open at most while its 421 is written.
    public var refusedConnectionLinger: TimeAmount = .seconds(2)
    /// Time allowed between two reads while the client has the turn.
    public var commandTimeout: Duration
    /// Upper bound for a whole connection.
    public var sessionTimeout: Duration
    /// Certificate and key, when configured: enables STARTTLS and the implicit-TLS listener. A shared box:
    /// `SMTPCertificate.reload()` changes what the next handshake uses.
    public var certificate: SMTPCertificate?
    /// The context a handshake starting now uses.
    public var tlsContext: NIOSSLContext? { certificate?.context }
    /// May this peer AUTH without TLS? (smtp.plaintext_auth_networks)
    public var plaintextAuthAllowed: @Sendable (String) -> Bool
    /// May this peer submit without AUTH? (smtp.trusted_networks)
    public var trusted: @Sendable (String) -> Bool
    /// Base of the growing delay before a failed AUTH is answered (per peer address).
    public var authFailureDelay: Duration
    /// How long a graceful shutdown waits for sessions to finish their message.
    public var shutdownGracePeriod: Duration

    public init(
        hostname: String, maxMessageBytes: Int = 36_700_160, maxRecipients: Int = 100, maxLineLength: Int = 4096,
        maxErrors: Int = 3, maxConnections: Int = 200, maxConnectionsPerAddress: Int = 20, commandTimeout: Duration = .seconds(300),
        sessionTimeout: Duration = .seconds(1800), tlsContext: NIOSSLContext? = nil, certificate: SMTPCertificate? = nil,
        plaintextAuthAllowed: @escaping @Sendable (String) -> Bool = { _ in false },
        trusted: @escaping @Sendable (String) -> Bool = { _ in false },
        authFailureDelay: Duration = .milliseconds(500), shutdownGracePeriod: Duration = .seconds(30)
    ) {
        self.hostname = hostname
        self.maxMessageBytes = maxMessageBytes
        self.maxRecipients = maxRecipients
        self.maxLineLength = maxLineLength
        self.maxErrors = maxErrors
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.commandTimeout = commandTimeout
        self.sessionTimeout = sessionTimeout
        self.certificate = certificate ?? tlsContext.map { SMTPCertificate(context: $0) }
        self.plaintextAuthAllowed = plaintextAuthAllowed
        self.trusted = trusted
        self.authFailureDelay = authFailureDelay
        self.shutdownGracePeriod = shutdownGracePeriod
    }

    /// Loads a PEM certificate chain and key into a server TLS context.
    public static func makeTLSContext(certificatePath: String, keyPath: String) throws -> NIOSSLContext {
        try SMTPCertificate.load(certificatePath: certificatePath, keyPath: keyPath).context
    }
}
