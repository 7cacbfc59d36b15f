import NIOConcurrencyHelpers
import NIOCore

/// The open SMTP connections: counts them for `smtp.max_connections` and reaches them for shutdown.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        let handler: NIOLoopBound<SMTPSessionHandler>
    }

    // `reserved` counts numbers handed out by reserve() but not yet add()ed: connections are set up on
    // several event loops at once, and the limit must hold between the two calls too.
    private let state = NIOLockedValueBox((nextID: 1, entries: [Int: Entry](), reserved: 0))

    var count: Int { state.withLockedValue { $0.entries.count } }

    /// Reserves a connection number, or nil when the limit is reached. Must be followed by `add`.
    func reserve(limit: Int) -> Int? {
        state.withLockedValue { state in
            guard state.entries.count + state.reserved < limit else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.reserved += 1
            return id
        }
    }

    func add(_ id: Int, channel: any Channel, handler: SMTPSessionHandler) {
        let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
        state.withLockedValue { state in
            state.reserved -= 1
            state.entries[id] = Entry(channel: channel, handler: bound)
        }
    }

    func remove(_ id: Int) {
        state.withLockedValue { _ = $0.entries.removeValue(forKey: id) }
    }

    /// Asks every session to end as soon as it has no message in hand.
    func requestShutdown() {
        let entries = state.withLockedValue { Array($0.entries.values) }
        for entry in entries {
            entry.channel.eventLoop.execute { entry.handler.value.requestShutdown() }
        }
    }

    func closeAll() {
        let channels = state.withLockedValue { $0.entries.values.map(\.channel) }
        for channel in channels { channel.close(promise: nil) }
    }
}
