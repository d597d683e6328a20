import CLibPQ
import Glibc
import RevisionLog

/// One libpq connection to PostgreSQL. Not thread-safe: one thread at a time uses it, as with the SQLite
/// connections. Every failure is a `StoreError`: a lost or refused connection is `.unavailable` (retry later),
/// anything the server rejected is `.backendFailure` with PostgreSQL's message. libpq's `connect_timeout`
/// and TCP keepalives bound every wait, so nothing hangs.
///
/// Text format throughout: parameters are sent as text (bytes as `bytea` hex), results read as text.
final class PostgresConnection: @unchecked Sendable {  // one thread at a time
    private(set) var handle: OpaquePointer?
    /// Names of the `PostgresStatement`s prepared on this connection (see `pipeline`).
    var prepared: Set<String> = []
    /// A statement went out through `send(withoutWaiting:)` and its answer is not read yet (see `settle`).
    private var unanswered = false

    /// Connects to `url` (`postgres://user:pass@host:port/db?sslmode=...`). libpq's `connect_timeout`
    /// bounds the attempt (default 5 s here), so an unreachable server fails instead of waiting forever.
    init(url: String, connectTimeoutSeconds: Int = 5) throws(StoreError) {
        // Keepalives notice a server that vanished without closing the socket (a host crash, a cut cable).
        let keywords = ["dbname", "connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count"]
        let values = [url, String(connectTimeoutSeconds), "5", "2", "3"]
        var keywordPointers = keywords.map { strdup($0) } + [nil]
        var valuePointers = values.map { strdup($0) } + [nil]
        defer {
            keywordPointers.forEach { free($0) }
            valuePointers.forEach { free($0) }
        }
        // expand_dbname = 1: "dbname" may be a whole connection URL, whose settings win over the others
        // unless the URL leaves them out (connect_timeout).
        let connection = keywordPointers.withUnsafeMutableBufferPointer { keywordBuffer in
            valuePointers.withUnsafeMutableBufferPointer { valueBuffer in
                keywordBuffer.baseAddress!.withMemoryRebound(
                    to: UnsafePointer<CChar>?.self, capacity: keywords.count + 1
                ) {
                    keywordBase in
                    valueBuffer.baseAddress!.withMemoryRebound(
                        to: UnsafePointer<CChar>?.self, capacity: values.count + 1
                    ) {
                        valueBase in
                        PQconnectdbParams(keywordBase, valueBase, 1)
                    }
                }
            }
        }
        handle = connection
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            PQfinish(connection)
            handle = nil
            throw StoreError(.unavailable, "cannot connect to PostgreSQL: \(message.trimmingTrailingNewlines)")
        }
    }

    deinit { close() }

    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// False once the connection to the server is lost; a pool then replaces it.
    var isHealthy: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Runs one or more `;`-separated statements without parameters (the simple query protocol, one round
    /// trip) and returns the rows of the last one. Takes no parameters: use it for fixed SQL.
    @discardableResult
    func execute(_ sql: String) throws(StoreError) -> [[String?]] {
        settle()
        guard let handle else { throw StoreError.stopped }
        let result = PQexec(handle, sql)
        // PQexec keeps only the last result; on an error it is the error.
        defer { PQclear(result) }
        return try rows(result, sql: sql)
    }

    /// Runs one statement with text parameters (nil = NULL) and returns its rows as text (nil = NULL).
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> [[String?]] {
        settle()
        guard let handle else { throw StoreError.stopped }
        var pointers = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { pointers.forEach { free($0) } }
        let result = pointers.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { base in
                base.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: parameters.count) { converted in
                    PQexecParams(handle, sql, Int32(parameters.count), nil, converted, nil, nil, 0)
                }
            } ?? PQexecParams(handle, sql, 0, nil, nil, nil, nil, 0)
        }
        defer { PQclear(result) }
        return try rows(result, sql: sql)
    }

    /// Sends `sql` and returns without waiting for its answer, which the next call reads (`settle`): a read
    /// transaction's COMMIT, whose round trip then overlaps the caller's work instead of adding to it. Its outcome
    /// does not matter (a read-only transaction has nothing to lose); a lost connection shows in `isHealthy`.
    func send(withoutWaiting sql: String) {
        settle()
        guard let handle else { return }
        if PQsendQuery(handle, sql) == 1 { unanswered = true }
    }

    /// Reads and drops the answer of a statement sent with `send(withoutWaiting:)`, if any.
    func settle() {
        guard unanswered else { return }
        unanswered = false
        guard let handle else { return }
        while let result = PQgetResult(handle) { PQclear(result) }
    }

    private func rows(_ result: OpaquePointer?, sql: String) throws(StoreError) -> [[String?]] {
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw error(result, sql: sql) }
        var rows: [[String?]] = []
        for row in 0..<PQntuples(result) {
            rows.append(
                (0..<PQnfields(result)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
        }
        return rows
    }

    /// The error a failed result reports: `.unavailable` when the server is away, else `.backendFailure`.
    func error(_ result: OpaquePointer?, sql: String) -> StoreError {
        let message =
            result.map { String(cString: PQresultErrorMessage($0)) }
            ?? handle.map { String(cString: PQerrorMessage($0)) } ?? "no connection"
        let state = result.flatMap { PQresultErrorField($0, 67 /* PG_DIAG_SQLSTATE */) }.map { String(cString: $0) }
        // Class 08 (connection exception), 57P01-57P03 (shutdown, crash, cannot connect now), or a socket
        // that is gone: the server is away, not the statement wrong.
        let lost = !isHealthy || state?.hasPrefix("08") == true || state?.hasPrefix("57P") == true
        return StoreError(
            lost ? .unavailable : .backendFailure,
            "PostgreSQL: \(message.trimmingTrailingNewlines) (in: \(sql.prefix(80)))")
    }

    /// `bytes` as a `bytea` text parameter (hex format).
    static func byteaParameter(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]("\\x".utf8)
        text.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Decodes a `bytea` result in hex format (`\x…`); nil when it is not.
    static func bytea(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            return nil
        }
        func nibble(_ character: UInt8) -> UInt8? {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
