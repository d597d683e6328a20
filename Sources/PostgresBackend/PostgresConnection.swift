import CLibPQ
import Glibc
import RevisionLog

/// One libpq connection to PostgreSQL. Not thread-safe: one thread at a time uses it, as with the SQLite
/// connections. Every failure is a `StoreError`: `.unavailable`-style connection problems as
/// `.backendFailure` with libpq's message, so nothing hangs and nothing is half-applied.
///
/// Text format throughout: parameters are sent as text (bytes as `bytea` hex), results read as text.
/// This is the first piece of the PostgreSQL backend (issue 5); the backend itself builds on it.
final class PostgresConnection: @unchecked Sendable {  // one thread at a time
    private var handle: OpaquePointer?

    /// Connects to `url` (`postgres://user:pass@host:port/db?sslmode=...`). libpq's `connect_timeout`
    /// bounds the attempt (default 5 s here), so an unreachable server fails instead of waiting forever.
    init(url: String, connectTimeoutSeconds: Int = 5) throws(StoreError) {
        let keywords = ["dbname", "connect_timeout"]
        let values = [url, String(connectTimeoutSeconds)]
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
            throw StoreError(.backendFailure, "cannot connect to PostgreSQL: \(message.trimmingTrailingNewlines)")
        }
    }

    deinit { close() }

    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Runs one statement with text parameters (nil = NULL) and returns its rows as text (nil = NULL).
    @discardableResult
    func query(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> [[String?]] {
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
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message =
                result.map { String(cString: PQresultErrorMessage($0)) } ?? String(cString: PQerrorMessage(handle))
            throw StoreError(.backendFailure, "PostgreSQL: \(message.trimmingTrailingNewlines) (in: \(sql.prefix(80)))")
        }
        var rows: [[String?]] = []
        for row in 0..<PQntuples(result) {
            rows.append(
                (0..<PQnfields(result)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
        }
        return rows
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
    fileprivate var trimmingTrailingNewlines: String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
