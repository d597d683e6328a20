import Glibc
import Histogram

/// Latencies of one client (or watcher), by operation kind, in microseconds; merged after the run. Not shared
/// between tasks, so recording takes no lock.
public struct LatencyRecorder: Sendable {
    public private(set) var histograms: [String: Histogram<UInt64>] = [:]
    public private(set) var errors: [String: Int] = [:]

    public init() {}

    /// Records one completed operation that took `nanoseconds`.
    public mutating func record(_ operation: String, nanoseconds: UInt64) {
        let microseconds = max(1, (nanoseconds + 500) / 1_000)
        if histograms[operation] == nil { histograms[operation] = Self.makeHistogram() }
        _ = histograms[operation]!.record(microseconds)
    }

    public mutating func recordError(_ message: String) { errors[message, default: 0] += 1 }

    public mutating func merge(_ other: LatencyRecorder) {
        for (operation, histogram) in other.histograms {
            if histograms[operation] == nil { histograms[operation] = Self.makeHistogram() }
            histograms[operation]!.add(histogram)
        }
        errors.merge(other.errors, uniquingKeysWith: +)
    }

    public var completed: Int { histograms.values.reduce(0) { $0 + Int($1.totalCount) } }
    public var failed: Int { errors.values.reduce(0, +) }

    /// 1 µs to 1 h at three significant digits.
    static func makeHistogram() -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(
            lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }
}

/// CLOCK_MONOTONIC in nanoseconds: cheap, and comparable across threads.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
