import CNGHTTP2
import NIOCore

/// nghttp2 frame types, flags and error codes in the Swift types nghttp2's structs use: C enums import as
/// structs with `UInt32` (or `Int32` for negative codes) raw values, while frame header fields are `UInt8`.
enum HTTP2Constants {
    static let frameData = UInt8(NGHTTP2_DATA.rawValue)
    static let frameHeaders = UInt8(NGHTTP2_HEADERS.rawValue)
    static let frameRSTStream = UInt8(NGHTTP2_RST_STREAM.rawValue)
    static let frameSettings = UInt8(NGHTTP2_SETTINGS.rawValue)
    static let framePing = UInt8(NGHTTP2_PING.rawValue)
    static let frameGoaway = UInt8(NGHTTP2_GOAWAY.rawValue)
    static let flagEndStream = UInt8(NGHTTP2_FLAG_END_STREAM.rawValue)
    static let flagAck = UInt8(NGHTTP2_FLAG_ACK.rawValue)
    static let flagNone = UInt8(NGHTTP2_FLAG_NONE.rawValue)
    static let errorDeferred = Int(NGHTTP2_ERR_DEFERRED.rawValue)
    static let errorTemporalCallbackFailure = Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    static let dataFlagEOF = NGHTTP2_DATA_FLAG_EOF.rawValue
    static let dataFlagNoEndStream = NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
    static let noError = NGHTTP2_NO_ERROR.rawValue
    static let cancel = NGHTTP2_CANCEL.rawValue
    static let protocolError = NGHTTP2_PROTOCOL_ERROR.rawValue
    static let refusedStream = NGHTTP2_REFUSED_STREAM.rawValue

    /// Stream-level initial window we advertise: 1 MiB, so a 1.5 MiB request needs one WINDOW_UPDATE round.
    static let initialStreamWindowBytes: UInt32 = 1 << 20
    /// Connection-level window: shared by all streams of a connection.
    static let connectionWindowBytes: Int32 = 16 << 20
    /// Output collected from nghttp2 is written in ByteBuffers of about this size.
    static let writeChunkBytes = 64 * 1024
}

/// Helpers around one `nghttp2_session` (an `OpaquePointer`), shared by the server and client handlers.
///
/// Flow control is manual (`no_auto_window_update`): the handler returns window with `nghttp2_session_consume*`
/// once it has taken the bytes, so a slow streaming consumer stops the peer instead of growing a buffer.
/// nghttp2 still answers PING and SETTINGS itself; every `mem_recv` and every submit must be followed by
/// draining `mem_send` so those answers go out promptly (Go peers send a BDP PING with most DATA frames).
enum HTTP2Session {
    static func make(
        isServer: Bool,
        userData: UnsafeMutableRawPointer,
        setCallbacks: (OpaquePointer) -> Void
    ) -> OpaquePointer {
        var callbacks: OpaquePointer?
        precondition(nghttp2_session_callbacks_new(&callbacks) == 0, "nghttp2: out of memory")
        defer { nghttp2_session_callbacks_del(callbacks) }
        setCallbacks(callbacks!)
        var option: OpaquePointer?
        precondition(nghttp2_option_new(&option) == 0, "nghttp2: out of memory")
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_no_auto_window_update(option, 1)
        // nghttp2's HTTP messaging checks reject an :authority that is not host[:port], but grpc-go clients send
        // their dial target there (etcdctl 3.4: `http://127.0.0.1:2379`; etcd 3.5 clients:
        // `#initially=[http://127.0.0.1:2379]`) and grpc-go's server takes any value. The server does those checks
        // itself instead (`RequestHeaderCheck`), with :authority and host left free.
        if isServer { nghttp2_option_set_no_http_messaging(option, 1) }
        var session: OpaquePointer?
        let rc =
            isServer
            ? nghttp2_session_server_new2(&session, callbacks, userData, option)
            : nghttp2_session_client_new2(&session, callbacks, userData, option)
        precondition(rc == 0 && session != nil, "nghttp2: cannot create session")
        return session!
    }

    /// Submits our SETTINGS and raises the connection window above the 64 KiB default.
    static func submitSettings(_ session: OpaquePointer, _ settings: [(nghttp2_settings_id, UInt32)]) {
        let entries = settings.map { nghttp2_settings_entry(settings_id: Int32($0.0.rawValue), value: $0.1) }
        _ = nghttp2_submit_settings(session, HTTP2Constants.flagNone, entries, entries.count)
        _ = nghttp2_session_set_local_window_size(
            session, HTTP2Constants.flagNone, 0, HTTP2Constants.connectionWindowBytes)
    }

    /// Feeds received bytes; returns nghttp2's result (negative on a connection-fatal error).
    static func receive(_ session: OpaquePointer, _ buffer: ByteBuffer) -> Int {
        buffer.withUnsafeReadableBytes { bytes in
            nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
    }

    /// Moves everything nghttp2 wants to send into the channel (unflushed). Returns the number of bytes written,
    /// or a negative nghttp2 error. `mem_send`'s buffer is valid only until the next session call, so it is
    /// copied at once.
    static func drainOutput(_ session: OpaquePointer, into context: ChannelHandlerContext) -> Int {
        var buffer: ByteBuffer?
        var total = 0
        while true {
            var data: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &data)
            if count < 0 {
                if let buffer { context.write(NIOAny(buffer), promise: nil) }
                return count
            }
            if count == 0 { break }
            total += count
            if buffer == nil {
                buffer = context.channel.allocator.buffer(capacity: max(count, 4096))
            }
            buffer!.writeBytes(UnsafeRawBufferPointer(start: data, count: count))
            if buffer!.readableBytes >= HTTP2Constants.writeChunkBytes {
                context.write(NIOAny(buffer!), promise: nil)
                buffer = nil
            }
        }
        if let buffer { context.write(NIOAny(buffer), promise: nil) }
        return total
    }

    /// True once nghttp2 has nothing left to read or write (after GOAWAY with no open streams, or a fatal error).
    static func isDone(_ session: OpaquePointer) -> Bool {
        nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0
    }
}

/// A header entry whose name and value live in immortal storage, so nghttp2 need not copy them.
func staticHeader(_ name: StaticString, _ value: StaticString) -> nghttp2_nv {
    nghttp2_nv(
        name: UnsafeMutablePointer(mutating: name.utf8Start),
        value: UnsafeMutablePointer(mutating: value.utf8Start),
        namelen: name.utf8CodeUnitCount,
        valuelen: value.utf8CodeUnitCount,
        flags: UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue))
}

/// Header fields for one submit call: fixed entries (immortal storage) and owned name/value bytes laid out in
/// one array, turned into an `nghttp2_nv` array that points into it for the duration of the call (nghttp2 copies
/// what it keeps). Order is kept: HTTP/2 requires pseudo-headers first.
struct HeaderBlock {
    private enum Field {
        case fixed(nghttp2_nv)
        case owned(Int, Int, Int, Int)  // name start, name length, value start, value length
    }

    private var bytes: [UInt8] = []
    private var fields: [Field] = []

    mutating func add(_ fixed: nghttp2_nv) { fields.append(.fixed(fixed)) }

    mutating func add(_ fixed: [nghttp2_nv]) {
        for entry in fixed { fields.append(.fixed(entry)) }
    }

    mutating func add(_ name: String, _ value: String) {
        let nameStart = bytes.count
        bytes.append(contentsOf: name.utf8)
        let valueStart = bytes.count
        bytes.append(contentsOf: value.utf8)
        fields.append(.owned(nameStart, valueStart - nameStart, valueStart, bytes.count - valueStart))
    }

    mutating func add(_ name: StaticString, bytes value: [UInt8]) {
        let nameStart = bytes.count
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        let valueStart = bytes.count
        bytes.append(contentsOf: value)
        fields.append(.owned(nameStart, valueStart - nameStart, valueStart, bytes.count - valueStart))
    }

    /// Calls `body` with the fields as one contiguous `nghttp2_nv` array.
    func withNameValues<Result>(_ body: (UnsafePointer<nghttp2_nv>, Int) -> Result) -> Result {
        var nameValues: [nghttp2_nv] = []
        nameValues.reserveCapacity(fields.count)
        return bytes.withUnsafeBufferPointer { storage in
            let base = UnsafeMutablePointer(mutating: storage.baseAddress)
            for field in fields {
                switch field {
                case .fixed(let entry):
                    nameValues.append(entry)
                case .owned(let nameStart, let nameLength, let valueStart, let valueLength):
                    nameValues.append(
                        nghttp2_nv(
                            name: base! + nameStart, value: base! + valueStart, namelen: nameLength,
                            valuelen: valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
                }
            }
            return nameValues.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }
}

/// Byte comparison of a received header name or value against a literal.
@inline(__always)
func headerEquals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    bytes.count == literal.utf8CodeUnitCount
        && bytes.elementsEqual(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
}

/// The request header checks nghttp2's HTTP messaging made (nghttp2 1.52 `nghttp2_http.c`), made by the server
/// itself because that option is off (see `HTTP2Session.make`). The one difference: :authority and host may hold
/// any value without NUL, CR or LF, as grpc-go accepts. Content-length is not checked against DATA: gRPC frames
/// its messages itself. The state is the pseudo-headers seen so far in one header block; it fits in a word, so
/// the server keeps it in nghttp2's per-stream user data.
struct RequestHeaderCheck: Equatable {
    enum Verdict {
        case accept
        /// A regular field nghttp2 used to drop silently: bad characters in its name or value.
        case ignore
        /// A malformed request (RFC 9113 section 8.1.1): the stream is reset with PROTOCOL_ERROR.
        case reject
    }

    private struct Seen: OptionSet {
        let rawValue: UInt
        static let method = Seen(rawValue: 1 << 0)
        static let path = Seen(rawValue: 1 << 1)
        static let scheme = Seen(rawValue: 1 << 2)
        static let authority = Seen(rawValue: 1 << 3)
        static let regular = Seen(rawValue: 1 << 4)
        /// Always set, so the stored word is never zero (a null user-data pointer means "nothing seen").
        static let started = Seen(rawValue: 1 << 5)
    }

    private var seen: Seen

    init() { seen = .started }

    /// The state kept as a pointer-sized word (nghttp2 stream user data); nil means a fresh header block.
    init(storedWord: UnsafeMutableRawPointer?) {
        seen = Seen(rawValue: UInt(bitPattern: storedWord)).union(.started)
    }

    var storedWord: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: seen.rawValue) }

    /// True once :method, :path and :scheme have all arrived (nghttp2 required the three for every non-CONNECT
    /// request; Kelson serves no CONNECT).
    var isComplete: Bool { seen.isSuperset(of: [.method, .path, .scheme]) }

    /// Checks one field of a request's header block, in arrival order.
    mutating func check(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Verdict {
        let namePointer = name.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let valuePointer = value.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let isPseudo = name.first == UInt8(ascii: ":")
        if nghttp2_check_header_name(namePointer, name.count) == 0 {
            let hasUppercase = name.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
            if isPseudo || hasUppercase { return .reject }
            seen.insert(.regular)
            return .ignore
        }
        if isPseudo {
            let field: Seen
            let valueValid: Bool
            if headerEquals(name, ":method") {
                field = .method
                valueValid = nghttp2_check_method(valuePointer, value.count) != 0
            } else if headerEquals(name, ":path") {
                field = .path
                valueValid = value.count > 0 && nghttp2_check_path(valuePointer, value.count) != 0
            } else if headerEquals(name, ":scheme") {
                field = .scheme
                valueValid = value.count > 0 && nghttp2_check_header_value_rfc9113(valuePointer, value.count) != 0
            } else if headerEquals(name, ":authority") {
                field = .authority
                valueValid = nghttp2_check_header_value(valuePointer, value.count) != 0
            } else {
                return .reject  // unknown pseudo-header (:protocol too: extended CONNECT is not enabled)
            }
            guard valueValid, !seen.contains(.regular), !seen.contains(field) else { return .reject }
            seen.insert(field)
            return .accept
        }
        seen.insert(.regular)
        if headerEquals(name, "host") {
            return nghttp2_check_header_value(valuePointer, value.count) != 0 ? .accept : .ignore
        }
        if Self.isConnectionSpecific(name) { return .reject }
        if headerEquals(name, "te"), !Self.isTrailers(value) { return .reject }
        return nghttp2_check_header_value_rfc9113(valuePointer, value.count) != 0 ? .accept : .ignore
    }

    /// Fields RFC 9113 section 8.2.2 forbids in HTTP/2.
    private static func isConnectionSpecific(_ name: UnsafeRawBufferPointer) -> Bool {
        headerEquals(name, "connection") || headerEquals(name, "keep-alive") || headerEquals(name, "proxy-connection")
            || headerEquals(name, "transfer-encoding") || headerEquals(name, "upgrade")
    }

    /// `te` may only carry `trailers` (compared without regard to case, as nghttp2 did).
    private static func isTrailers(_ value: UnsafeRawBufferPointer) -> Bool {
        let expected: StaticString = "trailers"
        guard value.count == expected.utf8CodeUnitCount else { return false }
        return zip(value, UnsafeBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount))
            .allSatisfy { $0 | 0x20 == $1 }
    }
}
