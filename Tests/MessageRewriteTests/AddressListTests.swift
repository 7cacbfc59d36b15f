import XCTest
@testable import MessageRewrite

final class AddressListTests: XCTestCase {
    /// Input -> the addr-specs found, in order.
    private let addressFixtures: [(input: String, expected: [String], line: UInt)] = [
        ("a@b.example", ["a@b.example"], #line),
        ("<a@b.example>", ["a@b.example"], #line),
        ("Jane <jane@example.com>", ["jane@example.com"], #line),
        ("Jane <jane@example.com>, bob@example.com", ["jane@example.com", "bob@example.com"], #line),
        ("\"Doe, Jane\" <jane@example.com>, \"Roe, Bob\" <bob@example.com>", ["jane@example.com", "bob@example.com"], #line),
        ("\"Quoted \\\"escaped\\\", name\" <q@example.com>", ["q@example.com"], #line),
        ("undisclosed-recipients:;", [], #line),
        ("Team: a@example.com, Bob <b@example.com>;", ["a@example.com", "b@example.com"], #line),
        ("Team: a@example.com;, c@example.com", ["a@example.com", "c@example.com"], #line),
        ("x@example.com, Empty Group:;, y@example.com", ["x@example.com", "y@example.com"], #line),
        ("a@example.com (Alice, from accounting), b@example.com", ["a@example.com", "b@example.com"], #line),
        ("a@example.com (outer (inner, with comma) still outer), b@example.com", ["a@example.com", "b@example.com"], #line),
        ("(leading comment) Carol <c@example.com> (trailing, comment)", ["c@example.com"], #line),
        ("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", ["pete@silly.test"], #line),
        ("Jörg Müller <joerg@example.de>", ["joerg@example.de"], #line),
        ("=?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@example.de>", ["joerg@example.de"], #line),
        ("=?UTF-8?Q?M=C3=BCller,_J=C3=B6rg?= <mj@example.de>, x@example.com", ["mj@example.de", "x@example.com"], #line),
        ("Spaced <  spaced@example.com  >", ["spaced@example.com"], #line),
        ("Route <@relay1.example,@relay2.example:routed@example.com>", ["routed@example.com"], #line),
        ("john . doe @ example . com", ["john.doe@example.com"], #line),
        ("\"john\"@example.com", ["john@example.com"], #line),
        ("\"john doe\"@example.com", ["\"john doe\"@example.com"], #line),
        ("\"a@b\"@example.com", ["\"a@b\"@example.com"], #line),
        ("用户@例子.广告", ["用户@例子.广告"], #line),
        ("josé@exämple.org", ["josé@exämple.org"], #line),
        ("user@[192.0.2.1]", ["user@[192.0.2.1]"], #line),
        ("John Q. Public <jqp@example.com>", ["jqp@example.com"], #line),
        ("Doe, John <jd@example.com>", ["jd@example.com"], #line),
        ("not an address, also@fine.example", ["also@fine.example"], #line),
        ("<>, <@>, @, a@, @b, ,,, ;;; :::", [], #line),
        ("Broken <a@example.com, b@example.com", ["a@example.com", "b@example.com"], #line),
        ("\"unterminated <u@example.com>", [], #line),
        ("(unterminated comment a@example.com", [], #line),
        ("a@example.com)", ["a@example.com"], #line),
        // An unclosed domain literal or quote is no address: written out it would swallow the rest.
        ("a@[192.0.2.1, b@example.com", [], #line),
        ("\"open@example.com, b@example.com", [], #line),
        ("a@b@example.com", [], #line),
        ("", [], #line),
        ("first@example.com,second@example.com;third@example.com", ["first@example.com", "second@example.com", "third@example.com"], #line),
    ]

    func testAddressLists() {
        for fixture in addressFixtures {
            let found = AddressList.parse(fixture.input).map(\.address.addrSpec)
            XCTAssertEqual(found, fixture.expected, "input: \(fixture.input)", line: fixture.line)
        }
    }

    /// Input -> (display name as written, display name for people).
    private let nameFixtures: [(input: String, raw: String?, decoded: String?, line: UInt)] = [
        ("plain@example.com", nil, nil, #line),
        ("Jane <jane@example.com>", "Jane", "Jane", #line),
        ("\"Doe, Jane\" <jane@example.com>", "\"Doe, Jane\"", "Doe, Jane", #line),
        ("\"Say \\\"hi\\\"\" <q@example.com>", "\"Say \\\"hi\\\"\"", "Say \"hi\"", #line),
        ("  My   Shop  <wp@example.org>", "My   Shop", "My Shop", #line),
        ("(c) Shop (note) <wp@example.org>", "Shop", "Shop", #line),
        ("Jörg Müller <joerg@example.de>", "Jörg Müller", "Jörg Müller", #line),
        ("=?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <joerg@example.de>", "=?UTF-8?B?SsO2cmcgTcO8bGxlcg==?=", "Jörg Müller", #line),
        ("=?UTF-8?Q?M=C3=BCller,_J=C3=B6rg?= <mj@example.de>", "=?UTF-8?Q?M=C3=BCller,_J=C3=B6rg?=", "Müller, Jörg", #line),
        ("john@old.example <j@example.com>", "\"john@old.example\"", "john@old.example", #line),
        ("Shop\\ Name <j@example.com>", "\"Shop\\\\ Name\"", "Shop\\ Name", #line),
        ("Shop (the best) Inc <j@example.com>", "Shop (the best) Inc", "Shop Inc", #line),
        ("<bare@example.com>", nil, nil, #line),
    ]

    func testDisplayNames() {
        for fixture in nameFixtures {
            let mailbox = AddressList.parse(fixture.input).first
            XCTAssertNotNil(mailbox, "input: \(fixture.input)", line: fixture.line)
            XCTAssertEqual(mailbox?.rawDisplayName.map { String(decoding: $0, as: UTF8.self) }, fixture.raw,
                           "raw name of \(fixture.input)", line: fixture.line)
            XCTAssertEqual(mailbox?.displayName, fixture.decoded, "name of \(fixture.input)", line: fixture.line)
        }
    }

    func testRenderingKeepsNameBytes() {
        let mailbox = AddressList.parse("\"Shop, Inc.\" <wp@example.org>")[0]
        XCTAssertEqual(String(decoding: mailbox.rendered, as: UTF8.self), "\"Shop, Inc.\" <wp@example.org>")
        let bare = AddressList.parse("wp@example.org (comment)")[0]
        XCTAssertEqual(String(decoding: bare.rendered, as: UTF8.self), "wp@example.org")
    }

    func testInvalidUTF8NameBytesAreKept() {
        // Latin-1 "Jörg" sent raw: not UTF-8, yet the bytes must survive untouched.
        let value: [UInt8] = [0x4A, 0xF6, 0x72, 0x67] + Array(" <j@example.de>".utf8)
        let mailbox = AddressList.parse(value).first
        XCTAssertEqual(mailbox?.address.addrSpec, "j@example.de")
        XCTAssertEqual(mailbox?.rawDisplayName, [0x4A, 0xF6, 0x72, 0x67])
    }

    func testControlBytesNeverMakeAnAddress() {
        XCTAssertEqual(AddressList.parse("\"a\r\nBcc: x\"@example.com").count, 0)
        XCTAssertEqual(AddressList.parse([0x61, 0x00, 0x40, 0x62]).map(\.address.addrSpec), ["a@b"],
                       "a NUL is skipped like white space, it never ends up inside an address")
    }

    func testEqualityIgnoresDomainCaseOnly() {
        let lower = EmailAddress(localPart: "jane", domain: "example.com")
        XCTAssertEqual(lower, EmailAddress(localPart: "jane", domain: "EXAMPLE.com"))
        XCTAssertNotEqual(lower, EmailAddress(localPart: "Jane", domain: "example.com"))
        XCTAssertTrue(lower.matchesIgnoringCase(EmailAddress(localPart: "JANE", domain: "Example.COM")))
        XCTAssertEqual(Set([lower, EmailAddress(localPart: "jane", domain: "EXAMPLE.COM")]).count, 1)
    }

    func testParsingInit() {
        XCTAssertEqual(EmailAddress(parsing: "<rcpt@example.com>")?.addrSpec, "rcpt@example.com")
        XCTAssertEqual(EmailAddress(parsing: "Name <rcpt@example.com>")?.addrSpec, "rcpt@example.com")
        XCTAssertNil(EmailAddress(parsing: "postmaster"))
        XCTAssertNil(EmailAddress(parsing: "<>"))
    }

    func testDeepNestingAndLongInputDoNotCrash() {
        let deep = String(repeating: "(", count: 100_000) + "a@example.com"
        XCTAssertEqual(AddressList.parse(deep).count, 0)
        let closed = String(repeating: "(", count: 50_000) + String(repeating: ")", count: 50_000) + " a@example.com"
        XCTAssertEqual(AddressList.parse(closed).map(\.address.addrSpec), ["a@example.com"])
        let many = (0..<5_000).map { "user\($0)@example.com" }.joined(separator: ", ")
        XCTAssertEqual(AddressList.parse(many).count, 5_000)
    }
}
