import Foundation
import RelayStore

/// The status page's charts: the send log's hourly counts (`RelayStore.hourlyCounts`) drawn as inline SVG
/// on the server, because the page runs no script (its CSP has no script-src) and loads nothing from elsewhere.
///
/// Each bar stacks sent, failed and held; failed is hatched and held dotted, and a legend names them, so
/// the chart reads without colour. The SVG is `role="img"` with a `<title>` and a `<desc>` that sums the
/// period; the partial puts every number in a visually hidden table for screen readers. Only attributes
/// are used for presentation (the CSP's `style-src 'self'` blocks `style=""`); text uses `currentColor`
/// so it follows the page's light or dark scheme.
struct StatsChart: Sendable {
    struct Bar: Sendable, Equatable {
        /// "2026-12-03 08:00 UTC" or "2026-12-03": the row header and the bar's tooltip.
        var label: String
        /// Shown under the axis for some bars ("08:00", "Dec 3"), nil for the others.
        var tick: String?
        var sent: Int
        var failed: Int
        var held: Int
        var queued: Int
        var total: Int { sent + failed + held }
    }

    /// Unique on the page: it prefixes the SVG's ids (two charts share one document).
    var id: String
    var title: String
    /// What one bar covers, for the summary: "hour" or "day".
    var unit: String
    var bars: [Bar]

    // MARK: Building

    /// One bar per hour, a tick every 6 hours.
    static func hourly(_ counts: [HourlyCounts], id: String, title: String) -> StatsChart {
        let bars = counts.map { c -> Bar in
            let hour = Calendar.utc.component(.hour, from: c.hour)
            return Bar(label: Format.hour(c.hour), tick: hour % 6 == 0 ? Format.clock(c.hour) : nil,
                       sent: c.sent, failed: c.failed, held: c.held, queued: c.queued)
        }
        return StatsChart(id: id, title: title, unit: "hour", bars: bars)
    }

    /// One bar per UTC day (the first and last may be partial), a tick every 5 days.
    static func daily(_ counts: [HourlyCounts], id: String, title: String) -> StatsChart {
        var bars: [Bar] = []
        var lastDay: Date?
        for c in counts {
            let day = Calendar.utc.startOfDay(for: c.hour)
            if day != lastDay {
                bars.append(Bar(label: Format.day(day), tick: nil, sent: 0, failed: 0, held: 0, queued: 0))
                lastDay = day
            }
            bars[bars.count - 1].sent += c.sent
            bars[bars.count - 1].failed += c.failed
            bars[bars.count - 1].held += c.held
            bars[bars.count - 1].queued += c.queued
        }
        for index in bars.indices where (bars.count - 1 - index) % 5 == 0 {
            bars[index].tick = Format.shortDay(bars[index].label)
        }
        return StatsChart(id: id, title: title, unit: "day", bars: bars)
    }

    var totals: Bar {
        bars.reduce(into: Bar(label: "total", tick: nil, sent: 0, failed: 0, held: 0, queued: 0)) {
            $0.sent += $1.sent
            $0.failed += $1.failed
            $0.held += $1.held
            $0.queued += $1.queued
        }
    }

    /// The sentence of `<desc>`: the period's sums, or that nothing happened.
    var summary: String {
        let t = totals
        guard let first = bars.first, let last = bars.last else { return "No data." }
        let period = "From \(first.label) to \(last.label)"
        if t.total == 0 && t.queued == 0 { return "\(period): no mail was accepted, sent, failed or held." }
        return "\(period): \(t.sent) sent, \(t.failed) failed, \(t.held) held, \(t.queued) accepted. The busiest \(unit) had \(maximum) messages sent, failed or held."
    }

    var maximum: Int { bars.map(\.total).max() ?? 0 }

    // MARK: SVG

    static let width = 720.0
    static let height = 220.0
    static let plot = (left: 44.0, right: 8.0, top: 30.0, bottom: 24.0)

    /// The y-axis top: the largest bar rounded up to a round number (1, 2, 5 × 10^n), at least 1.
    static func axisMaximum(_ value: Int) -> Int {
        guard value > 1 else { return 1 }
        var magnitude = 1
        while magnitude * 10 < value { magnitude *= 10 }
        for step in [1, 2, 5, 10] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    /// The bar's height in user units for a count, on an axis topped at `top`.
    static func scaled(_ count: Int, top: Int, height: Double) -> Double {
        guard top > 0, count > 0 else { return 0 }
        return (Double(min(count, top)) / Double(top) * height * 10).rounded() / 10
    }

    func svg() -> String {
        let e = HTMLText.escape
        let p = Self.plot
        let plotWidth = Self.width - p.left - p.right
        let plotHeight = Self.height - p.top - p.bottom
        let top = Self.axisMaximum(maximum)
        let slot = bars.isEmpty ? plotWidth : plotWidth / Double(bars.count)
        let barWidth = max(1, (slot * 0.8 * 10).rounded() / 10)
        let baseline = p.top + plotHeight
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" class="chart" id="\(id)" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" \
            role="img" aria-labelledby="\(id)-title \(id)-desc" preserveAspectRatio="xMidYMid meet">
            <title id="\(id)-title">\(e(title))</title>
            <desc id="\(id)-desc">\(e(summary))</desc>
            <defs>
            <pattern id="\(id)-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">\
            <rect width="6" height="6" fill="#b42318"/><rect width="2" height="6" fill="#ffffff"/></pattern>
            <pattern id="\(id)-dots" width="5" height="5" patternUnits="userSpaceOnUse">\
            <rect width="5" height="5" fill="#9a6700"/><circle cx="2.5" cy="2.5" r="1.2" fill="#ffffff"/></pattern>
            </defs>

            """
        // Legend: a swatch with its pattern and the word, so colour is never the only cue.
        let legend: [(String, String)] = [("#1a7f37", "sent"), ("url(#\(id)-hatch)", "failed (hatched)"), ("url(#\(id)-dots)", "held (dotted)")]
        var x = p.left
        for (fill, word) in legend {
            s += "<rect class=\"legend\" x=\"\(x)\" y=\"6\" width=\"14\" height=\"14\" fill=\"\(fill)\" stroke=\"currentColor\" stroke-width=\"0.5\"/>"
            s += "<text x=\"\(x + 19)\" y=\"17\" font-size=\"12\" fill=\"currentColor\">\(e(word))</text>\n"
            x += 19 + Double(word.count) * 7 + 18
        }
        // Axis: baseline, the top value and zero.
        s += "<line x1=\"\(p.left)\" y1=\"\(baseline)\" x2=\"\(Self.width - p.right)\" y2=\"\(baseline)\" stroke=\"currentColor\" stroke-width=\"1\"/>\n"
        s += "<line x1=\"\(p.left)\" y1=\"\(p.top)\" x2=\"\(Self.width - p.right)\" y2=\"\(p.top)\" stroke=\"currentColor\" stroke-opacity=\"0.2\" stroke-width=\"1\"/>\n"
        s += "<text class=\"axis-max\" x=\"\(p.left - 4)\" y=\"\(p.top + 4)\" font-size=\"11\" text-anchor=\"end\" fill=\"currentColor\">\(top)</text>\n"
        s += "<text x=\"\(p.left - 4)\" y=\"\(baseline + 4)\" font-size=\"11\" text-anchor=\"end\" fill=\"currentColor\">0</text>\n"
        if maximum == 0 {
            s += "<text class=\"empty\" x=\"\(p.left + plotWidth / 2)\" y=\"\(p.top + plotHeight / 2)\" font-size=\"13\" text-anchor=\"middle\" fill=\"currentColor\">No mail sent, failed or held in this period</text>\n"
        }
        for (index, bar) in bars.enumerated() {
            let left = ((p.left + Double(index) * slot + (slot - barWidth) / 2) * 10).rounded() / 10
            var y = baseline
            var parts = ""
            for (count, fill, word) in [(bar.sent, "#1a7f37", "sent"), (bar.failed, "url(#\(id)-hatch)", "failed"), (bar.held, "url(#\(id)-dots)", "held")] {
                let h = Self.scaled(count, top: top, height: plotHeight)
                guard h > 0 else { continue }
                y -= h
                parts += "<rect class=\"\(word)\" x=\"\(left)\" y=\"\((y * 10).rounded() / 10)\" width=\"\(barWidth)\" height=\"\(h)\" fill=\"\(fill)\"/>"
            }
            if !parts.isEmpty {
                let tip = "\(bar.label): \(bar.sent) sent, \(bar.failed) failed, \(bar.held) held, \(bar.queued) accepted"
                s += "<g><title>\(e(tip))</title>\(parts)</g>\n"
            }
            if let tick = bar.tick {
                let centre = ((left + barWidth / 2) * 10).rounded() / 10
                s += "<text x=\"\(centre)\" y=\"\(Self.height - 6)\" font-size=\"11\" text-anchor=\"middle\" fill=\"currentColor\">\(e(tick))</text>\n"
            }
        }
        s += "</svg>"
        return s
    }

    /// What the `charts` partial renders for this chart.
    func viewData() -> [String: Any] {
        let rows: [[String: Any]] = bars.map {
            ["label": $0.label, "sent": $0.sent, "failed": $0.failed, "held": $0.held, "queued": $0.queued]
        }
        let t = totals
        return [
            "id": id, "title": title, "svg": svg(), "rows": rows,
            "totals": ["sent": t.sent, "failed": t.failed, "held": t.held, "queued": t.queued],
        ]
    }

    /// The 48-hour and the 30-day chart of the overview, from the last 720 hours (one query).
    static func overviewCharts(_ counts: [HourlyCounts]) -> [[String: Any]] {
        [
            hourly(Array(counts.suffix(48)), id: "chart-48h", title: "Mail per hour, last 48 hours (UTC)").viewData(),
            daily(counts, id: "chart-30d", title: "Mail per day, last 30 days (UTC)").viewData(),
        ]
    }

    /// The partial the overview includes: each chart with its numbers as a visually hidden table.
    static let template = """
        <section class="charts" aria-label="Charts">
        {{#charts}}
        <figure class="chart-figure">
        <figcaption>{{title}}: {{totals.sent}} sent, {{totals.failed}} failed, {{totals.held}} held, {{totals.queued}} accepted</figcaption>
        {{{svg}}}
        <table class="visually-hidden">
        <caption>{{title}}</caption>
        <thead><tr><th scope="col">Period</th><th scope="col">Sent</th><th scope="col">Failed</th><th scope="col">Held</th><th scope="col">Accepted</th></tr></thead>
        <tbody>
        {{#rows}}<tr><th scope="row">{{label}}</th><td>{{sent}}</td><td>{{failed}}</td><td>{{held}}</td><td>{{queued}}</td></tr>
        {{/rows}}
        </tbody>
        </table>
        </figure>
        {{/charts}}
        </section>

        """

    /// Appended to the page's stylesheet.
    static let css = """
        .charts { display: grid; gap: 1rem; margin: 1rem 0; }
        .chart-figure { margin: 0; padding: .75rem; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
        .chart-figure figcaption { font-weight: 600; margin-bottom: .25rem; }
        svg.chart { width: 100%; height: auto; display: block; }
        .visually-hidden { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }

        """

    /// UTC labels from calendar components (a page draws up to 768 bars: no DateFormatter per label).
    enum Format {
        static func hour(_ date: Date) -> String { "\(day(date)) \(clock(date)) UTC" }
        static func clock(_ date: Date) -> String { two(Calendar.utc.component(.hour, from: date)) + ":00" }
        static func day(_ date: Date) -> String {
            let c = Calendar.utc.dateComponents([.year, .month, .day], from: date)
            return "\(c.year ?? 0)-\(two(c.month ?? 0))-\(two(c.day ?? 0))"
        }
        /// "2026-12-03" -> "Dec 3"
        static func shortDay(_ label: String) -> String {
            let parts = label.split(separator: "-")
            guard parts.count == 3, let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month) else { return label }
            return "\(months[month - 1]) \(day)"
        }

        static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

        private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
    }
}

extension Calendar {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
