/// Decodes the DATA phase: finds the end marker and undoes dot-stuffing, streaming.
///
/// Rules (RFC 5321 4.5.2), chosen to close SMTP smuggling:
/// - a line starts only after CRLF (or at the start of the data);
/// - the data ends only at a line that is exactly "." followed by CRLF, i.e. the bytes CRLF "." CRLF;
///   a bare LF or bare CR next to the dot does not end it and is kept as content;
/// - a dot at the start of a line is removed (dot-unstuffing); every other byte passes unchanged,
///   including bare CR and bare LF.
/// The CRLF before the final dot belongs to the message (its last line end).
public struct DataDecoder: Sendable {
    private enum State: Sendable {
        case lineStart        // after CRLF, or at the very beginning
        case midLine
        case sawCR            // inside a line, after CR: LF here makes a line start
        case dotAtLineStart   // a line began with '.'
        case dotCR            // ".\r" at the start of a line: LF here ends the data
    }

    private var state: State = .lineStart
    public private(set) var decodedByteCount = 0

    public init() {}

    public enum Result: Sendable, Equatable {
        /// All input was consumed; the message goes on.
        case needMore
        /// The end marker was found; `consumed` bytes of the input belonged to the data (the rest is the
        /// next command, pipelined).
        case finished(consumed: Int)
    }

    /// Decodes `input` and appends the message bytes to `output`.
    public mutating func decode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Result {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), dot = UInt8(ascii: ".")
        var index = 0
        let count = input.count
        let before = output.count
        defer { decodedByteCount += output.count - before }
        while index < count {
            switch state {
            case .midLine:
                // Fast path: copy everything up to the next CR in one go.
                var runEnd = index
                while runEnd < count && input[runEnd] != cr { runEnd += 1 }
                if runEnd > index {
                    output.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[index..<runEnd]))
                    index = runEnd
                }
                if index < count {
                    output.append(cr)
                    state = .sawCR
                    index += 1
                }
            case .sawCR:
                let byte = input[index]
                if byte == lf {
                    output.append(lf)
                    state = .lineStart
                    index += 1
                } else {
                    state = .midLine  // bare CR: content; look at this byte again as ordinary line content
                    if byte == cr { output.append(cr); state = .sawCR; index += 1 }
                }
            case .lineStart:
                let byte = input[index]
                if byte == dot {
                    state = .dotAtLineStart
                    index += 1
                } else {
                    state = .midLine
                }
            case .dotAtLineStart:
                let byte = input[index]
                if byte == cr {
                    state = .dotCR
                    index += 1
                } else {
                    // The leading dot was stuffing: drop it, the byte is line content.
                    state = .midLine
                }
            case .dotCR:
                let byte = input[index]
                if byte == lf {
                    state = .lineStart
                    return .finished(consumed: index + 1)
                }
                // ".\r" then something else: the dot was stuffing; the CR is content.
                output.append(cr)
                state = .sawCR
            }
        }
        return .needMore
    }

    public mutating func reset() {
        state = .lineStart
        decodedByteCount = 0
    }
}
