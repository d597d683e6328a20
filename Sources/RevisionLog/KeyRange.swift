/// A set of keys, decoded once from etcd's `(key, range_end)` convention so the rest of the core
/// never has to remember it.
///
/// etcd's rules: an empty `range_end` means the single key; `range_end == "\0"` means every key
/// `>= key`; otherwise `[key, range_end)`, which is empty when `key >= range_end`.
public enum KeyRange: Sendable, Equatable, Hashable {
    case single([UInt8])
    /// Keys `>= start` and `< end`.
    case interval(start: [UInt8], end: [UInt8])
    /// Keys `>= start` (no upper bound).
    case fromKey([UInt8])

    public init(key: [UInt8], rangeEnd: [UInt8]) {
        if rangeEnd.isEmpty {
            self = .single(key)
        } else if rangeEnd == [0] {
            self = .fromKey(key)
        } else {
            self = .interval(start: key, end: rangeEnd)
        }
    }

    /// The first key of the range.
    public var start: [UInt8] {
        switch self {
        case .single(let key), .fromKey(let key): return key
        case .interval(let start, _): return start
        }
    }

    /// The exclusive upper bound, or nil when unbounded. A single key `k` is `[k, k+"\0")`.
    public var end: [UInt8]? {
        switch self {
        case .single(let key): return key + [0]
        case .interval(_, let end): return end
        case .fromKey: return nil
        }
    }

    /// True when no key can fall inside (etcd answers such ranges with an empty result, not an error).
    public var isEmpty: Bool {
        if case .interval(let start, let end) = self {
            return !start.lexicographicallyPrecedes(end)
        }
        return false
    }

    public func contains(_ key: [UInt8]) -> Bool {
        switch self {
        case .single(let single): return key == single
        case .fromKey(let start): return !key.lexicographicallyPrecedes(start)
        case .interval(let start, let end):
            return !key.lexicographicallyPrecedes(start) && key.lexicographicallyPrecedes(end)
        }
    }

    /// The end of the smallest range holding every key that starts with `prefix` (etcd's `GetPrefixRangeEnd`).
    public static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xff {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
