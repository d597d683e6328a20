import GRPCWire
import KubeAPI
import Logging

/// A running container as attach sees it: its output as it is written, and its stdin. The container implements it.
public protocol AttachableContainer: Sendable {
    /// Whether the container has a terminal (`tty: true` in its spec): then its output is one stream (1).
    var tty: Bool { get }
    /// Output from now on, as (channel 1 stdout or 2 stderr, bytes); finishes when the container exits. The
    /// container must bound what it buffers per subscriber (dropping or ending a subscriber that falls behind).
    func subscribeOutput() -> AsyncStream<(stream: UInt8, bytes: [UInt8])>
    /// Writes to the container's stdin; throws when it has none or it is closed.
    func writeStdin(_ bytes: [UInt8]) async throws
    /// The client closed its stdin (`stdinOnce` containers close theirs).
    func closeStdin() async
    /// The client's terminal changed size.
    func resize(width: UInt16, height: UInt16)
}

extension AttachableContainer {
    public func closeStdin() async {}
    public func resize(width: UInt16, height: UInt16) {}
}

/// `attach` as the kubelet serves it over WebSocket: the container's output to the client, the client's stdin to
/// the container, until either ends; then Success on the error channel (the kubelet reports only a failure to
/// attach as an error, never the container's exit code).
public enum AttachSession {
    public static func start(
        request: HTTPRequest, options: StreamOptions, container: any AttachableContainer, logger: Logger
    ) throws(KubeError) -> HTTPResponse {
        let (connection, response) = try StreamConnection.accept(request)
        Task { await run(connection, options: options, container: container, logger: logger) }
        return response
    }

    static func run(
        _ connection: StreamConnection, options: StreamOptions, container: any AttachableContainer, logger: Logger
    ) async {
        guard await connection.open(options) else { return }
        let output = container.subscribeOutput()
        let forward = Task {
            for await (stream, bytes) in output {
                // A terminal's output is all stdout; without one, each stream goes only if it was asked for.
                let channel = container.tty ? ChannelProtocol.stdout : stream
                let wanted = channel == ChannelProtocol.stdout ? options.stdout : options.stderr
                guard wanted else { continue }
                do { try await connection.send(channel: channel, bytes) } catch { return }
            }
        }
        let client = Task {
            var messages = ClientMessages()
            if options.stdin {
                messages.stdin = { bytes in try? await container.writeStdin(bytes) }
                messages.closeStdin = { await container.closeStdin() }
            }
            messages.resize = { width, height in container.resize(width: width, height: height) }
            await messages.read(from: connection)
            // The client left: stop forwarding (the container goes on).
            forward.cancel()
        }
        await forward.value
        client.cancel()
        await client.value
        logger.debug("attach ended")
        await connection.finish(.success)
    }
}
