import Foundation

/// Lines typed (or pasted) on standard input, as an async stream that ends at end of input.
///
/// `readLine` blocks, so it runs on its own thread; the thread may stay blocked until the process
/// exits, which is fine for a command that ends when it has its answer.
enum StandardInputLines {
    static func stream() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self)
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                if case .terminated = continuation.yield(line) { return }
            }
            continuation.finish()
        }
        thread.name = "stdin-lines"
        thread.start()
        return stream
    }
}
