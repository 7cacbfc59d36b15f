import SMTPProtocol
import XCTest

final class SASLTests: XCTestCase {
    /// RFC 4648 section 10.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    func testRFC4648Vectors() {
        for (plain, encoded) in Self.vectors {
            XCTAssertEqual(Base64.encode(bytes(plain)), encoded, plain)
            XCTAssertEqual(Base64.decode(encoded), bytes(plain), encoded)
        }
    }

    func testHighBitsAndTheLastAlphabetCharacters() {
        XCTAssertEqual(Base64.encode([0xFB, 0xFF, 0xBF]), "+/+/")
        XCTAssertEqual(Base64.decode("+/+/"), [0xFB, 0xFF, 0xBF])
        XCTAssertEqual(Base64.encode([0x00, 0x00, 0x00]), "AAAA")
        XCTAssertEqual(Base64.encode([0xFF]), "/w==")
    }

    func testRoundTripOfRandomBytes() {
        var generator = SeededGenerator(seed: 4648)
        for length in 0..<300 {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let encoded = Base64.encode(data)
            XCTAssertEqual(encoded.utf8.count, (length + 2) / 3 * 4)
            XCTAssertEqual(Base64.decode(encoded), data, "length \(length)")
        }
    }

    func testInvalidInputs() {
        let invalid = [
            "Z", "Zg", "Zg=", "Zm9vY",                     // length not a multiple of 4
            "Zm9v!A==", "Zm9v YQ=", "Zm9-", "Zm9_", "Zm\u{0}v", // characters outside the alphabet
            "Zmé=",                                        // non-ASCII
            "=Zg=", "Z===", "====", "Zg=a", "Zg==Zg==", "Zm8=Zm8=",  // misplaced padding
            "Zm9v\r\n",                                    // line breaks are not allowed
        ]
        for text in invalid {
            XCTAssertNil(Base64.decode(text), text.debugDescription)
        }
    }

    func testSASLResponses() {
        XCTAssertEqual(SASL.decodeResponse("="), [], "RFC 4954: '=' is the empty response")
        XCTAssertEqual(SASL.decodeResponse(""), [])
        XCTAssertEqual(SASL.decodeResponse("Y21z"), bytes("cms"))
        XCTAssertNil(SASL.decodeResponse("=="))
        XCTAssertNil(SASL.decodeResponse("*"))
    }

    func testPlainMessages() {
        func parse(_ text: String) -> [String]? {
            SASL.parsePlain(bytes(text)).map { [$0.username, $0.password] }
        }
        XCTAssertEqual(parse("\0cms\0secret"), ["cms", "secret"])
        XCTAssertEqual(parse("cms\0cms\0secret"), ["cms", "secret"], "authzid equal to authcid")
        XCTAssertEqual(parse("\0cms\0"), ["cms", ""], "an empty password is for the glue to judge")
        XCTAssertEqual(parse("\0cms\0pass word"), ["cms", "pass word"])
        XCTAssertEqual(parse("\0jörg\0pässwörd"), ["jörg", "pässwörd"])
        XCTAssertNil(parse("other\0cms\0secret"), "acting as someone else")
        XCTAssertNil(parse("\0\0secret"), "no user")
        XCTAssertNil(parse("\0cms"), "no password field")
        XCTAssertNil(parse("cms secret"))
        XCTAssertNil(parse(""))
        XCTAssertNil(SASL.parsePlain([0, 0xFF, 0, 0x61]), "user not UTF-8")
        XCTAssertNil(SASL.parsePlain([0, 0x61, 0, 0xC3]), "password not UTF-8")
    }
}
