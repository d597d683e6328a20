import CLibPQ
import RevisionLog

/// A statement that a connection prepares once (named, extended protocol) and then runs with binary parameters and
/// binary results: no SQL text to build or parse per call, no hex encoding of values, and one plan PostgreSQL
/// reuses. Array parameters (`unnest($1::bytea[], …)`) let one statement insert a whole write group.
struct PostgresStatement: Sendable {
    let name: String
    let sql: String
    /// Parameter type OIDs (`PostgresBinary.OID`); binary parameters need them stated.
    let parameterTypes: [UInt32]
}

extension PostgresConnection {
    /// One statement to run in a pipeline, with its binary parameters (nil = NULL).
    typealias Step = (statement: PostgresStatement, parameters: [[UInt8]?])

    /// Sends `steps` in one round trip (libpq pipeline mode) and returns each step's rows with binary values
    /// (nil = NULL). Statements this connection has not prepared yet are prepared in the same round trip. The
    /// steps run in order; when one fails the rest are skipped, and the first error is thrown once every result
    /// was read, so the connection stays usable (an explicit transaction is then aborted: roll it back).
    @discardableResult
    func pipeline(_ steps: [Step]) throws(StoreError) -> [[[[UInt8]?]]] {
        settle()
        guard let handle else { throw StoreError.stopped }
        guard PQenterPipelineMode(handle) == 1 else { throw lostOrFailed("cannot enter pipeline mode") }
        /// Each request sent, in order: a preparation (with the statement's name) or an execution.
        var sent: [(prepared: String?, sql: String)] = []
        var failure: StoreError?
        var newlyPrepared: [String] = []
        for (statement, parameters) in steps {
            if !prepared.contains(statement.name) {
                let ok = statement.parameterTypes.withUnsafeBufferPointer { types in
                    PQsendPrepare(handle, statement.name, statement.sql, Int32(types.count), types.baseAddress)
                }
                guard ok == 1 else {
                    failure = lostOrFailed("cannot send a statement")
                    break
                }
                sent.append((statement.name, statement.sql))
                newlyPrepared.append(statement.name)
                prepared.insert(statement.name)
            }
            guard Self.sendPrepared(handle, statement.name, parameters) else {
                failure = lostOrFailed("cannot send a statement")
                break
            }
            sent.append((nil, statement.sql))
        }
        if failure == nil, PQpipelineSync(handle) != 1 { failure = lostOrFailed("cannot send a pipeline") }
        var results: [[[[UInt8]?]]] = []
        if failure == nil {
            for (preparedName, sql) in sent {
                var rows: [[[UInt8]?]] = []
                // Each request's results end with a null result.
                while let result = PQgetResult(handle) {
                    defer { PQclear(result) }
                    let status = PQresultStatus(result)
                    // The server has this statement now, whatever happens to the rest of the pipeline.
                    if let preparedName, status == PGRES_COMMAND_OK { newlyPrepared.removeAll { $0 == preparedName } }
                    if status == PGRES_TUPLES_OK {
                        rows += Self.binaryRows(result)
                    } else if status != PGRES_COMMAND_OK && failure == nil {
                        failure =
                            status == PGRES_PIPELINE_ABORTED
                            ? StoreError(.backendFailure, "PostgreSQL: pipeline aborted (in: \(sql.prefix(80)))")
                            : error(result, sql: sql)
                    }
                    if !isHealthy { break }
                }
                if preparedName == nil { results.append(rows) }
                if !isHealthy { break }
            }
            if isHealthy, let sync = PQgetResult(handle) {
                if PQresultStatus(sync) != PGRES_PIPELINE_SYNC, failure == nil {
                    failure = StoreError(.backendFailure, "PostgreSQL: pipeline out of step")
                }
                PQclear(sync)
            }
        }
        if !isHealthy {
            // Whatever was prepared died with the connection; a pool replaces it.
            failure = StoreError(.unavailable, "PostgreSQL: connection lost: \(lastError)")
        } else if PQexitPipelineMode(handle) != 1 {
            failure = failure ?? StoreError(.backendFailure, "PostgreSQL: cannot leave pipeline mode: \(lastError)")
            close()
        }
        if let failure {
            // A statement whose preparation failed or never ran must be prepared again next time (one the server
            // accepted stays prepared: preparing it again would fail with "already exists").
            for name in newlyPrepared { prepared.remove(name) }
            throw failure
        }
        return results
    }

    private static func sendPrepared(_ handle: OpaquePointer, _ name: String, _ parameters: [[UInt8]?]) -> Bool {
        // Binary values may hold zero bytes, so lengths go along; every format is binary (1), results too.
        let lengths = parameters.map { Int32($0?.count ?? 0) }
        let formats = [Int32](repeating: 1, count: parameters.count)
        var storage = parameters.map { value -> UnsafeMutablePointer<CChar>? in
            guard let value else { return nil }
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(value.count, 1))
            value.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(pointer).copyMemory(
                    from: bytes.baseAddress ?? UnsafeRawPointer(pointer), byteCount: value.count)
            }
            return pointer
        }
        defer { storage.forEach { $0?.deallocate() } }
        return storage.withUnsafeMutableBufferPointer { values in
            values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                PQsendQueryPrepared(
                    handle, name, Int32(parameters.count), values.baseAddress, lengths, formats, 1) == 1
            }
        }
    }

    private static func binaryRows(_ result: OpaquePointer) -> [[[UInt8]?]] {
        var rows: [[[UInt8]?]] = []
        let columns = PQnfields(result)
        for row in 0..<PQntuples(result) {
            rows.append(
                (0..<columns).map { column in
                    if PQgetisnull(result, row, column) == 1 { return nil }
                    let length = Int(PQgetlength(result, row, column))
                    return PQgetvalue(result, row, column).withMemoryRebound(to: UInt8.self, capacity: length) {
                        Array(UnsafeBufferPointer(start: $0, count: length))
                    }
                })
        }
        return rows
    }

    private var lastError: String {
        handle.map { String(cString: PQerrorMessage($0)).trimmingTrailingNewlines } ?? "no connection"
    }

    private func lostOrFailed(_ what: String) -> StoreError {
        StoreError(isHealthy ? .backendFailure : .unavailable, "PostgreSQL: \(what): \(lastError)")
    }
}

/// PostgreSQL's binary wire formats for the types Kelson stores (big-endian integers; arrays as in array_send).
enum PostgresBinary {
    enum OID {
        static let bool: UInt32 = 16
        static let bytea: UInt32 = 17
        static let int8: UInt32 = 20
        static let int4: UInt32 = 23
        static let text: UInt32 = 25
        static let boolArray: UInt32 = 1000
        static let byteaArray: UInt32 = 1001
        static let int4Array: UInt32 = 1007
        static let int8Array: UInt32 = 1016
    }

    static func int8(_ value: Int64) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    static func int4(_ value: Int32) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    static func text(_ value: String) -> [UInt8] { Array(value.utf8) }

    /// A one-dimensional array without NULLs of `elementType`, whose elements are already encoded.
    static func array(of elementType: UInt32, _ elements: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + elements.reduce(0) { $0 + 4 + $1.count })
        func append(_ value: Int32) { withUnsafeBytes(of: value.bigEndian) { bytes += $0 } }
        append(elements.isEmpty ? 0 : 1)  // dimensions
        append(0)  // has nulls
        append(Int32(bitPattern: elementType))
        if !elements.isEmpty {
            append(Int32(elements.count))
            append(1)  // lower bound
        }
        for element in elements {
            append(Int32(element.count))
            bytes += element
        }
        return bytes
    }

    static func int8Array(_ values: [Int64]) -> [UInt8] { array(of: OID.int8, values.map(int8)) }
    static func int4Array(_ values: [Int32]) -> [UInt8] { array(of: OID.int4, values.map(int4)) }
    static func boolArray(_ values: [Bool]) -> [UInt8] { array(of: OID.bool, values.map { [$0 ? 1 : 0] }) }
    static func byteaArray(_ values: [[UInt8]]) -> [UInt8] { array(of: OID.bytea, values) }

    /// Decodes a binary `int8` (or a shorter integer) column.
    static func integer(_ bytes: [UInt8]?) throws(StoreError) -> Int64 {
        guard let bytes, [2, 4, 8].contains(bytes.count) else {
            throw StoreError(.corrupt, "expected a binary integer, got \(bytes.map { "\($0.count) bytes" } ?? "NULL")")
        }
        var value: Int64 = bytes[0] & 0x80 != 0 ? -1 : 0
        for byte in bytes { value = value << 8 | Int64(byte) }
        return value
    }

    static func bool(_ bytes: [UInt8]?) throws(StoreError) -> Bool {
        guard let bytes, bytes.count == 1 else { throw StoreError(.corrupt, "expected a binary boolean") }
        return bytes[0] != 0
    }

    static func bytes(_ value: [UInt8]?) throws(StoreError) -> [UInt8] {
        guard let value else { throw StoreError(.corrupt, "expected bytea, got NULL") }
        return value
    }
}
