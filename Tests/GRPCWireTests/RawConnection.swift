import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing

/// A raw TCP (optionally TLS) connection for tests that speak HTTP/1 by hand: send bytes, look at what came back.
final class RawConnection: Sendable {
    private let channel: any Channel
    private let sink: ReceivedBytes

    private init(channel: any Channel, sink: ReceivedBytes) {
        self.channel = channel
        self.sink = sink
    }

    static func connect(
        port: Int, tls: NIOSSLContext? = nil, serverHostname: String? = nil
    ) async throws -> RawConnection {
        let sink = ReceivedBytes()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let tls {
                        try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try pipeline.addHandler(Collector(sink: sink))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, sink: sink)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(string: text)).get()
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    /// Everything received so far, as bytes.
    var receivedBytes: [UInt8] { sink.bytes }

    /// Everything received so far, as text.
    var received: String { sink.text }

    /// True once the server closed the connection.
    var isClosed: Bool { sink.isClosed }

    /// Waits (at most `timeout`) until `condition` holds for the received text; returns that text.
    func waitFor(timeout: Duration = .seconds(10), _ condition: @escaping (String) -> Bool) async -> String {
        _ = await eventually(timeout: timeout) { condition(self.sink.text) }
        return sink.text
    }

    /// Waits (at most `timeout`) for the server to close the connection; returns everything received.
    func readUntilClosed(timeout: Duration = .seconds(10)) async -> String {
        _ = await eventually(timeout: timeout) { self.sink.isClosed }
        return sink.text
    }

    func close() async {
        try? await channel.close()
    }
}

private final class ReceivedBytes: Sendable {
    private let state = Mutex<(bytes: [UInt8], closed: Bool)>(([], false))

    func append(_ bytes: [UInt8]) { state.withLock { $0.bytes += bytes } }
    func markClosed() { state.withLock { $0.closed = true } }
    var text: String { state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }
    var bytes: [UInt8] { state.withLock { $0.bytes } }
    var isClosed: Bool { state.withLock { $0.closed } }
}

private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let sink: ReceivedBytes

    init(sink: ReceivedBytes) { self.sink = sink }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        sink.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    func channelInactive(context: ChannelHandlerContext) {
        sink.markClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Runs `curl` with `arguments`; returns its exit status and standard output.
func runCurl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let curl = Process()
    curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    curl.arguments = ["--silent", "--show-error", "--max-time", "10"] + arguments
    let output = Pipe()
    curl.standardOutput = output
    curl.standardError = FileHandle.nullDevice
    try curl.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    curl.waitUntilExit()
    return (curl.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A self-signed certificate for 127.0.0.1 and localhost, made with openssl in a temporary directory.
struct SelfSignedCertificate {
    let directory: URL
    var keyPath: String { directory.appendingPathComponent("key.pem").path }
    var certificatePath: String { directory.appendingPathComponent("cert.pem").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("grpcwire-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyPath,
            "-out", certificatePath, "-days", "1", "-subj", "/CN=localhost", "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}
