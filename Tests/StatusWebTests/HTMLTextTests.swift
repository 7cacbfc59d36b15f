import Testing
@testable import StatusWeb

@Suite struct HTMLTextTests {
    @Test func richEscapesFirstThenAddsOnlyItsOwnTags() {
        #expect(HTMLText.rich("Run `gmail-relay reauth shop` now") == "Run <code>gmail-relay reauth shop</code> now")
        #expect(HTMLText.rich("`<script>`") == "<code>&lt;script&gt;</code>")
        #expect(HTMLText.rich("see https://example.com/a?b=1&c=2.") == "see <a href=\"https://example.com/a?b=1&amp;c=2\" rel=\"noreferrer\">https://example.com/a?b=1&amp;c=2</a>.")
        #expect(HTMLText.rich("x\" onmouseover=\"alert(1)") == "x&quot; onmouseover=&quot;alert(1)")
        #expect(HTMLText.rich("https://a.example/\"><script>") == "<a href=\"https://a.example/\" rel=\"noreferrer\">https://a.example/</a>&quot;&gt;&lt;script&gt;")
        #expect(HTMLText.rich("an `unclosed code") == "an <code>unclosed code</code>")
    }

    @Test func prettyJSONKeepsGooglesKeyOrder() {
        let body = #"{"error":{"code":403,"message":"a {b} [c], \"d\": e","errors":[],"details":{}, "status" : "PERMISSION_DENIED"}}"#
        #expect(JSONPretty.format(body) == """
            {
              "error": {
                "code": 403,
                "message": "a {b} [c], \\"d\\": e",
                "errors": [],
                "details": {},
                "status": "PERMISSION_DENIED"
              }
            }
            """)
        #expect(JSONPretty.format("<html>Bad Request</html>") == nil)
        #expect(JSONPretty.format("{\"unterminated\": ") == nil)
        #expect(JSONPretty.format("[1,2]") == "[\n  1,\n  2\n]")
    }

    @Test func formsDecodeLikeBrowsersEncode() {
        #expect(StatusWebServer.parseForm("q=a+b%2Bc&csrf=x&q=second") == ["q": "a b+c", "csrf": "x"])
        #expect(StatusWebServer.parseForm("empty=&bare") == ["empty": "", "bare": ""])
    }
}
