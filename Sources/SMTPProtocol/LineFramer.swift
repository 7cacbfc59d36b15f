/// Cuts the command stream into lines.
///
/// A line ends at LF; a CR before it is dropped. Command lines may end in a bare LF (many scripts send
/// that and it is harmless in command mode); message data is never framed here (see `DataDecoder`).
/// A line longer than the limit is reported once and then skipped up to its end, so memory stays bounded.
public struct LineFramer: Sendable {
    public enum Event: Sendable, Equatable {
        case line([UInt8])
        case tooLong
    }

    public let maxLineLength: Int
    private var partial: [UInt8] = []
    private var discarding = false

    public init(maxLineLength: Int) {
        self.maxLineLength = maxLineLength
    }

    /// Looks for one event in `input` starting at `offset`. Returns the event (if a line ended or the
    /// limit was crossed) and how many bytes were consumed. Bytes of an unfinished line are kept inside.
    public mutating func next(in input: UnsafeRawBufferPointer, from offset: Int) -> (event: Event?, consumed: Int) {
        var index = offset
        let end = input.count
        while index < end {
            let byte = input[index]
            index += 1
            if byte == UInt8(ascii: "\n") {
                if discarding {
                    discarding = false
                    partial.removeAll(keepingCapacity: true)
                    continue
                }
                if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
                let line = partial
                partial.removeAll(keepingCapacity: true)
                return (.line(line), index - offset)
            }
            if discarding { continue }
            partial.append(byte)
            // The limit is for the line without its ending, so one CR past it may still be the CR of CRLF.
            if partial.count > maxLineLength && !(partial.count == maxLineLength + 1 && byte == UInt8(ascii: "\r")) {
                discarding = true
                partial.removeAll(keepingCapacity: true)
                return (.tooLong, index - offset)
            }
        }
        return (nil, index - offset)
    }

    /// Bytes of an unfinished line held from earlier input.
    public var bufferedByteCount: Int { partial.count }

    public mutating func reset() {
        partial.removeAll(keepingCapacity: false)
        discarding = false
    }
}
