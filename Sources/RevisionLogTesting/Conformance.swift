import Logging
import RevisionLog

/// One backend-independent check of the core's MVCC rules. Every backend's test target runs every
/// case (`RevisionLogConformance.cases`) on a fresh store, so the rules are proven once for all.
public struct ConformanceCase: Sendable, CustomStringConvertible {
    public let name: String
    let body: @Sendable (Store) async throws -> Void

    public var description: String { name }

    public init(_ name: String, _ body: @escaping @Sendable (Store) async throws -> Void) {
        self.name = name
        self.body = body
    }

    /// Runs the case against `store` (a fresh, empty store); throws `ConformanceFailure` on a violation.
    public func run(on store: Store) async throws { try await body(store) }
}

public enum RevisionLogConformance {
    public static let cases: [ConformanceCase] =
        keyValueCases + rangeCases + transactionCases + compactionCases + concurrencyCases + watchCases
        + watchLimitCases
        + leaseCases + maintenanceCases

    /// The configuration conformance stores must use: leases run on a `ManualLeaseClock`.
    public static func configuration() -> StoreConfiguration {
        var configuration = StoreConfiguration()
        configuration.leaseClock = ManualLeaseClock()
        return configuration
    }
}

/// A violated expectation, with where it was written.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let message: String
    public let location: String
    public var description: String { "\(location): \(message)" }
}

func expect(
    _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) throws {
    if !condition { throw ConformanceFailure(message: message(), location: "\(file):\(line)") }
}

func expectEqual<Value: Equatable>(
    _ actual: Value, _ expected: Value, _ what: String = "", file: StaticString = #fileID, line: UInt = #line
) throws {
    if actual != expected {
        throw ConformanceFailure(
            message: "\(what.isEmpty ? "" : what + ": ")expected \(expected), got \(actual)",
            location: "\(file):\(line)")
    }
}

/// Runs `body`, which must fail with `expected`, and checks the store did not change.
func expectRejected<Value>(
    _ store: Store, _ expected: StoreError.Code, file: StaticString = #fileID, line: UInt = #line,
    _ body: () async throws -> Value
) async throws {
    let before = try await snapshot(store)
    do {
        let value = try await body()
        throw ConformanceFailure(message: "expected \(expected), got \(value)", location: "\(file):\(line)")
    } catch let error as StoreError {
        try expectEqual(error.code, expected, "error", file: file, line: line)
    }
    try expectEqual(try await snapshot(store), before, "stored state after a rejected request", file: file, line: line)
}

/// Everything observable: revisions and every live key.
func snapshot(_ store: Store) async throws -> [String] {
    let revisions = try await store.revisions()
    let (revision, compacted) = (revisions.revision, revisions.compactRevision)
    let all = try await store.range(RangeRequest(range: .fromKey([0])))
    return ["rev=\(revision) compact=\(compacted)"] + all.keyValues.map { "\($0)" }
}

extension Array where Element == UInt8 {
    init(_ string: String) { self = Array(string.utf8) }
}

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

@discardableResult
func put(_ store: Store, _ key: String, _ value: String) async throws -> PutResult {
    try await store.put(PutRequest(key: bytes(key), value: bytes(value)))
}

func get(_ store: Store, _ key: String, revision: Int64 = 0) async throws -> KeyValue? {
    var request = RangeRequest(range: .single(bytes(key)))
    request.revision = revision
    return try await store.range(request).keyValues.first
}

func keys(_ result: RangeResult) -> [String] {
    result.keyValues.map { String(decoding: $0.key, as: UTF8.self) }
}

func prefix(_ string: String) -> KeyRange {
    .interval(start: bytes(string), end: KeyRange.prefixEnd(bytes(string)))
}

/// A logger for stores under test: quiet unless something is wrong.
public func conformanceLogger() -> Logger {
    var logger = Logger(label: "kelson.conformance")
    logger.logLevel = .warning
    return logger
}
