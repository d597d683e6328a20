import Foundation
import Testing

@testable import KubeServer

@Suite struct APITimeTests {
    @Test(arguments: [
        "1970-01-01T00:00:00Z", "2026-12-05T19:52:00Z", "2000-02-29T23:59:59Z", "1999-12-31T12:00:00Z",
        "2024-03-01T00:00:01Z", "2100-02-28T06:07:08Z", "1969-07-20T20:17:40Z",
    ])
    func readsWholeSecondsAsFoundationDoes(_ text: String) throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        #expect(APITime.parse(text) == formatter.date(from: text))
        #expect(APITime.format(try #require(APITime.parse(text))) == text)
    }

    @Test func readsFractionsOffsetsAndRefusesNonsense() throws {
        let micro = try #require(APITime.parse("2026-12-05T19:52:00.250000Z"))
        #expect(
            abs(
                micro.timeIntervalSince1970
                    - (try #require(APITime.parse("2026-12-05T19:52:00Z"))).timeIntervalSince1970 - 0.25) < 1e-6)
        #expect(APITime.parse("2026-12-05T20:52:00+01:00") == APITime.parse("2026-12-05T19:52:00Z"))
        #expect(APITime.parse("2026-13-05T19:52:00Z") == nil)
        #expect(APITime.parse("yesterday") == nil)
        #expect(APITime.parse("2026-12-05T19:52:00.Z") == nil)
    }
}
