import Foundation
import KubeAPI
import Testing

@Suite struct CronScheduleTests {
    static func date(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    static let utc = TimeZone(identifier: "UTC")!
    static let newYork = TimeZones.load("America/New_York")!

    func next(_ spec: String, after: String, in zone: TimeZone = utc) throws -> Date? {
        try CronSchedule(spec).next(after: Self.date(after), in: zone)
    }

    @Test func fieldsStepsRangesListsAndNames() throws {
        #expect(try next("*/15 * * * *", after: "2024-05-01T10:07:00Z") == Self.date("2024-05-01T10:15:00Z"))
        #expect(try next("*/15 * * * *", after: "2024-05-01T10:15:00Z") == Self.date("2024-05-01T10:30:00Z"))
        #expect(try next("0 9-17/4 * * *", after: "2024-05-01T13:00:00Z") == Self.date("2024-05-01T17:00:00Z"))
        #expect(try next("5,10 0 * * *", after: "2024-05-01T00:05:00Z") == Self.date("2024-05-01T00:10:00Z"))
        // Saturday 2024-05-04 → Monday 2024-05-06, in January or May only.
        #expect(try next("0 0 * jan,MAY mon-fri", after: "2024-05-04T00:00:00Z") == Self.date("2024-05-06T00:00:00Z"))
        #expect(try next("0 0 29 2 *", after: "2024-03-01T00:00:00Z") == Self.date("2028-02-29T00:00:00Z"))
        #expect(try next("0 0 30 2 *", after: "2024-03-01T00:00:00Z") == nil)
    }

    @Test func dayOfMonthOrDayOfWeekWhenNeitherIsAStar() throws {
        // Both restricted: the 13th or any Friday. 2024-09-01 is a Sunday.
        #expect(try next("0 0 13 * 5", after: "2024-09-01T00:00:00Z") == Self.date("2024-09-06T00:00:00Z"))
        #expect(try next("0 0 13 * 5", after: "2024-09-06T00:00:00Z") == Self.date("2024-09-13T00:00:00Z"))
        #expect(try next("0 0 13 * 1", after: "2024-09-10T00:00:00Z") == Self.date("2024-09-13T00:00:00Z"))
        #expect(try next("0 0 13 * 1", after: "2024-09-13T00:00:00Z") == Self.date("2024-09-16T00:00:00Z"))
        // A star in either: both must hold (Mondays only, any day of month).
        #expect(try next("0 0 * * 1", after: "2024-09-10T00:00:00Z") == Self.date("2024-09-16T00:00:00Z"))
        #expect(try next("0 0 1-31 * 1", after: "2024-09-10T00:00:00Z") == Self.date("2024-09-11T00:00:00Z"))
    }

    @Test func descriptors() throws {
        #expect(try next("@hourly", after: "2024-05-01T10:07:00Z") == Self.date("2024-05-01T11:00:00Z"))
        #expect(try next("@daily", after: "2024-05-01T10:07:00Z") == Self.date("2024-05-02T00:00:00Z"))
        #expect(try next("@midnight", after: "2024-05-01T10:07:00Z") == Self.date("2024-05-02T00:00:00Z"))
        // 2024-05-01 is a Wednesday; @weekly is Sunday midnight.
        #expect(try next("@weekly", after: "2024-05-01T10:07:00Z") == Self.date("2024-05-05T00:00:00Z"))
        #expect(try next("@monthly", after: "2024-05-01T10:07:00Z") == Self.date("2024-06-01T00:00:00Z"))
        #expect(try next("@yearly", after: "2024-05-01T10:07:00Z") == Self.date("2025-01-01T00:00:00Z"))
        #expect(try next("@annually", after: "2024-05-01T10:07:00Z") == Self.date("2025-01-01T00:00:00Z"))
        #expect(try next("@every 1h30m", after: "2024-05-01T10:07:00Z") == Self.date("2024-05-01T11:37:00Z"))
    }

    @Test func daylightSavingTimeInNewYork() throws {
        // 9:00 local is 14:00Z in winter and 13:00Z once clocks spring forward on 2024-03-10.
        #expect(
            try next("0 9 * * *", after: "2024-03-09T14:00:00Z", in: Self.newYork) == Self.date("2024-03-10T13:00:00Z"))
        // 2:30 does not exist on 2024-03-10: that day is skipped.
        #expect(
            try next("30 2 * * *", after: "2024-03-10T05:00:00Z", in: Self.newYork) == Self.date("2024-03-11T06:30:00Z")
        )
        // 1:30 happens twice on 2024-11-03 (EDT, then EST): both fire, as robfig/cron's do.
        #expect(
            try next("30 1 * * *", after: "2024-11-03T04:00:00Z", in: Self.newYork) == Self.date("2024-11-03T05:30:00Z")
        )
        #expect(
            try next("30 1 * * *", after: "2024-11-03T05:30:00Z", in: Self.newYork) == Self.date("2024-11-03T06:30:00Z")
        )
        #expect(
            try next("30 1 * * *", after: "2024-11-03T06:30:00Z", in: Self.newYork) == Self.date("2024-11-04T06:30:00Z")
        )
    }

    @Test func errorsWordedAsRobfigCron() {
        func message(_ spec: String) -> String? {
            do {
                _ = try CronSchedule(spec)
                return nil
            } catch {
                return error.message
            }
        }
        #expect(message("61 * * * *") == "end of range (61) above maximum (59): 61")
        #expect(message("* * * *") == "expected exactly 5 fields, found 4: [* * * *]")
        #expect(message("* * 0 * *") == "beginning of range (0) below minimum (1): 0")
        #expect(message("5-1 * * * *") == "beginning of range (5) beyond end of range (1): 5-1")
        #expect(message("*/0 * * * *") == "step of range should be a positive number: */0")
        #expect(message("1-2-3 * * * *") == "too many hyphens: 1-2-3")
        #expect(message("x * * * *") == "failed to parse int from x: strconv.Atoi: parsing \"x\": invalid syntax")
        #expect(message("* * * * 7") == "end of range (7) above maximum (6): 7")
        #expect(message("@often") == "unrecognized descriptor: @often")
        #expect(
            message("@every 5") == "failed to parse duration @every 5: time: missing unit in duration \"5\"")
        #expect(message("0 0 * * mon-fri") == nil)
        #expect(
            message("CRON_TZ=Nowhere/Land * * * * *")
                == "provided bad location Nowhere/Land: unknown time zone Nowhere/Land")
    }
}
