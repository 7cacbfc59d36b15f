import NIOConcurrencyHelpers
import NIOCore

/// The open SMTP connections: counts them for `smtp.max_connections` (all clients) and
/// `smtp.max_connections_per_address` (one client address), and reaches them for shutdown.
final class ConnectionRegistry: Sendable {
    /// Why a connection was not admitted.
    enum Refusal: Error, Equatable {
        case tooManyConnections
        case tooManyFromAddress
    }

    private struct Entry {
        let channel: any Channel
        let handler: NIOLoopBound<any ShutdownRequestable>
    }

    private struct State {
        var nextID = 1
        var entries: [Int: Entry] = [:]
        /// Every admitted connection's address, from `reserve` until `remove`: the limits count
        /// connections being set up on other event loops as well as running ones.
        var addresses: [Int: String] = [:]
        var perAddress: [String: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// Admitted connections (running or being set up).
    var count: Int { state.withLockedValue { $0.addresses.count } }

    /// Connections admitted from `address` now.
    func count(from address: String) -> Int { state.withLockedValue { $0.perAddress[address] ?? 0 } }

    /// Admits a connection from `address` and returns its number, or why not. Every admitted number
    /// must be given back with `remove` (the listener ties that to the channel's close).
    func reserve(address: String, limit: Int, perAddressLimit: Int) -> Result<Int, Refusal> {
        state.withLockedValue { state in
            guard state.addresses.count < limit else { return .failure(.tooManyConnections) }
            let fromAddress = state.perAddress[address] ?? 0
            guard fromAddress < perAddressLimit else { return .failure(.tooManyFromAddress) }
            let id = state.nextID
            state.nextID += 1
            state.addresses[id] = address
            state.perAddress[address] = fromAddress + 1
            return .success(id)
        }
    }

    func add(_ id: Int, channel: any Channel, handler: any ShutdownRequestable) {
        let bound = NIOLoopBound<any ShutdownRequestable>(handler, eventLoop: channel.eventLoop)
        state.withLockedValue { $0.entries[id] = Entry(channel: channel, handler: bound) }
    }

    /// Gives a number back; a second call for the same number does nothing.
    func remove(_ id: Int) {
        state.withLockedValue { state in
            state.entries.removeValue(forKey: id)
            guard let address = state.addresses.removeValue(forKey: id) else { return }
            let left = (state.perAddress[address] ?? 1) - 1
            state.perAddress[address] = left > 0 ? left : nil
        }
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

/// A session handler as the registry sees it (the handler is generic over its backend).
protocol ShutdownRequestable: AnyObject {
    /// Graceful shutdown: end the session as soon as it has no message in hand.
    func requestShutdown()
}
