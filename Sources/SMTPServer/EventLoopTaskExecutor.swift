import NIOCore

/// Runs a Swift task's jobs on one NIO event loop. The commit of a message runs as a task preferring
/// its connection's loop: it starts there without a hand-off, and when the store's writer resumes it
/// after the durable commit it comes back straight to the loop that writes the reply. With Swift's
/// global executor in between that was two more thread hand-offs per message, and at one connection
/// the hand-offs, not CPU, bounded the ingest rate (docs/performance.md).
///
/// Work run this way must not block: it holds up every connection on the loop.
final class EventLoopTaskExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
