import Foundation
import KubeAPI

/// When a CronJob is due (upstream's `mostRecentScheduleTime`, `nextScheduleTimeDuration`), on its zone.
struct CronJobSchedule {
    let schedule: CronSchedule
    let zone: TimeZone

    /// The latest time the schedule fired in (`earliest`, `now`], and whether more than 100 were missed (then
    /// upstream warns about clock skew). Walking each missed time is exact but is cut short past 100: the latest
    /// is then looked for in widening windows before `now`.
    func mostRecent(after earliest: Date, upTo now: Date) -> (time: Date?, tooMany: Bool) {
        var latest: Date?
        var count = 0
        var next = schedule.next(after: earliest, in: zone)
        while let time = next, time <= now {
            latest = time
            count += 1
            if count > 100 { return (latestWithin(after: earliest, upTo: now) ?? time, true) }
            next = schedule.next(after: time, in: zone)
        }
        return (latest, false)
    }

    private func latestWithin(after earliest: Date, upTo now: Date) -> Date? {
        let windows: [TimeInterval] = [3600, 86400, 32 * 86400, 366 * 86400, 5 * 366 * 86400]
        for window in windows {
            let start = max(earliest, now.addingTimeInterval(-window))
            var latest: Date?
            var next = schedule.next(after: start, in: zone)
            var steps = 0
            while let time = next, time <= now, steps < 600_000 {
                latest = time
                steps += 1
                next = schedule.next(after: time, in: zone)
            }
            if let latest { return latest }
        }
        return nil
    }

    /// The next time after `time`, as the delay from `now` to wait (with upstream's 100 ms of slack for clock
    /// adjustments); nil when the schedule never fires again.
    func delay(toNextAfter time: Date, now: Date) -> Duration? {
        guard let next = schedule.next(after: time, in: zone) else { return nil }
        let seconds = max(0, next.timeIntervalSince(now)) + 0.1
        return .milliseconds(Int64(seconds * 1000))
    }

    /// `2006-01-02T15:04:05Z07:00` on the zone, as Go's `time.RFC3339` writes a time in a location.
    static func rfc3339(_ date: Date, in zone: TimeZone) -> String {
        let offset = zone.secondsFromGMT(for: date)
        let wall = Int64(date.timeIntervalSince1970.rounded(.down)) + Int64(offset)
        let days = wall >= 0 ? wall / 86400 : (wall - 86399) / 86400
        let secondOfDay = Int(wall - days * 86400)
        let (year, month, day) = civil(days)
        var text = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, secondOfDay / 3600,
            secondOfDay / 60 % 60, secondOfDay % 60)
        if offset == 0 {
            text += "Z"
        } else {
            let sign = offset < 0 ? "-" : "+"
            let minutes = abs(offset) / 60
            text += sign + String(format: "%02d:%02d", minutes / 60, minutes % 60)
        }
        return text
    }

    private static func civil(_ days: Int64) -> (Int, Int, Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: Double(days) * 86400)
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return (parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }

    /// `Mon, 02 Jan 2006 15:04:05 -0700` in UTC (Go's `time.RFC1123Z`), as the MissSchedule event words it.
    static func rfc1123z(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }
}
