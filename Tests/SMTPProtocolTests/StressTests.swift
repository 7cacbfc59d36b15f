import SMTPProtocol
import XCTest

/// Inputs an attacker or a broken client sends: they must end in a specific reply with bounded memory.
final class StressTests: XCTestCase {
    func testOneMegabyteLineWithoutLFInChunks() {
        let limit = 4096
        let driver = SessionDriver.greeted(configuration: .test(maxLineLength: limit))
        let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 65_536)
        for _ in 0..<16 {
            driver.send(chunk)
            XCTAssertLessThanOrEqual(driver.session.pendingInputCount, limit)
        }
        XCTAssertEqual(driver.takeReplyLines(), ["500 5.5.2 Error: line too long"], "exactly one report")
        driver.send("\r\nNOOP\r\n")
        XCTAssertEqual(driver.takeReplyLines(), ["250 2.0.0 Ok"])
        XCTAssertFalse(driver.closed)
    }

    func testOneMegabyteLineInOneReceive() {
        let driver = SessionDriver.greeted(configuration: .test(maxLineLength: 4096))
        driver.send([UInt8](repeating: UInt8(ascii: "B"), count: 1 << 20))
        XCTAssertEqual(driver.session.pendingInputCount, 0)
        XCTAssertEqual(driver.takeReplyLines(), ["500 5.5.2 Error: line too long"])
        driver.send("\nNOOP\n")
        XCTAssertEqual(driver.takeReplyLines(), ["250 2.0.0 Ok"])
    }

    func testManyLongLinesEndIn421() {
        let driver = SessionDriver.greeted(configuration: .test(maxLineLength: 100))
        let line = String(repeating: "C", count: 10_000) + "\r\n"
        driver.send(line + line + line + line)
        XCTAssertEqual(driver.takeReplyLines(), [
            "500 5.5.2 Error: line too long", "500 5.5.2 Error: line too long", "500 5.5.2 Error: line too long",
            "421 4.7.0 Error: too many errors",
        ])
        XCTAssertTrue(driver.closed)
    }

    func testTenThousandPipelinedNOOPs() {
        let driver = SessionDriver.greeted()
        driver.send(String(repeating: "NOOP\r\n", count: 10_000))
        let replies = driver.takeReplyLines()
        XCTAssertEqual(replies.count, 10_000)
        XCTAssertTrue(replies.allSatisfy { $0 == "250 2.0.0 Ok" })
        XCTAssertEqual(driver.session.pendingInputCount, 0)
        // And in odd-sized chunks.
        let wire = bytes(String(repeating: "NOOP\r\n", count: 10_000))
        var start = 0
        while start < wire.count {
            driver.send(Array(wire[start..<min(wire.count, start + 1000 + 7)]))
            start += 1007
        }
        XCTAssertEqual(driver.takeReplyLines().count, 10_000)
    }

    func testLargeMessageStreamsWithoutBufferingInTheSession() {
        let driver = SessionDriver.authenticated(configuration: .test(maxMessageBytes: 8 << 20))
        _ = driver.exchange("MAIL FROM:<a@b>", "RCPT TO:<c@d>", "DATA")
        let line = bytes(".." + String(repeating: "m", count: 76) + "\r\n")  // a stuffed line: 79 bytes decoded
        var chunk: [UInt8] = []
        while chunk.count < 60_000 { chunk += line }
        var sent = 0
        while sent < 4 << 20 {
            driver.send(chunk)
            sent += chunk.count
            XCTAssertEqual(driver.session.pendingInputCount, 0)
        }
        driver.send(".\r\n")
        XCTAssertEqual(driver.takeReplyLines(), ["250 2.0.0 Ok: queued as 1"])
        let expectedSize = sent / line.count * (line.count - 1)
        XCTAssertEqual(driver.messages.first?.data.count, expectedSize)
        XCTAssertEqual(driver.messages.first?.data.prefix(3), [UInt8(ascii: "."), UInt8(ascii: "m"), UInt8(ascii: "m")])
    }

    func testPipelinedCommandsBehindALargeMessageInOneChunk() {
        // The session waits at the final dot with most of its buffer consumed: what follows must survive.
        let driver = SessionDriver.authenticated(configuration: .test(maxMessageBytes: 1 << 20))
        let body = [UInt8](repeating: UInt8(ascii: "b"), count: 200_000) + [13, 10]
        var wire = bytes("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n") + body + bytes(".\r\n")
        wire += bytes("MAIL FROM:<x@y>\r\nRCPT TO:<z@w>\r\nDATA\r\nsecond\r\n.\r\nNOOP\r\n")
        driver.send(wire)
        XCTAssertEqual(driver.takeReplyLines(), [
            "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1",
            "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 1", "250 2.0.0 Ok",
        ])
        XCTAssertEqual(driver.messages.map(\.data), [body, bytes("second\r\n")])
        XCTAssertEqual(driver.session.pendingInputCount, 0)
    }

    func testOverlongAuthResponseInOneMegabyte() {
        let driver = SessionDriver.greeted()
        XCTAssertEqual(driver.exchange("AUTH LOGIN"), ["334 VXNlcm5hbWU6"])
        driver.send([UInt8](repeating: UInt8(ascii: "Q"), count: 1 << 20) + [13, 10])
        XCTAssertEqual(driver.takeReplyLines(), ["500 5.5.2 Error: line too long"])
        XCTAssertTrue(driver.authAttempts.isEmpty)
        XCTAssertEqual(driver.exchange("NOOP"), ["250 2.0.0 Ok"])
    }
}
