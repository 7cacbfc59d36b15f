import MessageRewrite
import XCTest

final class HeaderSplitTests: XCTestCase {
    /// Message -> (headerEnd, bodyStart), or nil for "need more bytes".
    private let fixtures: [(message: String, whole: Bool, expected: HeaderBoundary?, line: UInt)] = [
        ("A: 1\r\nB: 2\r\n\r\nbody\r\n", true, HeaderBoundary(headerEnd: 12, bodyStart: 14), #line),
        ("A: 1\r\nB: 2\r\n\r\nbody\r\n", false, HeaderBoundary(headerEnd: 12, bodyStart: 14), #line),
        ("A: 1\nB: 2\n\nbody\n", true, HeaderBoundary(headerEnd: 10, bodyStart: 11), #line),
        ("A: 1\r\nB: 2\n\r\nbody", true, HeaderBoundary(headerEnd: 11, bodyStart: 13), #line),
        ("A: 1\nB: 2\r\n\nbody", true, HeaderBoundary(headerEnd: 11, bodyStart: 12), #line),
        // Folded lines are not blank lines; a line of white space is not either.
        ("A: 1\r\n  folded\r\n \r\nB: 2\r\n\r\n", true, HeaderBoundary(headerEnd: 25, bodyStart: 27), #line),
        // No body at all.
        ("A: 1\r\nB: 2\r\n", true, HeaderBoundary(headerEnd: 12, bodyStart: 12), #line),
        ("A: 1\r\nB: 2", true, HeaderBoundary(headerEnd: 10, bodyStart: 10), #line),
        ("A: 1\r\nB: 2\r\n\r\n", true, HeaderBoundary(headerEnd: 12, bodyStart: 14), #line),
        // Empty header: the message starts with the blank line.
        ("\r\nbody", true, HeaderBoundary(headerEnd: 0, bodyStart: 2), #line),
        ("\nbody", false, HeaderBoundary(headerEnd: 0, bodyStart: 1), #line),
        ("", true, HeaderBoundary(headerEnd: 0, bodyStart: 0), #line),
        // A partial prefix that ends inside the header.
        ("A: 1\r\nB: 2\r\n", false, nil, #line),
        ("A: 1\r\nB: 2\r\n\r", false, nil, #line),
        ("", false, nil, #line),
        // A bare CR is not a line end.
        ("A: 1\r\rB: 2\r\n\r\nx", true, HeaderBoundary(headerEnd: 12, bodyStart: 14), #line),
    ]

    func testSplitFixtures() {
        for fixture in fixtures {
            let result = splitHeader(Array(fixture.message.utf8), isWholeMessage: fixture.whole)
            XCTAssertEqual(result, fixture.expected, "message: \(fixture.message.debugDescription)", line: fixture.line)
        }
    }

    func testBoundaryCutsHeaderAndBodyExactly() {
        let message = Array("Subject: hi\r\nTo: a@example.com\r\n\r\n\r\nbody starts with an empty line".utf8)
        let boundary = splitHeader(message, isWholeMessage: true)!
        XCTAssertTrue(boundary.hasSeparator)
        XCTAssertEqual(text(Array(message[..<boundary.headerEnd])), "Subject: hi\r\nTo: a@example.com\r\n")
        XCTAssertEqual(text(Array(message[boundary.bodyStart...])), "\r\nbody starts with an empty line")
    }

    func testNoSeparatorMeansNoBody() {
        let boundary = splitHeader(Array("Subject: only a header".utf8), isWholeMessage: true)!
        XCTAssertFalse(boundary.hasSeparator)
        XCTAssertEqual(boundary.headerEnd, boundary.bodyStart)
    }
}
