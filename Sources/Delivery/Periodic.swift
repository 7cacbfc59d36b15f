import ServiceLifecycle

/// The loop of the relay's periodic services (retention, the token health probe): `work` at start, then
/// every `interval`, until graceful shutdown (which also ends the wait in between) or cancellation.
func repeatUntilShutdown(every interval: Duration, _ work: () async -> Void) async {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
        await work()
        // Throws only when shutdown or cancellation ends the wait, which the loop condition then sees.
        _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
    }
}
