import Foundation
import XCTest

@testable import KelsonBench

#if canImport(FoundationXML)
    import FoundationXML
#endif

final class ReportTests: XCTestCase {
    /// 1,000 puts of 1…1000 µs, 10 reads of 5 ms, 2 failures.
    private func sampleReport() throws -> BenchReport {
        var recorder = LatencyRecorder()
        for microseconds in 1...1_000 { recorder.record("put", nanoseconds: UInt64(microseconds) * 1_000) }
        for _ in 0..<10 { recorder.record("read", nanoseconds: 5_000_000) }
        recorder.recordError("Unavailable: connection closed")
        recorder.recordError("Unavailable: connection closed")
        let (_, options) = try XCTUnwrap(
            try BenchCommand.parseAsRoot(["put", "--clients", "4", "--conns", "2", "--val-size", "256"])
                as? any BenchCommand.WorkloadCommand
        ).workload()
        return BenchReport(
            workload: "put", options: options, endpoints: try options.parsedEndpoints(),
            parameters: ["val-size": "256"], startedAt: Date(timeIntervalSince1970: 0), seconds: 2,
            recorder: recorder, counters: ["watchers": 3], countedOperations: ["put"])
    }

    func testFiguresComeFromTheHistogram() throws {
        let report = try sampleReport()
        XCTAssertEqual(report.requests, 1_000, "only counted operations make the throughput")
        XCTAssertEqual(report.throughput, 500)
        XCTAssertEqual(report.failed, 2)
        XCTAssertEqual(report.startedAt, "1970-01-01T00:00:00Z")
        XCTAssertEqual(report.operations.map(\.name), ["put", "read"])
        let put = report.operations[0]
        XCTAssertEqual(put.count, 1_000)
        XCTAssertEqual(put.minMs, 0.001)
        XCTAssertEqual(put.maxMs, 1.0, accuracy: 0.001)
        XCTAssertEqual(put.p50Ms, 0.5, accuracy: 0.001)
        XCTAssertEqual(put.p90Ms, 0.9, accuracy: 0.001)
        XCTAssertEqual(put.p99Ms, 0.99, accuracy: 0.001)
        XCTAssertEqual(put.p999Ms, 0.999, accuracy: 0.001)
        XCTAssertEqual(put.meanMs, 0.5005, accuracy: 0.001)
        XCTAssertEqual(report.operations[1].p99Ms, 5.0, accuracy: 0.01)
        XCTAssertLessThan(put.curve.first?[0] ?? 100, 1)
        XCTAssertEqual(put.curve.last?[0], 100)
        XCTAssertEqual(put.curve.last?[1] ?? 0, 1.0, accuracy: 0.001)
    }

    func testJSONHasTheDocumentedFields() throws {
        let report = try sampleReport()
        let json = try report.jsonText()
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual(
            Set(object.keys),
            [
                "workload", "endpoints", "conns", "clients", "parameters", "startedAt", "seconds", "requests",
                "throughput", "errors", "operations", "counters",
            ])
        let operations = try XCTUnwrap(object["operations"] as? [[String: Any]])
        XCTAssertEqual(
            Set(operations[0].keys),
            ["name", "count", "minMs", "meanMs", "stddevMs", "maxMs", "p50Ms", "p90Ms", "p99Ms", "p999Ms", "curve"])
        XCTAssertEqual(object["errors"] as? [String: Int], ["Unavailable: connection closed": 2])
        XCTAssertEqual(try JSONDecoder().decode(BenchReport.self, from: Data(json.utf8)), report)
    }

    func testTextReport() throws {
        let text = try sampleReport().text
        let expectedLines = [
            "Workload: put against 127.0.0.1:2379 (2 conns, 4 clients)",
            "Parameters: val-size=256",
            "  Total:\t2.0000 secs.",
            "  Requests:\t1000",
            "  Failed:\t2",
            "  Requests/sec:\t500.0",
            "Latency of put (1000 samples), ms:",
            "  p50:\t0.500",
            "  p99.9:\t0.999",
            "Latency of read (10 samples), ms:",
            "  watchers:\t3",
            "  2×\tUnavailable: connection closed",
        ]
        let lines = text.split(separator: "\n").map(String.init)
        for line in expectedLines {
            XCTAssertTrue(lines.contains(line), "missing \(line.debugDescription) in\n\(text)")
        }
    }

    func testSVGChartIsWellFormedWithOneLinePerSeries() throws {
        let report = try sampleReport()
        let svg = SVGChart.latencyByPercentile(
            title: "put <16 clients> & more",
            series: report.operations.map { SVGChart.Series(name: $0.name, points: $0.curve) })
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")\n\(svg)")
        XCTAssertEqual(counter.counts["svg"], 1)
        XCTAssertEqual(counter.counts["polyline"], 2)
        XCTAssertTrue(svg.contains("put &lt;16 clients&gt; &amp; more"))
        XCTAssertTrue(svg.contains(">99.9%<"))
    }
}

private final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        counts[name, default: 0] += 1
    }
}
