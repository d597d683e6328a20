import EtcdAPI
import Foundation
import GRPCWire
import SwiftProtobuf
import Synchronization

/// One `prev_kv` watch over a prefix, collecting every response's events until told to finish. When the stream is
/// lost (the server was killed), it watches again from the revision after the last one received, as clients resume
/// a watch; the validators then check that the resumed stream continues without a gap or a duplicate.
final class WatchCollector: Sendable {
    private struct State {
        var responses: [[WatchRecord.Event]] = []
        var last: Int64 = 0
        var resumptions = 0
        var finishing = false
        var stream: GRPCClientStream?
    }
    /// A class around the Mutex, so the reading task can share it.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }
    private let shared = Shared()
    private let reader: Task<Void, Never>

    private init(
        host: String, port: Int, prefix: String, startRevision: Int64, first: GRPCClient, stream: GRPCClientStream
    ) {
        let shared = shared
        shared.state.withLock { $0.stream = stream }
        reader = Task {
            var client: GRPCClient? = first
            var current: GRPCClientStream? = stream
            while true {
                if let current {
                    do {
                        for try await message in current.responses {
                            let response = try Etcdserverpb_WatchResponse(serializedBytes: message)
                            let events = response.events.map(WatchCollector.event)
                            shared.state.withLock { state in
                                if !events.isEmpty { state.responses.append(events) }
                                state.last = max(state.last, events.last?.modRevision ?? 0)
                            }
                        }
                    } catch {}
                }
                await client?.close()
                client = nil
                current = nil
                if shared.state.withLock({ $0.finishing }) { return }
                // Lost: watch again from the revision after the last one delivered.
                try? await Task.sleep(for: .milliseconds(100))
                let from = shared.state.withLock { max($0.last + 1, startRevision) }
                if let (newClient, newStream) = try? await Self.open(host: host, port: port, prefix: prefix, from: from)
                {
                    client = newClient
                    current = newStream
                    let finishing = shared.state.withLock { state in
                        state.resumptions += 1
                        state.stream = newStream
                        return state.finishing
                    }
                    if finishing { newStream.cancel() }
                }
            }
        }
    }

    static func start(host: String, port: Int, prefix: String, startRevision: Int64) async throws -> WatchCollector {
        let (client, stream) = try await open(host: host, port: port, prefix: prefix, from: startRevision)
        return WatchCollector(
            host: host, port: port, prefix: prefix, startRevision: startRevision, first: client, stream: stream)
    }

    private static func open(host: String, port: Int, prefix: String, from revision: Int64) async throws -> (
        GRPCClient, GRPCClientStream
    ) {
        let client = try await GRPCClient.connect(GRPCClientConfiguration(host: host, port: port))
        do {
            let stream = try await client.openStream("/etcdserverpb.Watch/Watch")
            var create = Etcdserverpb_WatchCreateRequest()
            create.key = Data(prefix.utf8)
            var end = Array(prefix.utf8)
            end[end.count - 1] += 1
            create.rangeEnd = Data(end)
            create.startRevision = revision
            create.prevKv = true
            var request = Etcdserverpb_WatchRequest()
            request.createRequest = create
            try await stream.send(try request.serializedBytes())
            return (client, stream)
        } catch {
            await client.close()
            throw error
        }
    }

    /// How many times the watch was opened again after losing its stream.
    var resumptions: Int { shared.state.withLock { $0.resumptions } }

    /// Waits (bounded) until the watch delivered `revision`, then closes it and returns what it got.
    func finish(through revision: Int64, timeout: Duration) async throws -> [[WatchRecord.Event]] {
        let deadline = ContinuousClock.now + timeout
        while shared.state.withLock({ $0.last < revision }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let stream = shared.state.withLock { state in
            state.finishing = true
            return state.stream
        }
        stream?.cancel()
        _ = await reader.value
        return shared.state.withLock { $0.responses }
    }

    private static func event(_ event: Mvccpb_Event) -> WatchRecord.Event {
        let keyValue = event.kv
        let previous =
            event.hasPrevKv
            ? (value: String(decoding: event.prevKv.value, as: UTF8.self), modRevision: event.prevKv.modRevision) : nil
        return WatchRecord.Event(
            kind: event.type == .delete ? .delete : .put, key: String(decoding: keyValue.key, as: UTF8.self),
            value: String(decoding: keyValue.value, as: UTF8.self), createRevision: keyValue.createRevision,
            modRevision: keyValue.modRevision, version: keyValue.version, previous: previous)
    }
}
