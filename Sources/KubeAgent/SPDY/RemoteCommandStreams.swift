import Foundation
import KubeAPI
import Logging

/// The streams of an exec or attach over SPDY (`remotecommand`'s `createHTTPStreamStreams`): the client opens one
/// stream per channel, named by its `streamType` header (error, stdin, stdout, stderr, resize), and the server
/// starts once it has replied to as many as the request implies: the error stream, one per stdio stream asked for,
/// and resize with a tty from v3 on. v4 reports the outcome on the error stream as a JSON `metav1.Status`
/// (`StreamStatus`, as over WebSocket); older versions write only a failure's message.
struct RemoteCommandStreams: Sendable {
    let session: SPDYSession
    let channelProtocol: ChannelProtocol
    var error: SPDYStream?
    var stdin: SPDYStream?
    var stdout: SPDYStream?
    var stderr: SPDYStream?
    var resize: SPDYStream?

    /// Protocols served over SPDY, newest first (the base64 and v5 variants are WebSocket-only).
    static let supported: [ChannelProtocol] = [.v4, .v3, .v2, .v1]
    /// The kubelet's default `streamCreationTimeout`.
    static let creationTimeout: Duration = .seconds(30)
    /// How long the client may take to close the connection after the status, before the server closes it.
    static let closeGrace: Duration = .seconds(5)

    /// Streams expected for `options` under `channelProtocol`: the error stream plus one per stream asked for.
    static func expectedCount(_ options: StreamOptions, _ channelProtocol: ChannelProtocol) -> Int {
        let resize = options.tty && channelProtocol != .v1 && channelProtocol != .v2
        return [true, options.stdin, options.stdout, options.stderr, resize].filter { $0 }.count
    }

    /// Replies to the client's streams until `expected` have come; nil when the session ended or the time ran out
    /// first (the connection is then closed, as the kubelet gives up on it).
    static func wait(
        for expected: Int, session: SPDYSession, channelProtocol: ChannelProtocol, logger: Logger
    ) async -> RemoteCommandStreams? {
        let found = await withTaskGroup(of: RemoteCommandStreams?.self) { group in
            group.addTask {
                var streams = RemoteCommandStreams(session: session, channelProtocol: channelProtocol)
                var received = 0
                for await stream in session.incomingStreams {
                    switch stream.headers["streamtype"] {
                    case "error": streams.error = stream
                    case "stdin": streams.stdin = stream
                    case "stdout": streams.stdout = stream
                    case "stderr": streams.stderr = stream
                    case "resize": streams.resize = stream
                    default: logger.debug("exec: unexpected stream type \(stream.headers["streamtype"] ?? "")")
                    }
                    do { try await stream.reply() } catch { return nil }
                    // Counted once replied, unknown types included, as the kubelet counts them.
                    received += 1
                    if received == expected { return streams }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: creationTimeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        if found == nil {
            logger.debug("exec: timed out waiting for client to create streams")
            session.close()
        }
        return found
    }

    /// Lines of JSON `TerminalSize` objects from the resize stream (Go's `json.Encoder` ends each with a newline),
    /// passed to `apply` until the stream ends.
    func readResizes(_ apply: @escaping @Sendable (_ width: UInt16, _ height: UInt16) -> Void) async {
        guard let resize else { return }
        var pending: [UInt8] = []
        while let bytes = await resize.read() {
            pending += bytes
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                if let size = ClientMessages.terminalSize(Array(pending[..<newline])) { apply(size.width, size.height) }
                pending.removeFirst(newline + 1)
            }
            // A size is a few dozen bytes; anything longer is not one.
            if pending.count > 4096 { pending = [] }
        }
    }

    /// Ends the outputs, reports `status` on the error stream and closes it, then lets the client close the
    /// connection (it does once it has read the status) before closing it here. The kubelet resets the streams
    /// and closes at once; waiting for the client keeps a TCP reset from discarding what it has not read yet.
    func finish(_ status: StreamStatus) async {
        await stdout?.closeWrite()
        await stderr?.closeWrite()
        if let error {
            if let payload = status.payload(for: channelProtocol) { try? await error.write(payload) }
            await error.closeWrite()
        }
        await session.waitForEnd(timeout: Self.closeGrace)
        session.close()
    }
}
