import XCTest

@testable import RelayConfig

final class CIDRTests: XCTestCase {
    func testContains() throws {
        let cases: [(network: String, address: String, expected: Bool)] = [
            ("127.0.0.0/8", "127.0.0.1", true),
            ("127.0.0.0/8", "127.255.255.254", true),
            ("127.0.0.0/8", "128.0.0.1", false),
            ("10.1.0.0/16", "10.1.200.3", true),
            ("10.1.0.0/16", "10.2.0.1", false),
            ("192.168.1.0/25", "192.168.1.127", true),
            ("192.168.1.0/25", "192.168.1.128", false),
            ("192.168.1.7", "192.168.1.7", true),  // bare address: one host
            ("192.168.1.7", "192.168.1.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "::1", false),  // families do not mix
            // IPv4-mapped IPv6 clients match IPv4 networks, as a dual-stack socket reports them.
            ("127.0.0.0/8", "::ffff:127.0.0.1", true),
            ("127.0.0.0/8", "::FFFF:7f00:1", true),
            ("10.0.0.0/8", "::ffff:11.0.0.1", false),
            // IPv6.
            ("::1/128", "::1", true),
            ("::1/128", "[::1]", true),
            ("::1/128", "0:0:0:0:0:0:0:1", true),
            ("::1/128", "::2", false),
            ("::1", "::1", true),
            ("fd00::/8", "fd12:3456::1", true),
            ("fd00::/8", "fe80::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("2001:db8::/33", "2001:db8:8000::1", false),
            ("fe80::/10", "fe80::1%eth0", true),  // the zone is not part of the address
            ("::/0", "2001:db8::1", true),
            ("::/0", "127.0.0.1", false),
            // A mapped network is the IPv4 network it names.
            ("::ffff:10.0.0.0/104", "10.9.8.7", true),
            ("::ffff:10.0.0.0/104", "::ffff:10.9.8.7", true),
            ("::ffff:10.0.0.0/104", "11.0.0.1", false),
            // Not addresses.
            ("127.0.0.0/8", "localhost", false),
            ("127.0.0.0/8", "", false),
            ("127.0.0.0/8", "127.1", false),
        ]
        for (network, address, expected) in cases {
            let cidr = try XCTUnwrap(CIDR(string: network), network)
            XCTAssertEqual(cidr.contains(address), expected, "\(network) contains \(address)")
        }
    }

    func testNormalizedDescriptionAndEquality() throws {
        let cases: [(input: String, description: String)] = [
            ("10.1.2.3/8", "10.0.0.0/8"),
            ("192.168.2.7", "192.168.2.7/32"),
            (" 10.0.0.0/8 ", "10.0.0.0/8"),
            ("::1", "::1/128"),
            ("2001:DB8:0:0::/32", "2001:db8::/32"),
            ("fe80::1234/10", "fe80::/10"),
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
            ("::ffff:192.0.2.1", "192.0.2.1/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::/0", "::/0"),
        ]
        for (input, description) in cases {
            XCTAssertEqual(CIDR(string: input)?.description, description, input)
        }
        XCTAssertEqual(CIDR(string: "10.1.2.3/8"), CIDR(string: "10.0.0.0/8"))
        XCTAssertEqual(CIDR(string: "::ffff:10.0.0.0/104"), CIDR(string: "10.0.0.0/8"))
        XCTAssertNotEqual(CIDR(string: "10.0.0.0/8"), CIDR(string: "10.0.0.0/9"))
        XCTAssertEqual(CIDR(string: "10.0.0.0/8")?.isIPv4, true)
        XCTAssertEqual(CIDR(string: "fd00::/8")?.isIPv4, false)
    }

    func testInvalid() {
        for input in [
            "", "/8", "10.0.0/8", "10.0.0.256", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.0/a",
            "::1/129", "[::1]/128", "fe80::1%eth0/64", "localhost", "10.0.0.0 /8x", "::ffff:10.0.0.0/80", "1.2.3.4.5",
        ] {
            XCTAssertNil(CIDR(string: input), input)
        }
    }

    func testMatchesAny() throws {
        let networks = try ["127.0.0.0/8", "::1/128", "10.0.0.0/8"].map { try XCTUnwrap(CIDR(string: $0)) }
        XCTAssertTrue(CIDR.matches("10.20.30.40", any: networks))
        XCTAssertTrue(CIDR.matches("::1", any: networks))
        XCTAssertTrue(CIDR.matches("::ffff:127.0.0.1", any: networks))
        XCTAssertFalse(CIDR.matches("192.168.0.1", any: networks))
        XCTAssertFalse(CIDR.matches("not-an-address", any: networks))
        XCTAssertFalse(CIDR.matches("127.0.0.1", any: []))
    }
}

final class SocketAddressSpecTests: XCTestCase {
    func testParse() {
        let cases: [(input: String, host: String, port: Int, description: String, loopback: Bool)] = [
            ("127.0.0.1:2525", "127.0.0.1", 2525, "127.0.0.1:2525", true),
            ("[::1]:2525", "::1", 2525, "[::1]:2525", true),
            ("localhost:2525", "localhost", 2525, "localhost:2525", true),
            ("LOCALHOST:1", "LOCALHOST", 1, "LOCALHOST:1", true),
            ("0.0.0.0:25", "0.0.0.0", 25, "0.0.0.0:25", false),
            ("[::]:465", "::", 465, "[::]:465", false),
            ("[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80, "[::ffff:127.0.0.1]:80", true),
            ("[fe80::1%eth0]:80", "fe80::1%eth0", 80, "[fe80::1%eth0]:80", false),
            ("relay.example.com:587", "relay.example.com", 587, "relay.example.com:587", false),
            ("smtp_relay:65535", "smtp_relay", 65535, "smtp_relay:65535", false),
            (" 127.0.0.1:2525 ", "127.0.0.1", 2525, "127.0.0.1:2525", true),
            ("127.1.2.3:9", "127.1.2.3", 9, "127.1.2.3:9", true),
            ("192.0.2.1:25", "192.0.2.1", 25, "192.0.2.1:25", false),
        ]
        for c in cases {
            guard let spec = SocketAddressSpec(string: c.input) else {
                XCTFail("did not parse \(c.input)")
                continue
            }
            XCTAssertEqual(spec.host, c.host, c.input)
            XCTAssertEqual(spec.port, c.port, c.input)
            XCTAssertEqual(spec.description, c.description, c.input)
            XCTAssertEqual(spec.isLoopback, c.loopback, c.input)
        }
    }

    func testInvalid() {
        let cases: [(input: String, error: SocketAddressSpec.ParseError)] = [
            ("nope", .notHostPort("nope")),
            ("", .notHostPort("")),
            (":2525", .notHostPort(":2525")),
            ("[::1]", .notHostPort("[::1]")),
            ("[::1:2525", .notHostPort("[::1:2525")),
            ("::1:2525", .unbracketedIPv6("::1:2525")),
            ("[127.0.0.1]:25", .badHost("[127.0.0.1]:25")),
            ("[zz::1]:25", .badHost("[zz::1]:25")),
            ("127.0.0.300:25", .badHost("127.0.0.300:25")),
            ("1.2.3:25", .badHost("1.2.3:25")),
            ("my host:25", .badHost("my host:25")),
            ("-bad.example:25", .badHost("-bad.example:25")),
            ("a..b:25", .badHost("a..b:25")),
            ("127.0.0.1:", .badPort("127.0.0.1:")),
            ("127.0.0.1:0", .badPort("127.0.0.1:0")),
            ("127.0.0.1:65536", .badPort("127.0.0.1:65536")),
            ("127.0.0.1:-1", .badPort("127.0.0.1:-1")),
            ("127.0.0.1:25x", .badPort("127.0.0.1:25x")),
            ("[::1]:99999999999999999999999", .badPort("[::1]:99999999999999999999999")),
        ]
        for (input, expected) in cases {
            XCTAssertNil(SocketAddressSpec(string: input), input)
            if case .failure(let error) = SocketAddressSpec.parse(input) {
                XCTAssertEqual(error, expected, input)
            }
        }
    }

    func testWildcardAndOverlap() throws {
        let any4 = try XCTUnwrap(SocketAddressSpec(string: "0.0.0.0:25"))
        let any6 = try XCTUnwrap(SocketAddressSpec(string: "[::]:25"))
        let local = try XCTUnwrap(SocketAddressSpec(string: "127.0.0.1:25"))
        XCTAssertTrue(any4.isWildcard)
        XCTAssertTrue(any6.isWildcard)
        XCTAssertFalse(local.isWildcard)
        XCTAssertTrue(any4.overlaps(local))
        XCTAssertTrue(local.overlaps(any6))
        XCTAssertFalse(local.overlaps(SocketAddressSpec(host: "127.0.0.1", port: 26)))
        XCTAssertFalse(local.overlaps(SocketAddressSpec(host: "127.0.0.2", port: 25)))
        XCTAssertTrue(SocketAddressSpec(host: "::1", port: 25).overlaps(SocketAddressSpec(host: "0:0::1", port: 25)))
        XCTAssertTrue(SocketAddressSpec(host: "LocalHost", port: 25).overlaps(SocketAddressSpec(host: "localhost", port: 25)))
    }
}

final class KeySuggestionTests: XCTestCase {
    func testEditDistance() {
        let cases: [(String, String, Int)] = [
            ("", "", 0), ("abc", "", 3), ("smtp", "smtp", 0), ("smpt", "smtp", 1), ("lisen", "listen", 1),
            ("kitten", "sitting", 3), ("ab", "ba", 1),
        ]
        for (a, b, expected) in cases {
            XCTAssertEqual(KeySuggestion.editDistance(Array(a.unicodeScalars), Array(b.unicodeScalars)), expected, "\(a) \(b)")
        }
    }

    func testNearest() {
        let keys = RelayConfiguration.knownKeys.map(\.name)
        XCTAssertEqual(KeySuggestion.nearest(to: "smtp.lisen", among: keys), "smtp.listen")
        XCTAssertEqual(KeySuggestion.nearest(to: "SMTP.LISTEN", among: keys), "smtp.listen")
        XCTAssertEqual(KeySuggestion.nearest(to: "delivery.mod", among: keys), "delivery.mode")
        XCTAssertEqual(KeySuggestion.nearest(to: "smtp.tls.tls_listen", among: keys), "smtp.tls_listen")
        XCTAssertNil(KeySuggestion.nearest(to: "foo", among: keys))
        XCTAssertNil(KeySuggestion.nearest(to: "totally.unrelated.key", among: keys))
    }
}
