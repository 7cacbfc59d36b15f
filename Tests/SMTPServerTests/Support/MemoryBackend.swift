import SMTPProtocol
import SMTPServer

/// A `SubmissionBackend` kept in memory, with knobs to inject the failures the glue must handle.
final class MemoryBackend: SubmissionBackend {
    struct Committed: Sendable {
        var envelope: Envelope
        /// The login the connection kept from AUTH (nil for a trusted peer).
        var login: String?
        var bytes: [UInt8]
        var peer: PeerInfo
    }

    struct Knobs: Sendable {
        /// Spools opened while this is set throw on the write that would take them past this many bytes.
        var spoolWriteLimit: Int?
        /// What `commit` answers.
        var commitReply = SMTPReply(250, "2.0.0", "Ok: queued as MEM1")
        /// How long `commit` takes (a slow disk or a synchronous delivery attempt).
        var commitDelay: Duration = .zero
    }

    private let users: [String: String]
    let knobs = Locked(Knobs())
    let spools = Locked([MemorySpool]())
    let commits = Locked([Committed]())
    /// Set when a commit starts and when it returns, so tests can act while one is in progress.
    let commitsStarted = Locked(0)
    let authPeers = Locked([PeerInfo]())

    init(users: [String: String] = ["site@example.com": "correct horse"]) {
        self.users = users
    }

    func authenticate(username: String, password: String, peer: PeerInfo) async -> AuthenticationResult<String> {
        authPeers.withLock { $0.append(peer) }
        return users[username] == password ? .accepted(username) : .rejected
    }

    func openSpool() throws -> MemorySpool {
        let spool = MemorySpool(writeLimit: knobs.value.spoolWriteLimit)
        spools.withLock { $0.append(spool) }
        return spool
    }

    func commit(envelope: Envelope, login: String?, spool: MemorySpool, peer: PeerInfo) async -> SMTPReply {
        commitsStarted.withLock { $0 += 1 }
        let knobs = self.knobs.value
        if knobs.commitDelay > .zero { try? await Task.sleep(for: knobs.commitDelay) }
        spool.markCommitted()
        commits.withLock { $0.append(Committed(envelope: envelope, login: login, bytes: spool.bytes, peer: peer)) }
        return knobs.commitReply
    }

    var lastSpool: MemorySpool? { spools.value.last }
}

final class MemorySpool: SpoolSink {
    struct DiskFull: Error {}
    enum Fate: Equatable, Sendable { case open, abandoned, committed }

    private struct State {
        var bytes: [UInt8] = []
        var fate = Fate.open
        var abandonCalls = 0
    }

    private let writeLimit: Int?
    private let state = Locked(State())

    init(writeLimit: Int?) { self.writeLimit = writeLimit }

    func write(_ bytes: [UInt8]) throws {
        try state.withLock { state in
            if let writeLimit, state.bytes.count + bytes.count > writeLimit { throw DiskFull() }
            state.bytes += bytes
        }
    }

    func abandon() {
        state.withLock { state in
            state.abandonCalls += 1
            state.fate = .abandoned
        }
    }

    func markCommitted() { state.withLock { $0.fate = .committed } }

    var bytes: [UInt8] { state.withLock { $0.bytes } }
    var fate: Fate { state.withLock { $0.fate } }
    var abandonCalls: Int { state.withLock { $0.abandonCalls } }
}
