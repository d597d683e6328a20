import Dispatch
import EtcdAPI
import Foundation
import GRPCWire
import SwiftProtobuf
import Synchronization

/// How a fuzz input becomes traffic for a running server. The libFuzzer targets (`Fuzz/`) and the replay test
/// (`IntegrationTests/FuzzCorpusTests`) both go through here, so a committed input means the same thing to both.
///
/// Two targets:
/// - `requests`: the first byte picks an RPC; the rest is its request message, as random protobuf bytes. Unary
///   RPCs are called once; streaming ones (Watch, LeaseKeepAlive, Snapshot) get the rest split into messages.
/// - `connection`: the input is everything a client sends on a fresh TCP connection (HTTP/2 preface, frames, or
///   HTTP/1), then the client half-closes.
///
/// After each input the server must still answer a Range within `probeTimeout` (no crash, no wedged event loop),
/// and a unary request the server refused must not have changed the store's revision.
public enum FuzzTraffic {
    /// Unary RPCs in a fixed order (the first input byte picks one). Auth enable is left out: once on, every later
    /// input (and the probe) would be refused for want of a token, and the fuzzer would learn nothing more.
    public static let unaryMethods: [String] = [
        "/etcdserverpb.KV/Range", "/etcdserverpb.KV/Put", "/etcdserverpb.KV/DeleteRange", "/etcdserverpb.KV/Txn",
        "/etcdserverpb.KV/Compact",
        "/etcdserverpb.Lease/LeaseGrant", "/etcdserverpb.Lease/LeaseRevoke", "/etcdserverpb.Lease/LeaseTimeToLive",
        "/etcdserverpb.Lease/LeaseLeases",
        "/etcdserverpb.Cluster/MemberList", "/etcdserverpb.Cluster/MemberAdd", "/etcdserverpb.Cluster/MemberRemove",
        "/etcdserverpb.Cluster/MemberUpdate", "/etcdserverpb.Cluster/MemberPromote",
        "/etcdserverpb.Maintenance/Alarm", "/etcdserverpb.Maintenance/Status", "/etcdserverpb.Maintenance/Defragment",
        "/etcdserverpb.Maintenance/Hash", "/etcdserverpb.Maintenance/HashKV", "/etcdserverpb.Maintenance/MoveLeader",
        "/etcdserverpb.Auth/AuthDisable", "/etcdserverpb.Auth/AuthStatus", "/etcdserverpb.Auth/Authenticate",
        "/etcdserverpb.Auth/UserAdd", "/etcdserverpb.Auth/UserGet", "/etcdserverpb.Auth/UserList",
        "/etcdserverpb.Auth/UserDelete", "/etcdserverpb.Auth/UserChangePassword", "/etcdserverpb.Auth/UserGrantRole",
        "/etcdserverpb.Auth/UserRevokeRole", "/etcdserverpb.Auth/RoleAdd", "/etcdserverpb.Auth/RoleGet",
        "/etcdserverpb.Auth/RoleList", "/etcdserverpb.Auth/RoleDelete", "/etcdserverpb.Auth/RoleGrantPermission",
        "/etcdserverpb.Auth/RoleRevokePermission", "/grpc.health.v1.Health/Check",
    ]
    /// Streaming RPCs, picked by the first byte after the unary ones.
    public static let streamingMethods: [String] = [
        "/etcdserverpb.Watch/Watch", "/etcdserverpb.Lease/LeaseKeepAlive", "/etcdserverpb.Maintenance/Snapshot",
    ]

    /// A call that does not finish within this is a hang.
    public static let callTimeout: Duration = .seconds(10)
    /// A server that does not answer the probe within this after an input is wedged.
    public static let probeTimeout: Duration = .seconds(10)

    /// A broken promise: the server hung, died, or changed its store on a refused request.
    public struct Violation: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    // MARK: requests

    /// What an input of the `requests` target sends: the RPC's path and its messages (one for a unary RPC).
    public static func decodeRequest(_ input: [UInt8]) -> (path: String, messages: [[UInt8]], unary: Bool)? {
        guard let selector = input.first else { return nil }
        let methods = unaryMethods.count + streamingMethods.count
        let index = Int(selector) % methods
        let payload = Array(input.dropFirst())
        if index < unaryMethods.count { return (unaryMethods[index], [payload], true) }
        // Streams: each message is a one-byte length then that many bytes (the last one takes what is left).
        var messages: [[UInt8]] = []
        var rest = payload[...]
        while let length = rest.first, messages.count < 16 {
            rest = rest.dropFirst()
            let count = min(Int(length), rest.count)
            messages.append(Array(rest.prefix(count)))
            rest = rest.dropFirst(count)
        }
        return (streamingMethods[index - unaryMethods.count], messages, false)
    }

    /// Sends one `requests` input over `client` and checks the promises; throws `Violation` when one is broken.
    public static func sendRequest(_ input: [UInt8], client: GRPCClient) throws {
        guard let (path, messages, unary) = decodeRequest(input) else { return }
        let before = try probe(client)
        if unary {
            let outcome = callUnary(client, path, messages[0], timeout: callTimeout)
            guard let outcome else { throw Violation("\(path) did not return within \(callTimeout)") }
            if case .failure(let status) = outcome {
                if status.code == .deadlineExceeded || status.code == .unavailable {
                    throw Violation("\(path) failed with \(status): the server hung or dropped the connection")
                }
                let after = try probe(client)
                if after != before {
                    throw Violation("\(path) was refused (\(status)) but the revision moved from \(before) to \(after)")
                }
            }
        } else {
            let finished = blocking(timeout: callTimeout + .seconds(5)) { () async -> Bool in
                await stream(path, messages, client: client)
                return true
            }
            if finished == nil { throw Violation("the \(path) stream did not end within \(callTimeout)") }
        }
        _ = try probe(client)
    }

    /// Sends a stream's messages, half-closes, and reads what comes back for at most a second.
    private static func stream(_ path: String, _ messages: [[UInt8]], client: GRPCClient) async {
        guard let stream = try? await client.openStream(path, timeout: callTimeout) else { return }
        defer { stream.cancel() }
        for message in messages { try? await stream.send(message) }
        try? await stream.finish()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await _ in stream.responses {}
                } catch {}
            }
            group.addTask { try? await Task.sleep(for: .seconds(1)) }
            await group.next()
            group.cancelAll()
            stream.cancel()
        }
    }

    /// The store's revision, from a Range the server must answer within `probeTimeout`.
    public static func probe(_ client: GRPCClient) throws -> Int64 {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data([0])
        request.countOnly = true
        let bytes: [UInt8] = (try? request.serializedBytes()) ?? []
        let outcome = callUnary(client, "/etcdserverpb.KV/Range", bytes, timeout: probeTimeout)
        switch outcome {
        case nil: throw Violation("the server did not answer a Range within \(probeTimeout)")
        case .failure(let error): throw Violation("the server failed a plain Range: \(error)")
        case .success(let response):
            guard let decoded = try? Etcdserverpb_RangeResponse(serializedBytes: response) else {
                throw Violation("the server answered a Range with bytes that are not a RangeResponse")
            }
            return decoded.header.revision
        }
    }

    // MARK: connection

    /// Writes `input` on a fresh TCP connection to `host:port`, half-closes, and reads until the server closes
    /// or `timeout` passes. Returns whether the server closed.
    @discardableResult
    public static func sendConnection(_ input: [UInt8], host: String, port: Int, timeout: Duration = .seconds(2))
        throws -> Bool
    {
        let socket = try RawSocket(host: host, port: port)
        defer { socket.close() }
        socket.writeAll(input)
        socket.shutdownWrite()
        return socket.drain(timeout: timeout)
    }

    /// Sends one `connection` input to `server` and checks the promises: the server closes a connection its client
    /// half-closed (it never keeps one open on its own), and it still answers.
    public static func checkConnection(_ input: [UInt8], server: FuzzServer) throws {
        guard try sendConnection(input, host: "127.0.0.1", port: server.port) else {
            throw Violation("the server kept a connection open 2 s after its client half-closed it")
        }
        _ = try probe(server.client)
    }

    // MARK: helpers

    /// A unary call waited for on this thread; nil when not even the client's own deadline ended it. The callback
    /// form runs on the connection's event loop, so a caller on any thread (a libFuzzer callback, a test's own
    /// thread) never waits on Swift's cooperative pool.
    static func callUnary(_ client: GRPCClient, _ path: String, _ request: [UInt8], timeout: Duration)
        -> Result<[UInt8], GRPCStatus>?
    {
        let box = ResultBox<Result<[UInt8], GRPCStatus>>()
        let done = DispatchSemaphore(value: 0)
        client.unary(path, request: request, timeout: timeout) { outcome in
            box.set(outcome)
            done.signal()
        }
        let (seconds, attoseconds) = (timeout + .seconds(5)).components
        let deadline = DispatchTime.now() + .nanoseconds(Int(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        if done.wait(timeout: deadline) == .timedOut { return nil }
        return box.get()
    }

    /// Runs `body` and waits for it on this (non-async) thread, as a libFuzzer callback must; nil after `timeout`.
    public static func blocking<Value: Sendable>(timeout: Duration, _ body: @escaping @Sendable () async -> Value)
        -> Value?
    {
        let result = ResultBox<Value>()
        let done = DispatchSemaphore(value: 0)
        let task = Task {
            result.set(await body())
            done.signal()
        }
        let (seconds, attoseconds) = timeout.components
        let deadline = DispatchTime.now() + .nanoseconds(Int(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        if done.wait(timeout: deadline) == .timedOut {
            task.cancel()
            return nil
        }
        return result.get()
    }
}

/// A plain blocking TCP socket: the `connection` target must send bytes no HTTP/2 library would.
struct RawSocket {
    private let descriptor: Int32

    init(host: String, port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw FuzzTraffic.Violation("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            Glibc.close(descriptor)
            throw FuzzTraffic.Violation("cannot connect to \(host):\(port): errno \(error)")
        }
    }

    /// Writes everything it can; a server that closed early (it may, on bad input) ends the write quietly.
    func writeAll(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written <= 0 { return }
            offset += written
        }
    }

    func shutdownWrite() { _ = shutdown(descriptor, Int32(SHUT_WR)) }

    /// Reads and discards until the server closes (true) or `timeout` passes (false).
    func drain(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let remaining = deadline - ContinuousClock.now
            let milliseconds = max(
                1, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
            )
            if poll(&poller, 1, milliseconds) <= 0 { continue }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return true }
        }
        return false
    }

    func close() { Glibc.close(descriptor) }
}

/// Writes seed inputs into the directory `KELSON_FUZZ_WRITE_SEEDS` names, then exits (`scripts/fuzz --seed`).
public enum FuzzSeedWriter {
    public static func writeIfAsked(_ seeds: [[UInt8]]) {
        guard let directory = ProcessInfo.processInfo.environment["KELSON_FUZZ_WRITE_SEEDS"] else { return }
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (index, seed) in seeds.enumerated() {
            FileManager.default.createFile(atPath: "\(directory)/seed-\(index)", contents: Data(seed))
        }
        exit(0)
    }
}

/// A value set on one thread and read on another (a class: a `Mutex` cannot be captured by a callback).
final class ResultBox<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
    func get() -> Value? { value.withLock { $0 } }
}
