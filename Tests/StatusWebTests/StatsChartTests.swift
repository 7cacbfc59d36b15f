import Foundation
import HTTPTypes
import HummingbirdTesting
import RelayStore
import Testing
@testable import StatusWeb

@Suite struct StatsChartTests {
    static let hour = Date(timeIntervalSince1970: 1_749_999_600)  // 2025-06-15T15:00:00Z

    func counts(_ values: [(sent: Int, failed: Int, held: Int)]) -> [HourlyCounts] {
        values.enumerated().map { index, v in
            HourlyCounts(hour: Self.hour.addingTimeInterval(Double(index) * 3600), sent: v.sent, failed: v.failed, held: v.held, queued: v.sent + v.failed)
        }
    }

    /// The heights of the `<rect class="KIND" ...>` bars, in order.
    func heights(_ svg: String, _ kind: String) -> [Double] {
        svg.components(separatedBy: "<rect class=\"\(kind)\"").dropFirst().compactMap { part in
            guard let range = part.range(of: "height=\"") else { return nil }
            return Double(part[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    @Test func barsScaleToTheBusiestHourOnARoundAxis() throws {
        let chart = StatsChart.hourly(counts([(10, 0, 0), (5, 5, 0), (0, 0, 0), (2, 1, 1)]), id: "c", title: "t")
        let svg = chart.svg()
        let plotHeight = StatsChart.height - StatsChart.plot.top - StatsChart.plot.bottom
        #expect(StatsChart.axisMaximum(10) == 10)
        #expect(StatsChart.axisMaximum(11) == 20)
        #expect(StatsChart.axisMaximum(51) == 100)
        #expect(StatsChart.axisMaximum(0) == 1)
        #expect(heights(svg, "sent") == [plotHeight, plotHeight / 2, (plotHeight / 5 * 10).rounded() / 10])
        #expect(heights(svg, "failed") == [plotHeight / 2, (plotHeight / 10 * 10).rounded() / 10])
        #expect(heights(svg, "held") == [(plotHeight / 10 * 10).rounded() / 10])
        #expect(svg.contains("<text class=\"axis-max\"") && svg.contains(">10</text>"))
        #expect(!svg.contains("No mail sent"))
        // The hour with nothing draws no bar and no tooltip; the others name all four numbers.
        #expect(svg.components(separatedBy: "<g><title>").count - 1 == 3)
        #expect(svg.contains("2025-06-15 16:00 UTC: 5 sent, 5 failed, 0 held, 10 accepted"))
        // Readable without colour: patterns and a legend naming them.
        #expect(svg.contains("id=\"c-hatch\"") && svg.contains("fill=\"url(#c-hatch)\"") && svg.contains("failed (hatched)"))
        #expect(svg.contains("held (dotted)"))
        #expect(svg.contains("role=\"img\"") && svg.contains("aria-labelledby=\"c-title c-desc\""))
        #expect(svg.contains("<desc id=\"c-desc\">From 2025-06-15 15:00 UTC to 2025-06-15 18:00 UTC: 17 sent, 6 failed, 1 held, 23 accepted."))
        #expect(!svg.contains("style="), "the page's CSP blocks style attributes")
    }

    @Test func zeroDataSaysSoAndDrawsNoBars() {
        let chart = StatsChart.hourly(counts(Array(repeating: (0, 0, 0), count: 48)), id: "z", title: "Mail")
        let svg = chart.svg()
        #expect(heights(svg, "sent").isEmpty && heights(svg, "failed").isEmpty)
        #expect(svg.contains("No mail sent, failed or held in this period"))
        #expect(svg.contains("no mail was accepted, sent, failed or held."))
        #expect(svg.components(separatedBy: "font-size=\"11\" text-anchor=\"middle\"").count - 1 == 8, "a tick every 6 hours")
        let empty = StatsChart.hourly([], id: "e", title: "Mail").svg()
        #expect(empty.contains("<desc id=\"e-desc\">No data.</desc>"))
    }

    @Test func labelsAreEscaped() {
        let chart = StatsChart(id: "x", title: "<script>alert(1)</script> & \"q\"", unit: "hour", bars: [
            .init(label: "<b>bold</b>", tick: "<i>", sent: 1, failed: 0, held: 0, queued: 1),
        ])
        let svg = chart.svg()
        #expect(!svg.contains("<script>") && !svg.contains("<b>") && !svg.contains("<i>"))
        #expect(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"))
        #expect(svg.contains("&lt;b&gt;bold&lt;/b&gt;: 1 sent"))
    }

    @Test func dailyBarsSumTheirUTCDays() {
        // 15:00 on day 1 to 14:00 on day 3: 9 hours, 24 hours, 15 hours.
        let hours = (0..<48).map { HourlyCounts(hour: Self.hour.addingTimeInterval(Double($0) * 3600), sent: 1, failed: $0 == 47 ? 2 : 0) }
        let chart = StatsChart.daily(hours, id: "d", title: "days")
        #expect(chart.bars.map(\.label) == ["2025-06-15", "2025-06-16", "2025-06-17"])
        #expect(chart.bars.map(\.sent) == [9, 24, 15])
        #expect(chart.bars.map(\.failed) == [0, 0, 2])
        #expect(chart.bars.last?.tick == "Jun 17", "the newest day is labelled")
    }

    static let token = "correct-horse-battery-staple-9f8e7d"
    static let readToken = "read-only-token-for-the-plugin-4c2a"

    @Test(arguments: Setup.allCases)
    func apiStatsCountsTheLogAndBoundsHours(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        _ = try await f.addMessage(account: "shop", status: .sent, gmailID: "18c")
        _ = try await f.addMessage(account: "shop", status: .held, problem: .grantRevoked)
        let app = try f.server(token: Self.token, readToken: Self.readToken).application(listen: .init(host: "127.0.0.1", port: 0))
        try await app.test(setup.testing) { client in
            let read = headers([("Authorization", "Bearer \(Self.readToken)")])
            let response = try await client.execute(uri: "/api/stats?hours=48", method: .get, headers: read)
            #expect(response.status == .ok)
            let json = try #require(try response.json() as? [String: Any])
            #expect(json["hours"] as? Int == 48)
            let buckets = try #require(json["buckets"] as? [[String: Any]])
            #expect(buckets.count == 48)
            #expect(buckets.last?["sent"] as? Int == 1 && buckets.last?["held"] as? Int == 1 && buckets.last?["queued"] as? Int == 2)
            let totals = try #require(json["totals"] as? [String: Int])
            #expect(totals == ["sent": 1, "failed": 0, "held": 1, "queued": 2])
            #expect((json["from"] as? String).flatMap(ISO8601.date) == (buckets.first?["hour"] as? String).flatMap(ISO8601.date))
            #expect(try await client.execute(uri: "/api/stats", method: .get, headers: read).json() as? [String: Any] != nil)
            #expect((try await client.execute(uri: "/api/stats?hours=720", method: .get, headers: read).json() as? [String: Any])?["hours"] as? Int == 720)
            for bad in ["0", "721", "-1", "1e2", "abc", "99999999999999999999", "%2048"] {
                let refused = try await client.execute(uri: "/api/stats?hours=\(bad)", method: .get, headers: read)
                #expect(refused.status == .badRequest, "hours=\(bad)")
                #expect(refused.text.contains("hours must be a number from 1 to 720"))
            }
            #expect(try await client.execute(uri: "/api/stats", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/api/stats", method: .post, headers: read).status != .ok)
        }
    }

    @Test(arguments: Setup.allCases)
    func theOverviewDrawsBothChartsWithTheirNumbers(setup: Setup) async throws {
        let f = try Fixture()
        try await f.addAccount("shop")
        for _ in 0..<3 {
            _ = try await f.addMessage(account: "shop", status: .sent, gmailID: "18c")
        }
        _ = try await f.addMessage(account: "shop", status: .failed, problem: .messageRejected)
        try await f.app().test(setup.testing) { client in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok)
            let html = page.text
            #expect(html.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"chart-48h\""))
            #expect(html.contains("id=\"chart-30d\""))
            #expect(html.contains("Mail per hour, last 48 hours (UTC): 3 sent, 1 failed, 0 held, 4 accepted"))
            #expect(html.contains("<table class=\"visually-hidden\">"))
            #expect(html.contains("<td>3</td><td>1</td><td>0</td><td>4</td>"))
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            let css = try await client.execute(uri: "/style.css", method: .get)
            #expect(css.text.contains(".visually-hidden"))
        }
    }
}
