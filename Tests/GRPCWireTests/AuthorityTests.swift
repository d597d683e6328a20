import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The server takes any :authority, as grpc-go does: etcdctl 3.4 sends its dial target (`http://127.0.0.1:PORT`)
/// and etcd 3.5 clients send `#initially=[...]`, both outside host[:port] syntax. The other request header checks
/// (RFC 9113 section 8) still reset a malformed request with PROTOCOL_ERROR. Requests are written frame by frame
/// with literal HPACK fields, so each test controls every header exactly.
@Suite("request :authority and malformed request headers")
struct AuthorityTests {
    static let normalFields: [(String, String)] = [
        (":method", "POST"), (":scheme", "http"), (":path", "/test.Echo/Unary"), (":authority", "127.0.0.1"),
        ("content-type", "application/grpc"), ("te", "trailers"),
    ]

    @Test(
        "a unary call is answered whatever its :authority",
        arguments: ["http://127.0.0.1:2379", "#initially=[http://127.0.0.1:2379]", "127.0.0.1:2379", ""])
    func anyAuthority(authority: String) async throws {
        var fields = Self.normalFields
        fields[3].1 = authority
        let frames = try await Self.exchange(fields)
        #expect(!frames.contains { $0.type == FrameType.resetStream && $0.streamID == 1 }, "\(frames)")
        // The echo of the empty message, then trailers ending the stream.
        #expect(frames.contains { $0.type == FrameType.data && $0.streamID == 1 && $0.payload == [0, 0, 0, 0, 0] })
        #expect(frames.contains { $0.type == FrameType.headers && $0.streamID == 1 && $0.flags & 0x1 != 0 })
    }

    @Test("a host header of any value is accepted too")
    func anyHost() async throws {
        let frames = try await Self.exchange(Self.normalFields + [("host", "http://127.0.0.1:2379")])
        #expect(frames.contains { $0.type == FrameType.data && $0.streamID == 1 && $0.payload == [0, 0, 0, 0, 0] })
    }

    @Test(
        "a malformed request is reset with PROTOCOL_ERROR",
        arguments: [
            "no :path", "no :method", "no :scheme", "empty :path", "two :path", "unknown pseudo-header",
            "pseudo-header after a regular one", "uppercase name", "connection header", "transfer-encoding",
            "te other than trailers", "NUL in :authority",
        ])
    func malformed(_ defect: String) async throws {
        var fields = Self.normalFields
        switch defect {
        case "no :path": fields.remove(at: 2)
        case "no :method": fields.remove(at: 0)
        case "no :scheme": fields.remove(at: 1)
        case "empty :path": fields[2].1 = ""
        case "two :path": fields.insert((":path", "/test.Echo/Unary"), at: 3)
        case "unknown pseudo-header": fields.insert((":status", "200"), at: 3)
        case "pseudo-header after a regular one": fields.append((":authority", "127.0.0.1"))
        case "uppercase name": fields.append(("X-Upper", "1"))
        case "connection header": fields.append(("connection", "keep-alive"))
        case "transfer-encoding": fields.append(("transfer-encoding", "chunked"))
        case "te other than trailers": fields[5].1 = "gzip"
        case "NUL in :authority": fields[3].1 = "127.0.0.1\u{0}"
        default: Issue.record("unknown case \(defect)")
        }
        let frames = try await Self.exchange(fields)
        let reset = frames.first { $0.type == FrameType.resetStream && $0.streamID == 1 }
        #expect(reset?.payload == [0, 0, 0, 1], "\(defect): \(frames)")  // PROTOCOL_ERROR
        #expect(!frames.contains { $0.type == FrameType.data && $0.streamID == 1 }, "\(defect): \(frames)")
    }

    /// Sends one request (HEADERS with `fields`, then an empty gRPC message ending the stream) to an echo server;
    /// returns the frames received until stream 1 ends or is reset.
    static func exchange(_ fields: [(String, String)]) async throws -> [Frame] {
        try await withServer(routes: registerEcho) { _, port in
            let connection = try await FrameConnection.connect(port: port)
            defer { connection.close() }
            var bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
            bytes += Frame(type: FrameType.settings, flags: 0, streamID: 0, payload: []).encoded
            var block: [UInt8] = []
            for (name, value) in fields {
                // Literal field without indexing, new name, no Huffman coding (RFC 7541 section 6.2.2).
                precondition(name.utf8.count < 127 && value.utf8.count < 127)
                block += [0, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
            }
            bytes += Frame(type: FrameType.headers, flags: 0x4, streamID: 1, payload: block).encoded
            bytes += Frame(type: FrameType.data, flags: 0x1, streamID: 1, payload: [0, 0, 0, 0, 0]).encoded
            try await connection.send(bytes)
            let ended = await eventually(timeout: .seconds(10)) {
                connection.frames.contains {
                    $0.streamID == 1
                        && ($0.type == FrameType.resetStream || ($0.type == FrameType.headers && $0.flags & 0x1 != 0))
                }
            }
            #expect(ended, "stream 1 neither ended nor was reset: \(connection.frames)")
            return connection.frames
        }
    }
}

enum FrameType {
    static let data: UInt8 = 0x0
    static let headers: UInt8 = 0x1
    static let resetStream: UInt8 = 0x3
    static let settings: UInt8 = 0x4
}

struct Frame: CustomStringConvertible {
    var type: UInt8
    var flags: UInt8
    var streamID: UInt32
    var payload: [UInt8]

    var encoded: [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags]
            + [UInt8(streamID >> 24 & 0x7f), UInt8(streamID >> 16 & 0xff), UInt8(streamID >> 8 & 0xff)]
            + [UInt8(streamID & 0xff)] + payload
    }

    var description: String { "type \(type) flags \(flags) stream \(streamID) payload \(payload.prefix(16))" }

    /// The complete frames at the start of `bytes` (after the server's connection preface, which is a frame).
    static func parse(_ bytes: [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        var offset = 0
        while bytes.count - offset >= 9 {
            let length = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            guard bytes.count - offset - 9 >= length else { break }
            let streamID = bytes[(offset + 5)..<(offset + 9)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } & 0x7fff_ffff
            frames.append(
                Frame(
                    type: bytes[offset + 3], flags: bytes[offset + 4], streamID: streamID,
                    payload: Array(bytes[(offset + 9)..<(offset + 9 + length)])))
            offset += 9 + length
        }
        return frames
    }
}

/// A plain TCP connection that sends bytes and collects what comes back as HTTP/2 frames.
final class FrameConnection: Sendable {
    private let channel: any Channel
    private let collector: ByteCollector

    private init(channel: any Channel, collector: ByteCollector) {
        self.channel = channel
        self.collector = collector
    }

    static func connect(port: Int) async throws -> FrameConnection {
        let collector = ByteCollector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return FrameConnection(channel: channel, collector: collector)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    var frames: [Frame] { Frame.parse(collector.received.withLock { $0 }) }

    func close() { channel.close(promise: nil) }
}

private final class ByteCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let received = Mutex<[UInt8]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        received.withLock { $0 += bytes }
    }
}
