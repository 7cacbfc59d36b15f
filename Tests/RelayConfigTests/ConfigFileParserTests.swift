import XCTest

@testable import RelayConfig

final class ConfigFileParserTests: XCTestCase {
    private func entries(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String: RawValue] {
        do {
            var result: [String: RawValue] = [:]
            for item in try ConfigFileParser.parse(text, fileName: "config.toml") {
                if case .entry(let key, _, _, let value, _) = item { result[key] = value }
            }
            return result
        } catch {
            XCTFail("unexpected error: \(error)", file: file, line: line)
            return [:]
        }
    }

    func testValueForms() {
        let cases: [(text: String, expected: RawValue)] = [
            (#"k = "plain""#, .string("plain")),
            (#"k = "a \"quoted\" word""#, .string(#"a "quoted" word"#)),
            (#"k = "back\\slash""#, .string(#"back\slash"#)),
            (#"k = "line\nbreak\ttab""#, .string("line\nbreak\ttab")),
            (#"k = "\u00e9\U0001F600""#, .string("é😀")),
            (#"k = 'C:\literal\n'"#, .string(#"C:\literal\n"#)),
            (#"k = """#, .string("")),
            ("k = 42", .integer(42)),
            ("k = -7", .integer(-7)),
            ("k = 36_700_160", .integer(36_700_160)),
            ("k = true", .boolean(true)),
            ("k = false", .boolean(false)),
            (#"k = ["a", 'b']"#, .array(["a", "b"])),
            ("k = []", .array([])),
            ("k = 127.0.0.1:2525", .bare("127.0.0.1:2525")),
            ("k = abc", .bare("abc")),
            ("k = 1__0", .bare("1__0")),
            ("k = 99999999999999999999999", .bare("99999999999999999999999")),
            (#"k = "x" # trailing comment"#, .string("x")),
            ("k = 5 # trailing comment", .integer(5)),
            (#"k = "has # inside""#, .string("has # inside")),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(entries(text)["k"], expected, text)
        }
    }

    func testSectionsPrefixKeysAndDottedKeysWork() throws {
        let text = """
            # top
            data.dir = "/var/lib/relay"

            [smtp]
            listen = "0.0.0.0:25"
              [smtp.tls]   # indented header with a comment
            cert = "/c.pem"
            [ web ]
            listen . port = "x"
            """
        let items = try ConfigFileParser.parse(text, fileName: "config.toml")
        XCTAssertEqual(items, [
            .entry(key: "data.dir", writtenKey: "data.dir", section: nil, value: .string("/var/lib/relay"), line: 2),
            .section(name: "smtp", line: 4),
            .entry(key: "smtp.listen", writtenKey: "listen", section: "smtp", value: .string("0.0.0.0:25"), line: 5),
            .section(name: "smtp.tls", line: 6),
            .entry(key: "smtp.tls.cert", writtenKey: "cert", section: "smtp.tls", value: .string("/c.pem"), line: 7),
            .section(name: "web", line: 8),
            .entry(key: "web.listen.port", writtenKey: "listen.port", section: "web", value: .string("x"), line: 9),
        ])
    }

    func testMultiLineArrayKeepsLineNumbersOfWhatFollows() throws {
        let text = """
            nets = [
              "10.0.0.0/8",   # office
              # a comment line
              "192.168.0.0/16",
            ]
            after = 1
            """
        let items = try ConfigFileParser.parse(text, fileName: "config.toml")
        XCTAssertEqual(items, [
            .entry(key: "nets", writtenKey: "nets", section: nil, value: .array(["10.0.0.0/8", "192.168.0.0/16"]), line: 1),
            .entry(key: "after", writtenKey: "after", section: nil, value: .integer(1), line: 6),
        ])
    }

    func testCRLFAndByteOrderMark() throws {
        let items = try ConfigFileParser.parse("\u{FEFF}a = 1\r\n\r\nb = \"x\"\r\n", fileName: "config.toml")
        XCTAssertEqual(items, [
            .entry(key: "a", writtenKey: "a", section: nil, value: .integer(1), line: 1),
            .entry(key: "b", writtenKey: "b", section: nil, value: .string("x"), line: 3),
        ])
    }

    func testSyntaxErrorsNameTheLine() {
        let cases: [(text: String, expected: String)] = [
            ("a = 1\nlisten \"x\"", #"config.toml:2: expected "=" after the key listen"#),
            ("a = 1\n\nlisten =", #"config.toml:3: listen: expected a value after "=""#),
            ("listen = # nothing", #"config.toml:1: listen: expected a value after "=""#),
            ("x = \"open", #"config.toml:1: unterminated string: a closing " is missing"#),
            ("x = 'open", "config.toml:1: unterminated string: a closing ' is missing"),
            ("x = \"a\nb\"", #"config.toml:1: unterminated string: a closing " is missing"#),
            (#"x = "C:\data""#, #"config.toml:1: unknown escape \d in a string; write \\ for a backslash or use 'single quotes'"#),
            (#"x = "\u12""#, #"config.toml:1: a \u escape needs 4 hex digits of a valid code point"#),
            (#"x = "a" "b""#, #"config.toml:1: unexpected text after the value of x: "\"b\"""#),
            ("[smtp\nx = 1", #"config.toml:1: the section header [smtp needs a closing "]""#),
            ("[smtp] x = 1", #"config.toml:1: unexpected text after the section header [smtp]: "x = 1""#),
            ("[[smtp]]", "config.toml:1: arrays of tables ([[...]]) are not supported; use [section] headers"),
            ("[]", #"config.toml:1: expected a key, a [section] or a comment, got "]""#),
            ("= 1", #"config.toml:1: expected a key, a [section] or a comment, got "= 1""#),
            (#""quoted" = 1"#, #"config.toml:1: quoted keys are not supported; keys use letters, digits, "_" and "-""#),
            ("smtp. = 1", #"config.toml:1: expected a key part after "." in smtp."#),
            ("x = {a = 1}", "config.toml:1: x: inline tables ({...}) are not supported; use a [section] header"),
            ("x = \"\"\"\nlong\n\"\"\"", #"config.toml:1: x: multi-line strings (""") are not supported"#),
            ("x = [\"a\",\n\"b\"", #"config.toml:1: x: unterminated array: a closing "]" is missing"#),
            ("x = [\"a\" \"b\"]", #"config.toml:1: x: expected "," or "]" after an array item"#),
            ("x = [1, 2]", #"config.toml:1: x: an array may hold only quoted strings, as in ["a", "b"]"#),
            ("[smtp]\nx = [\"a\"] y", #"config.toml:2: unexpected text after the value of smtp.x: "y""#),
        ]
        for (text, expected) in cases {
            do {
                _ = try ConfigFileParser.parse(text, fileName: "config.toml")
                XCTFail("expected a syntax error for \(text)")
            } catch {
                XCTAssertEqual(error.description, expected, text)
                XCTAssertEqual(error.kind, .syntax, text)
            }
        }
    }

    /// Over-long and odd input ends in a result or a located error, never a crash or a hang.
    func testStressInputs() {
        let long = String(repeating: "a", count: 100_000)
        XCTAssertEqual(entries("k = \"\(long)\"")["k"], .string(long))
        let manyItems = "k = [" + Array(repeating: "\"x\"", count: 10_000).joined(separator: ",") + "]"
        XCTAssertEqual(entries(manyItems)["k"], .array(Array(repeating: "x", count: 10_000)))
        XCTAssertThrowsError(try ConfigFileParser.parse(String(repeating: "[", count: 10_000), fileName: "f"))
        XCTAssertThrowsError(try ConfigFileParser.parse("k = \"\\", fileName: "f"))
        XCTAssertThrowsError(try ConfigFileParser.parse("k = [\"a\",", fileName: "f"))
    }
}
