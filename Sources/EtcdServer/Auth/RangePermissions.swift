import Foundation
import RevisionLog

/// One user's key permissions merged over all of its roles (etcd `auth/range_perm_cache.go`),
/// answering the same questions etcd's interval trees answer, the same way.
///
/// etcd compares keys as "bytes-affine" values in which the empty key is greater than every
/// other key: an interval with an empty end is unbounded. A permission with an empty range end
/// is the point `[key, key+"\0")`; a range end of `"\0"` means every key from `key` on.
struct RangePermissions: Sendable {
    struct Interval: Sendable {
        var start: [UInt8]
        /// Empty = unbounded (etcd's affine comparison).
        var end: [UInt8]

        static func point(_ key: [UInt8]) -> Interval { Interval(start: key, end: key + [0]) }

        /// etcd's `Interval.Compare(...) == 0`: the two overlap.
        func overlaps(_ other: Interval) -> Bool {
            let leftOf = affineCompare(start, other.start) < 0 && affineCompare(end, other.start) <= 0
            let rightOf = affineCompare(start, other.end) >= 0
            return !leftOf && !rightOf
        }
    }

    /// Sorted by start, as an interval tree visits them.
    private(set) var read: [Interval] = []
    private(set) var write: [Interval] = []

    init(_ permissions: [AuthPermission]) {
        for permission in permissions {
            let key = [UInt8](permission.key)
            let rangeEnd = [UInt8](permission.rangeEnd)
            let interval =
                rangeEnd.isEmpty ? Interval.point(key) : Interval(start: key, end: rangeEnd == [0] ? [] : rangeEnd)
            switch permission.type {
            case .read: read.append(interval)
            case .write: write.append(interval)
            case .readwrite:
                read.append(interval)
                write.append(interval)
            }
        }
        read.sort { affineCompare($0.start, $1.start) < 0 }
        write.sort { affineCompare($0.start, $1.start) < 0 }
    }

    /// etcd's `isRangeOpPermitted`: a single key (empty `rangeEnd`) needs one interval holding it;
    /// a range needs the union of the intervals it touches to cover it without a gap.
    func allows(write isWrite: Bool, key: [UInt8], rangeEnd: [UInt8]) -> Bool {
        let intervals = isWrite ? write : read
        if rangeEnd.isEmpty {
            let point = Interval.point(key)
            return intervals.contains { point.overlaps($0) }
        }
        return Self.covers(intervals, Interval(start: key, end: rangeEnd == [0] ? [] : rangeEnd))
    }

    /// etcd's `intervalTree.Contains`.
    private static func covers(_ intervals: [Interval], _ wanted: Interval) -> Bool {
        var minimumStart: [UInt8]?
        var maximumEnd: [UInt8] = []
        for interval in intervals where wanted.overlaps(interval) {
            guard minimumStart != nil else {
                minimumStart = interval.start
                maximumEnd = interval.end
                continue
            }
            if affineCompare(maximumEnd, interval.start) < 0 { return false }
            if affineCompare(interval.end, maximumEnd) > 0 { maximumEnd = interval.end }
        }
        guard let minimumStart else { return false }
        return affineCompare(maximumEnd, wanted.end) >= 0 && affineCompare(minimumStart, wanted.start) <= 0
    }
}

/// etcd's `BytesAffineComparable.Compare`: byte order, except that the empty key is the largest.
func affineCompare(_ left: [UInt8], _ right: [UInt8]) -> Int {
    if left.isEmpty { return right.isEmpty ? 0 : 1 }
    if right.isEmpty { return -1 }
    if left == right { return 0 }
    return left.lexicographicallyPrecedes(right) ? -1 : 1
}

extension KeyRange {
    /// Back to etcd's `(key, range_end)` pair (lossless: see `KeyRange.init(key:rangeEnd:)`).
    var etcdPair: (key: [UInt8], rangeEnd: [UInt8]) {
        switch self {
        case .single(let key): return (key, [])
        case .fromKey(let key): return (key, [0])
        case .interval(let start, let end): return (start, end)
        }
    }
}
