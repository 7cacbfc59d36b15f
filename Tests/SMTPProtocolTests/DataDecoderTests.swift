import SMTPProtocol
import XCTest

/// The DATA decoder: end marker (only CRLF "." CRLF) and exact dot-unstuffing.
final class DataDecoderTests: XCTestCase {
    struct Case {
        var name: String
        var input: [UInt8]
        var decoded: [UInt8]
        /// Bytes of the input that belong to the data when the end was found; nil when it was not.
        var end: Int?
        var line: UInt

        init(name: String, input: [UInt8], decoded: [UInt8], end: Int?, line: UInt = #line) {
            self.name = name
            self.input = input
            self.decoded = decoded
            self.end = end
            self.line = line
        }
    }

    static let cases: [Case] = [
        Case(name: "empty message: the end marker at the very start", input: bytes(".\r\n"), decoded: [], end: 3),
        Case(name: "end marker at the start, then a pipelined command", input: bytes(".\r\nQUIT\r\n"), decoded: [], end: 3),
        Case(name: "one empty line", input: bytes("\r\n.\r\n"), decoded: bytes("\r\n"), end: 5),
        Case(name: "one line", input: bytes("a\r\n.\r\n"), decoded: bytes("a\r\n"), end: 6),
        Case(name: "stuffed dot", input: bytes("..x\r\n.\r\n"), decoded: bytes(".x\r\n"), end: 8),
        Case(name: "stuffed single dot line", input: bytes("..\r\n.\r\n"), decoded: bytes(".\r\n"), end: 7),
        Case(name: "three dots are two", input: bytes("...\r\n.\r\n"), decoded: bytes("..\r\n"), end: 8),
        Case(name: "stuffed dot on a later line", input: bytes("a\r\n..b\r\n.\r\n"), decoded: bytes("a\r\n.b\r\n"), end: 11),
        Case(name: "dots in the middle and at the end of lines", input: bytes("a.b\r\nc.\r\n.\r\n"), decoded: bytes("a.b\r\nc.\r\n"), end: 12),
        Case(name: "dot then space: the dot was stuffing", input: bytes(". x\r\n.\r\n"), decoded: bytes(" x\r\n"), end: 8),
        Case(name: "LF . LF is not an end", input: bytes("a\n.\nb"), decoded: bytes("a\n.\nb"), end: nil),
        Case(name: "CRLF . LF is not an end", input: bytes("a\r\n.\nb"), decoded: bytes("a\r\n\nb"), end: nil),
        Case(name: "LF . CRLF is not an end", input: bytes("a\n.\r\nb"), decoded: bytes("a\n.\r\nb"), end: nil),
        Case(name: "CR . CRLF is not an end", input: bytes("a\r.\r\nb"), decoded: bytes("a\r.\r\nb"), end: nil),
        Case(name: "CRLF . CR is not an end", input: bytes("a\r\n.\rb"), decoded: bytes("a\r\n\rb"), end: nil),
        Case(name: "CRLF LF . CRLF (smuggling) is not an end", input: bytes("a\r\n\n.\r\nMAIL FROM:<x@y>\r\n"),
             decoded: bytes("a\r\n\n.\r\nMAIL FROM:<x@y>\r\n"), end: nil),
        Case(name: "smuggling attempt followed by the real end", input: bytes("a\n.\nMAIL FROM:<x@y>\r\n.\r\n"),
             decoded: bytes("a\n.\nMAIL FROM:<x@y>\r\n"), end: 24),
        Case(name: "a bare LF before the end marker", input: bytes("a\n\r\n.\r\n"), decoded: bytes("a\n\r\n"), end: 7),
        Case(name: "CR CR LF", input: bytes("a\r\r\n.\r\n"), decoded: bytes("a\r\r\n"), end: 7),
        Case(name: "dot CR CR LF", input: bytes("a\r\n.\r\r\n.\r\n"), decoded: bytes("a\r\n\r\r\n"), end: 10),
        Case(name: "a final line without CRLF cannot end the data", input: bytes("abc.\r\n"), decoded: bytes("abc.\r\n"), end: nil),
        Case(name: "the dot is held until it is known", input: bytes("abc\r\n."), decoded: bytes("abc\r\n"), end: nil),
        Case(name: "dot CR held too", input: bytes("abc\r\n.\r"), decoded: bytes("abc\r\n"), end: nil),
        Case(name: "two ends: the first one counts", input: bytes("a\r\n.\r\nb\r\n.\r\n"), decoded: bytes("a\r\n"), end: 6),
        Case(name: "8-bit and NUL bytes pass", input: [0x00, 0x80, 0xFF, 0xFE, 13, 10] + bytes(".\r\n"), decoded: [0x00, 0x80, 0xFF, 0xFE, 13, 10], end: 9),
        Case(name: "UTF-8 passes", input: bytes("Grüße 😀\r\n.\r\n"), decoded: bytes("Grüße 😀\r\n"), end: 17),
        Case(name: "nothing yet", input: [], decoded: [], end: nil),
    ]

    /// Feeds `chunks` to a fresh decoder; returns the output and the end offset in the whole input.
    private func decode(_ chunks: [[UInt8]]) -> (decoded: [UInt8], end: Int?, countedBytes: Int) {
        var decoder = DataDecoder()
        var output: [UInt8] = []
        var offset = 0
        for chunk in chunks {
            let result = chunk.withUnsafeBytes { decoder.decode($0, into: &output) }
            if case .finished(let consumed) = result {
                XCTAssertLessThanOrEqual(consumed, chunk.count)
                return (output, offset + consumed, decoder.decodedByteCount)
            }
            offset += chunk.count
        }
        return (output, nil, decoder.decodedByteCount)
    }

    func testTable() {
        for testCase in Self.cases {
            let (decoded, end, counted) = decode([testCase.input])
            XCTAssertEqual(decoded, testCase.decoded, testCase.name, line: testCase.line)
            XCTAssertEqual(end, testCase.end, testCase.name, line: testCase.line)
            XCTAssertEqual(counted, decoded.count, "decodedByteCount: \(testCase.name)", line: testCase.line)
            XCTAssertLessThanOrEqual(decoded.count, testCase.input.count, line: testCase.line)
        }
    }

    func testTableAtEverySplitAndByteByByte() {
        for testCase in Self.cases {
            let whole = decode([testCase.input])
            for position in 0...testCase.input.count {
                let split = decode([Array(testCase.input[..<position]), Array(testCase.input[position...])])
                XCTAssertEqual(split.decoded, whole.decoded, "\(testCase.name) split at \(position)", line: testCase.line)
                XCTAssertEqual(split.end, whole.end, "\(testCase.name) split at \(position)", line: testCase.line)
            }
            let bytewise = decode(testCase.input.map { [$0] })
            XCTAssertEqual(bytewise.decoded, whole.decoded, testCase.name, line: testCase.line)
            XCTAssertEqual(bytewise.end, whole.end, testCase.name, line: testCase.line)
        }
    }

    func testResetStartsANewMessage() {
        var decoder = DataDecoder()
        var output: [UInt8] = []
        _ = bytes("abc\r\n.").withUnsafeBytes { decoder.decode($0, into: &output) }
        decoder.reset()
        XCTAssertEqual(decoder.decodedByteCount, 0)
        output = []
        // After reset the data starts at a line start again: "..x" is a stuffed ".x".
        let result = bytes("..x\r\n.\r\n").withUnsafeBytes { decoder.decode($0, into: &output) }
        XCTAssertEqual(result, .finished(consumed: 8))
        XCTAssertEqual(output, bytes(".x\r\n"))
    }

    func testDecoderAppendsToExistingOutput() {
        var decoder = DataDecoder()
        var output = bytes("kept")
        _ = bytes("x\r\n.\r\n").withUnsafeBytes { decoder.decode($0, into: &output) }
        XCTAssertEqual(output, bytes("keptx\r\n"))
        XCTAssertEqual(decoder.decodedByteCount, 3)
    }

    func testEveryByteValueOutsideTheMarkerPassesUnchanged() {
        let all = (0...255).map(UInt8.init).filter { $0 != 13 && $0 != 10 }
        let message = [UInt8(ascii: "x")] + all + [13, 10]
        let (decoded, end, _) = decode([message + bytes(".\r\n")])
        XCTAssertEqual(decoded, message)
        XCTAssertEqual(end, message.count + 3)
    }

    /// Random messages, stuffed as a client would, decode back to exactly the original.
    func testRoundTripOfRandomMessages() {
        var generator = SeededGenerator(seed: 2024)
        var sawStuffing = 0
        for round in 0..<3000 {
            let message = randomMessage(using: &generator, maxLines: 20)
            let wire = dotStuffed(message)
            if wire.count > message.count + 3 { sawStuffing += 1 }
            let trailing = bytes("QUIT\r\n")
            let whole = decode([wire + trailing])
            XCTAssertEqual(whole.decoded, message, "round \(round)")
            XCTAssertEqual(whole.end, wire.count, "round \(round)")
            // The same in random chunks.
            var chunks: [[UInt8]] = []
            var start = 0
            let input = wire + trailing
            while start < input.count {
                let length = Int.random(in: 1...9, using: &generator)
                chunks.append(Array(input[start..<min(input.count, start + length)]))
                start += length
            }
            let chunked = decode(chunks)
            XCTAssertEqual(chunked.decoded, message, "round \(round), chunked")
            XCTAssertEqual(chunked.end, wire.count, "round \(round), chunked")
        }
        XCTAssertGreaterThan(sawStuffing, 500, "the generator must exercise dot-stuffing")
    }

    func testDotStuffedHelperMatchesTheRFC() {
        XCTAssertEqual(dotStuffed([]), bytes(".\r\n"))
        XCTAssertEqual(dotStuffed(bytes(".\r\n..\r\na.\r\n")), bytes("..\r\n...\r\na.\r\n.\r\n"))
        XCTAssertEqual(dotStuffed(bytes("a\n.b\r\n")), bytes("a\n.b\r\n.\r\n"), "a line starts only after CRLF")
    }
}
