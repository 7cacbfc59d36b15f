import ServiceLifecycle

/// A service that does its work at start and then every `interval`, until graceful shutdown (which also
/// ends the wait in between) or cancellation: the retention service and the token health probe.
public protocol PeriodicService: Service {
    var interval: Duration { get }
    /// One round. It handles (logs) its own errors: a failed round must not stop the next ones.
    func runOnce() async
}

extension PeriodicService {
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await runOnce()
            // Throws only when shutdown or cancellation ends the wait, which the loop condition then sees.
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
