import GRPCWire
import KubeAPI
import Logging
import NIOCore
import NIOPosix

@testable import KubeAgent

/// A GRPCWire server on 127.0.0.1 whose every HTTP request is answered by `handler` (KubeErrors as their status
/// code and Status body), shut down after `body`.
func withStreamServer<Result>(
    _ handler: @escaping @Sendable (HTTPRequest) throws(KubeError) -> HTTPResponse,
    _ body: (Int) async throws -> Result
) async throws -> Result {
    var configuration = GRPCServerConfiguration()
    configuration.port = 0
    var router = GRPCServerRouter()
    router.registerHTTPFallback(maxBodyBytes: 1024) { request, respond in
        do throws(KubeError) {
            respond(try handler(request))
        } catch {
            respond(HTTPResponse(status: error.code, body: error.status.serialized()))
        }
    }
    let server = GRPCServer(configuration: configuration, router: router)
    let address = try await server.start()
    do {
        let result = try await body(address.port!)
        await server.shutdownGracefully()
        return result
    } catch {
        await server.shutdownGracefully()
        throw error
    }
}

/// Exec on the host (no namespaces entered), as the agent's route would answer it.
@Sendable func execOnHost(_ request: HTTPRequest) throws(KubeError) -> HTTPResponse {
    let options = try StreamOptions.parse(query: request.query, requiresCommand: true)
    return try ExecSession.start(
        request: request, options: options, enter: [], environment: ["PATH": "/usr/bin:/bin", "TERM": "xterm"],
        logger: Logger(label: "test"))
}

/// A small RFC 6455 client over a NIO TCP channel: the upgrade request, masked frames out, frames in.
final class WebSocketTestClient {
    struct Frame: Equatable {
        var opcode: UInt8
        var payload: [UInt8]
    }

    private let channel: any Channel
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffered: [UInt8] = []
    private(set) var isClosed = false
    /// The HTTP response head (status line and headers).
    private(set) var head = ""

    private init(
        channel: any Channel, inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.channel = channel
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects, sends the upgrade and runs `body` once the response head has arrived (101 or not).
    static func with<Result>(
        port: Int, target: String, protocols: [String], _ body: (WebSocketTestClient) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            let client = WebSocketTestClient(channel: channel.channel, inbound: inbound, outbound: outbound)
            try await client.handshake(target: target, protocols: protocols)
            return try await body(client)
        }
    }

    private func handshake(target: String, protocols: [String]) async throws {
        var request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if !protocols.isEmpty { request += "Sec-WebSocket-Protocol: \(protocols.joined(separator: ", "))\r\n" }
        try await outbound.write(ByteBuffer(string: request + "\r\n"))
        while true {
            if let end = find([13, 10, 13, 10]) {
                head = String(decoding: buffered[..<end], as: UTF8.self)
                buffered.removeFirst(end + 4)
                return
            }
            guard try await receive() else { return }
        }
    }

    var status: Int { Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0 }

    /// The body of a non-101 answer (by its Content-Length).
    func body() async throws -> String {
        let field = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
        let length = Int(field?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
        while buffered.count < length, try await receive() {}
        return String(decoding: buffered.prefix(length), as: UTF8.self)
    }

    func send(binary payload: [UInt8]) async throws { try await send(opcode: 0x2, payload) }

    func send(opcode: UInt8, _ payload: [UInt8]) async throws {
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        var bytes: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        bytes += mask
        for (index, byte) in payload.enumerated() { bytes.append(byte ^ mask[index % 4]) }
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// The next frame; nil once the connection ended.
    func next() async throws -> Frame? {
        while true {
            if let frame = parse() { return frame }
            guard try await receive() else { return nil }
        }
    }

    /// Every data frame until the server's close frame (answered) or the end of the connection.
    func framesUntilClose() async throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try await next() {
            if frame.opcode == 0x8 {
                try? await send(opcode: 0x8, frame.payload)
                break
            }
            frames.append(frame)
        }
        return frames
    }

    /// Drops the connection without a close frame (a client that went away).
    func drop() async { try? await channel.close() }

    private func receive() async throws -> Bool {
        guard !isClosed else { return false }
        guard let chunk = try await inbound.next() else {
            isClosed = true
            return false
        }
        buffered += chunk.readableBytesView
        return true
    }

    private func parse() -> Frame? {
        guard buffered.count >= 2 else { return nil }
        var length = Int(buffered[1] & 0x7f)
        var offset = 2
        if length == 126 {
            guard buffered.count >= 4 else { return nil }
            length = Int(buffered[2]) << 8 | Int(buffered[3])
            offset = 4
        } else if length == 127 {
            guard buffered.count >= 10 else { return nil }
            length = buffered[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        guard buffered.count >= offset + length else { return nil }
        let frame = Frame(opcode: buffered[0] & 0x0f, payload: Array(buffered[offset..<offset + length]))
        buffered.removeFirst(offset + length)
        return frame
    }

    private func find(_ pattern: [UInt8]) -> Int? {
        guard buffered.count >= pattern.count else { return nil }
        return (0...(buffered.count - pattern.count)).first { Array(buffered[$0..<$0 + pattern.count]) == pattern }
    }
}

/// The frames of an exec, sorted by channel.
struct ChannelOutput {
    var channels: [UInt8: [UInt8]] = [:]
    /// How many messages came on each channel (the first empty one included).
    var counts: [UInt8: Int] = [:]

    init(_ frames: [WebSocketTestClient.Frame]) {
        for frame in frames where frame.opcode == 0x2 {
            guard let channel = frame.payload.first else { continue }
            channels[channel, default: []] += frame.payload.dropFirst()
            counts[channel, default: 0] += 1
        }
    }

    func text(_ channel: UInt8) -> String { String(decoding: channels[channel] ?? [], as: UTF8.self) }
}
