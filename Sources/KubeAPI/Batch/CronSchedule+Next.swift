import Foundation

extension CronSchedule {
    /// The first time after `date` the schedule fires, reading its fields on `zone`'s wall clock (nil when none
    /// comes within five years, as robfig/cron gives up). A wall time the zone skips (spring forward) never fires
    /// and one it repeats (fall back) fires at each occurrence, which is what robfig/cron's `Next` does.
    public func next(after date: Date, in zone: TimeZone) -> Date? {
        switch rule {
        case .every(let seconds):
            return Date(timeIntervalSince1970: (date.timeIntervalSince1970).rounded(.down) + Double(seconds))
        case .fields(let minute, let hour, let dayOfMonth, let month, let dayOfWeek):
            let fields = Fields(
                minute: minute, hour: hour, dayOfMonth: dayOfMonth, month: month, dayOfWeek: dayOfWeek)
            return fields.next(after: date, in: prefixTimeZone ?? zone)
        }
    }

    private struct Fields {
        let minute: UInt64
        let hour: UInt64
        let dayOfMonth: UInt64
        let month: UInt64
        let dayOfWeek: UInt64

        /// robfig/cron's rule: when either day field began with `*`, both must match; otherwise either may.
        func dayMatches(day: Int, weekday: Int) -> Bool {
            let domMatch = dayOfMonth & (1 << UInt64(day)) != 0
            let dowMatch = dayOfWeek & (1 << UInt64(weekday)) != 0
            if dayOfMonth & CronSchedule.starBit != 0 || dayOfWeek & CronSchedule.starBit != 0 {
                return domMatch && dowMatch
            }
            return domMatch || dowMatch
        }

        /// Walks matching wall-clock minutes (as seconds since the epoch read as UTC) from a little before
        /// `date`'s wall time, turns each into the instants it names on `zone`, and keeps the earliest after
        /// `date`. Wall times run ahead of instants by at most a DST shift, so once the walk is 3 hours past the
        /// best wall time nothing earlier can come.
        func next(after date: Date, in zone: TimeZone) -> Date? {
            let instant = Int64(date.timeIntervalSince1970.rounded(.down))
            let wallNow = instant + Int64(zone.secondsFromGMT(for: date))
            let margin: Int64 = 3 * 3600
            let firstDay = Civil.days(ofWall: wallNow) - 1
            var best: (instant: Int64, wall: Int64)?
            for day in firstDay...(firstDay + 366 * 5 + 2) {
                let dayStart = day * 86400
                if let best, dayStart > best.wall + margin { break }
                let (_, monthOfYear, dayOfMonth) = Civil.date(fromDays: day)
                guard month & (1 << UInt64(monthOfYear)) != 0,
                    dayMatches(day: dayOfMonth, weekday: Civil.weekday(ofDays: day))
                else { continue }
                for hourOfDay in 0..<24 where hour & (1 << UInt64(hourOfDay)) != 0 {
                    for minuteOfHour in 0..<60 where minute & (1 << UInt64(minuteOfHour)) != 0 {
                        let wall = dayStart + Int64(hourOfDay * 3600 + minuteOfHour * 60)
                        if wall < wallNow - margin { continue }
                        if let best, wall > best.wall + margin { break }
                        for candidate in Self.instants(ofWall: wall, in: zone) where candidate > instant {
                            if best == nil || candidate < best!.instant { best = (candidate, wall) }
                        }
                    }
                }
            }
            return best.map { Date(timeIntervalSince1970: Double($0.instant)) }
        }

        /// The instants whose wall time on `zone` is `wall`: none in a gap, two in an overlap.
        static func instants(ofWall wall: Int64, in zone: TimeZone) -> [Int64] {
            var offsets: Set<Int> = []
            for probe in [wall - 86400, wall, wall + 86400] {
                offsets.insert(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(probe))))
            }
            return offsets.compactMap { offset -> Int64? in
                let candidate = wall - Int64(offset)
                let actual = zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(candidate)))
                return actual == offset ? candidate : nil
            }.sorted()
        }
    }
}

/// Proleptic Gregorian dates as days since 1970-01-01 (Howard Hinnant's algorithms).
enum Civil {
    static func days(ofWall seconds: Int64) -> Int64 {
        seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
    }

    static func date(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }

    /// 0 is Sunday (1970-01-01 was a Thursday).
    static func weekday(ofDays days: Int64) -> Int {
        Int(((days % 7) + 7 + 4) % 7)
    }
}
