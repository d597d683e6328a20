import Foundation

/// A CronJob's `spec.schedule`, read as kube-apiserver and kube-controller-manager read it (robfig/cron v3's
/// `ParseStandard`): five fields (minute, hour, day of month, month, day of week) of numbers, names (`jan`,
/// `mon`), ranges, steps and lists, or a descriptor (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
/// `@midnight`, `@hourly`, `@every <duration>`), optionally after a `TZ=`/`CRON_TZ=` prefix (which the API
/// server refuses, so only the parser's wording needs it). Errors carry the library's exact text, which is what
/// `kubectl` shows after `spec.schedule: Invalid value: "…": `.
public struct CronSchedule: Sendable, Hashable {
    enum Rule: Sendable, Hashable {
        /// Bit sets as robfig/cron keeps them: bit n set when value n matches; bit 63 when the field began with
        /// `*` or `?` (without a step above 1), which decides how day of month and day of week combine.
        case fields(minute: UInt64, hour: UInt64, dayOfMonth: UInt64, month: UInt64, dayOfWeek: UInt64)
        /// `@every`: a fixed delay in whole seconds (at least one).
        case every(seconds: Int64)
    }

    let rule: Rule
    /// The zone of a `TZ=`/`CRON_TZ=` prefix, if the spec had one.
    public let prefixTimeZone: TimeZone?

    static let starBit: UInt64 = 1 << 63

    public init(_ spec: String) throws(CronScheduleError) {
        guard !spec.isEmpty else { throw CronScheduleError("empty spec string") }
        var spec = spec
        var zone: TimeZone?
        if spec.hasPrefix("TZ=") || spec.hasPrefix("CRON_TZ=") {
            let equals = spec.firstIndex(of: "=")!
            let space = spec.firstIndex(of: " ") ?? spec.endIndex
            let name = String(spec[spec.index(after: equals)..<space])
            guard let loaded = TimeZones.load(name) else {
                throw CronScheduleError("provided bad location \(name): unknown time zone \(name)")
            }
            zone = loaded
            spec = String(spec[space...]).trimmingCharacters(in: .whitespaces)
        }
        prefixTimeZone = zone
        if spec.hasPrefix("@") {
            rule = try Self.descriptor(spec)
            return
        }
        let fields = spec.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(
            String.init)
        guard fields.count == 5 else {
            throw CronScheduleError(
                "expected exactly 5 fields, found \(fields.count): [\(fields.joined(separator: " "))]")
        }
        rule = .fields(
            minute: try Self.field(fields[0], .minutes), hour: try Self.field(fields[1], .hours),
            dayOfMonth: try Self.field(fields[2], .daysOfMonth), month: try Self.field(fields[3], .months),
            dayOfWeek: try Self.field(fields[4], .daysOfWeek))
    }

    struct Bounds {
        let minimum: Int
        let maximum: Int
        let names: [String: Int]

        static let minutes = Bounds(minimum: 0, maximum: 59, names: [:])
        static let hours = Bounds(minimum: 0, maximum: 23, names: [:])
        static let daysOfMonth = Bounds(minimum: 1, maximum: 31, names: [:])
        static let months = Bounds(
            minimum: 1, maximum: 12,
            names: [
                "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
                "nov": 11, "dec": 12,
            ])
        static let daysOfWeek = Bounds(
            minimum: 0, maximum: 6, names: ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6])
    }

    /// A comma-separated list of ranges (empty items are skipped, as Go's `FieldsFunc` does).
    static func field(_ text: String, _ bounds: Bounds) throws(CronScheduleError) -> UInt64 {
        var bits: UInt64 = 0
        for item in text.split(separator: ",") { bits |= try range(String(item), bounds) }
        return bits
    }

    /// `*`, `?`, `n`, `n-m`, each optionally `/step` (`n/step` means `n-max/step`).
    static func range(_ expression: String, _ bounds: Bounds) throws(CronScheduleError) -> UInt64 {
        let rangeAndStep = expression.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let lowAndHigh = rangeAndStep[0].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        var start: Int
        var end: Int
        var extra: UInt64 = 0
        if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
            start = bounds.minimum
            end = bounds.maximum
            extra = starBit
        } else {
            start = try number(lowAndHigh[0], names: bounds.names)
            switch lowAndHigh.count {
            case 1: end = start
            case 2: end = try number(lowAndHigh[1], names: bounds.names)
            default: throw CronScheduleError("too many hyphens: \(expression)")
            }
        }
        var step = 1
        switch rangeAndStep.count {
        case 1: break
        case 2:
            step = try number(rangeAndStep[1], names: [:])
            if lowAndHigh.count == 1 { end = bounds.maximum }
            if step > 1 { extra = 0 }
        default: throw CronScheduleError("too many slashes: \(expression)")
        }
        if start < bounds.minimum {
            throw CronScheduleError("beginning of range (\(start)) below minimum (\(bounds.minimum)): \(expression)")
        }
        if end > bounds.maximum {
            throw CronScheduleError("end of range (\(end)) above maximum (\(bounds.maximum)): \(expression)")
        }
        if start > end {
            throw CronScheduleError("beginning of range (\(start)) beyond end of range (\(end)): \(expression)")
        }
        if step == 0 { throw CronScheduleError("step of range should be a positive number: \(expression)") }
        var bits: UInt64 = 0
        for value in stride(from: start, through: end, by: step) { bits |= 1 << UInt64(value) }
        return bits | extra
    }

    /// A name (any case) or a non-negative number, with Go's `strconv.Atoi` wording when it is neither.
    static func number(_ text: String, names: [String: Int]) throws(CronScheduleError) -> Int {
        if let named = names[text.lowercased()] { return named }
        let digits = text.hasPrefix("+") || text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw CronScheduleError(
                "failed to parse int from \(text): strconv.Atoi: parsing \(goQuoted(text)): invalid syntax")
        }
        guard let value = Int(text), value >= Int(Int64.min), value <= Int(Int64.max) else {
            throw CronScheduleError(
                "failed to parse int from \(text): strconv.Atoi: parsing \(goQuoted(text)): value out of range")
        }
        if value < 0 { throw CronScheduleError("negative number (\(value)) not allowed: \(text)") }
        // Go's bit shift past 63 sets nothing; such numbers always fail the bounds check first.
        return value
    }

    static func descriptor(_ spec: String) throws(CronScheduleError) -> Rule {
        func all(_ bounds: Bounds) -> UInt64 {
            var bits: UInt64 = 0
            for value in bounds.minimum...bounds.maximum { bits |= 1 << UInt64(value) }
            return bits | starBit
        }
        switch spec {
        case "@yearly", "@annually":
            return .fields(minute: 1, hour: 1, dayOfMonth: 1 << 1, month: 1 << 1, dayOfWeek: all(.daysOfWeek))
        case "@monthly":
            return .fields(minute: 1, hour: 1, dayOfMonth: 1 << 1, month: all(.months), dayOfWeek: all(.daysOfWeek))
        case "@weekly":
            return .fields(minute: 1, hour: 1, dayOfMonth: all(.daysOfMonth), month: all(.months), dayOfWeek: 1)
        case "@daily", "@midnight":
            return .fields(
                minute: 1, hour: 1, dayOfMonth: all(.daysOfMonth), month: all(.months), dayOfWeek: all(.daysOfWeek))
        case "@hourly":
            return .fields(
                minute: 1, hour: all(.hours), dayOfMonth: all(.daysOfMonth), month: all(.months),
                dayOfWeek: all(.daysOfWeek))
        default:
            break
        }
        let prefix = "@every "
        guard spec.hasPrefix(prefix) else { throw CronScheduleError("unrecognized descriptor: \(spec)") }
        let text = String(spec.dropFirst(prefix.count))
        let nanoseconds: Double
        do {
            nanoseconds = try GoDuration.parse(text)
        } catch {
            throw CronScheduleError("failed to parse duration \(spec): \(error.message)")
        }
        // robfig/cron's `Every`: below a second is a second; otherwise whole seconds.
        let seconds = max(1, Int64(nanoseconds / 1e9))
        return .every(seconds: seconds)
    }

    /// Go's `%q` of a plain string (the events and errors quote schedules so).
    public static func goQuoted(_ text: String) -> String {
        var result = "\""
        for character in text.unicodeScalars {
            switch character {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            default: result.unicodeScalars.append(character)
            }
        }
        return result + "\""
    }
}

public struct CronScheduleError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Time zone names as Go's `time.LoadLocation` finds them: a file of the system's zoneinfo database ("UTC" and
/// the empty name are UTC), so an abbreviation Foundation would guess at (`PST`) is unknown, as upstream says.
public enum TimeZones {
    public static let zoneinfo = "/usr/share/zoneinfo"

    public static func load(_ name: String) -> TimeZone? {
        if name.isEmpty || name == "UTC" { return TimeZone(identifier: "UTC") }
        guard !name.hasPrefix("/"), !name.split(separator: "/").contains(".."),
            FileManager.default.fileExists(atPath: zoneinfo + "/" + name)
        else { return nil }
        return TimeZone(identifier: name)
    }
}

/// Go's `time.ParseDuration`, for `@every`: a sequence of decimal numbers with units (`1h30m`, `1.5s`), in
/// nanoseconds, with Go's error wording.
enum GoDuration {
    static let units: [String: Double] = [
        "ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
    ]

    static func parse(_ original: String) throws(CronScheduleError) -> Double {
        let quoted = CronSchedule.goQuoted(original)
        var text = Substring(original)
        var sign = 1.0
        if let first = text.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            text = text.dropFirst()
        }
        if text == "0" { return 0 }
        guard !text.isEmpty else { throw CronScheduleError("time: invalid duration \(quoted)") }
        var total = 0.0
        while !text.isEmpty {
            let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                let value = Double(number.hasPrefix(".") ? "0" + number : number + (number.hasSuffix(".") ? "0" : ""))
            else { throw CronScheduleError("time: invalid duration \(quoted)") }
            text = text.dropFirst(number.count)
            let unit = text.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard !unit.isEmpty else { throw CronScheduleError("time: missing unit in duration \(quoted)") }
            guard let scale = units[String(unit)] else {
                throw CronScheduleError(
                    "time: unknown unit \(CronSchedule.goQuoted(String(unit))) in duration \(quoted)")
            }
            text = text.dropFirst(unit.count)
            total += value * scale
        }
        return sign * total
    }
}
