import Foundation

/// A latency-by-percentile chart (the usual HdrHistogram plot): x is the percentile on a log scale of
/// 1/(1-p) from 0% to 99.99%, y is milliseconds. One line per series.
public enum SVGChart {
    public struct Series: Sendable {
        public var name: String
        /// (percentile 0…100, milliseconds) points.
        public var points: [[Double]]

        public init(name: String, points: [[Double]]) {
            self.name = name
            self.points = points
        }
    }

    static let width = 720.0
    static let height = 420.0
    static let margin = (left: 64.0, right: 170.0, top: 40.0, bottom: 48.0)
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    /// The x axis ends at 99.99%.
    static let maximumNines = 4.0

    public static func latencyByPercentile(title: String, series: [Series]) -> String {
        let plotWidth = width - margin.left - margin.right
        let plotHeight = height - margin.top - margin.bottom
        let maximum = series.flatMap { $0.points.map { $0[1] } }.max() ?? 1
        let top = niceCeiling(max(maximum, 0.001))
        func x(_ percentile: Double) -> Double {
            let remaining = max(1 - min(percentile, 99.9999) / 100, pow(10, -maximumNines))
            return margin.left + plotWidth * min(-log10(remaining), maximumNines) / maximumNines
        }
        func y(_ milliseconds: Double) -> Double { margin.top + plotHeight * (1 - milliseconds / top) }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(Int(width / 2))" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

            """
        for (label, percentile) in [("0%", 0.0), ("90%", 90), ("99%", 99), ("99.9%", 99.9), ("99.99%", 99.99)] {
            let px = fmt(x(percentile))
            svg +=
                "<line x1=\"\(px)\" y1=\"\(fmt(margin.top))\" x2=\"\(px)\" y2=\"\(fmt(margin.top + plotHeight))\" stroke=\"#ddd\"/>\n"
            svg +=
                "<text x=\"\(px)\" y=\"\(fmt(margin.top + plotHeight + 18))\" text-anchor=\"middle\">\(label)</text>\n"
        }
        for step in 0...4 {
            let value = top * Double(step) / 4
            let py = fmt(y(value))
            svg +=
                "<line x1=\"\(fmt(margin.left))\" y1=\"\(py)\" x2=\"\(fmt(margin.left + plotWidth))\" y2=\"\(py)\" stroke=\"#ddd\"/>\n"
            svg +=
                "<text x=\"\(fmt(margin.left - 6))\" y=\"\(py)\" text-anchor=\"end\" dy=\"4\">\(label(value))</text>\n"
        }
        svg +=
            "<text x=\"\(fmt(margin.left + plotWidth / 2))\" y=\"\(fmt(height - 8))\" text-anchor=\"middle\">percentile</text>\n"
        svg +=
            "<text x=\"16\" y=\"\(fmt(margin.top + plotHeight / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(fmt(margin.top + plotHeight / 2)))\">latency (ms)</text>\n"
        for (index, line) in series.enumerated() {
            let color = colors[index % colors.count]
            let points = line.points.map { "\(fmt(x($0[0]))),\(fmt(y($0[1])))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            let legendY = margin.top + 16 + Double(index) * 18
            svg +=
                "<rect x=\"\(fmt(width - margin.right + 12))\" y=\"\(fmt(legendY - 9))\" width=\"12\" height=\"3\" fill=\"\(color)\"/>\n"
            svg +=
                "<text x=\"\(fmt(width - margin.right + 30))\" y=\"\(fmt(legendY - 4))\">\(escape(line.name))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// 1, 2 or 5 times a power of ten at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        let power = pow(10, floor(log10(value)))
        for factor in [1.0, 2, 5, 10] where factor * power >= value { return factor * power }
        return 10 * power
    }

    static func label(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: value < 0.1 ? "%.3f" : "%.2f", value)
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
