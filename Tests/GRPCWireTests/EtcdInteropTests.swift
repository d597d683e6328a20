import EtcdAPI
import Foundation
import GRPCWire
import SwiftProtobuf
import Testing

/// Interop with the real etcd 3.4 server and etcdctl (Debian `etcd-server`/`etcd-client`). These tests fail,
/// not skip, when the binaries are missing.
@Suite("etcd 3.4 interop", .serialized, .timeLimit(.minutes(3)))
struct EtcdInteropTests {
    @Test func tenThousandUnaryCallsAgainstRealEtcd() async throws {
        let etcd = try await EtcdProcess.start()
        defer { etcd.stop() }
        try await withClient(port: etcd.clientPort) { client in
            let started = ContinuousClock.now
            let workers = 16
            let callsPerWorker = 625
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        for index in 0..<callsPerWorker {
                            var put = Etcdserverpb_PutRequest()
                            put.key = Data("key-\(worker)-\(index % 50)".utf8)
                            put.value = Data("value-\(index)".utf8)
                            let bytes = try await client.unary(
                                "/etcdserverpb.KV/Put", request: try put.serializedBytes())
                            let response = try Etcdserverpb_PutResponse(serializedBytes: bytes)
                            #expect(response.header.revision > 0)
                            if index % 100 == 99 {
                                var range = Etcdserverpb_RangeRequest()
                                range.key = put.key
                                let rangeBytes = try await client.unary(
                                    "/etcdserverpb.KV/Range", request: try range.serializedBytes())
                                let result = try Etcdserverpb_RangeResponse(serializedBytes: rangeBytes)
                                #expect(result.kvs.first?.value == put.value)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - started
            print("etcd interop: \(workers * callsPerWorker) Puts (16 in flight, one connection) in \(elapsed)")
            // The connection is still healthy after grpc-go's BDP pings.
            var range = Etcdserverpb_RangeRequest()
            range.key = Data("key-".utf8)
            range.rangeEnd = Data("key.".utf8)
            range.countOnly = true
            let count = try Etcdserverpb_RangeResponse(
                serializedBytes: try await client.unary("/etcdserverpb.KV/Range", request: try range.serializedBytes()))
            #expect(count.count == Int64(workers * 50))
        }
    }

    @Test func realEtcdErrorsArriveWithEtcdsMessages() async throws {
        let etcd = try await EtcdProcess.start()
        defer { etcd.stop() }
        try await withClient(port: etcd.clientPort) { client in
            var put = Etcdserverpb_PutRequest()  // empty key
            put.value = Data("v".utf8)
            let status = await expectStatus {
                _ = try await client.unary("/etcdserverpb.KV/Put", request: try put.serializedBytes())
            }
            #expect(status == GRPCStatus(code: .invalidArgument, message: "etcdserver: key is not provided"))
            let unknown = await expectStatus { _ = try await client.unary("/etcdserverpb.KV/Nope", request: []) }
            #expect(
                unknown == GRPCStatus(code: .unimplemented, message: "unknown method Nope for service etcdserverpb.KV"))
        }
    }

    @Test func etcdctlPutAndGetAgainstGRPCServer() async throws {
        let stored = Box<[Data: Data]>([:])
        try await withServer(routes: { router in
            router.registerUnary("/etcdserverpb.KV/Put") { call in
                do {
                    let request = try Etcdserverpb_PutRequest(serializedBytes: call.request)
                    stored.update { $0[request.key] = request.value }
                    var response = Etcdserverpb_PutResponse()
                    response.header = Self.header
                    call.respond(.success(try response.serializedBytes()))
                } catch {
                    call.respond(.failure(GRPCStatus(code: .invalidArgument, message: "\(error)")))
                }
            }
            router.registerUnary("/etcdserverpb.KV/Range") { call in
                do {
                    let request = try Etcdserverpb_RangeRequest(serializedBytes: call.request)
                    var response = Etcdserverpb_RangeResponse()
                    response.header = Self.header
                    if let value = stored.value[request.key] {
                        var keyValue = Mvccpb_KeyValue()
                        keyValue.key = request.key
                        keyValue.value = value
                        keyValue.createRevision = 2
                        keyValue.modRevision = 2
                        keyValue.version = 1
                        response.kvs = [keyValue]
                        response.count = 1
                    }
                    call.respond(.success(try response.serializedBytes()))
                } catch {
                    call.respond(.failure(GRPCStatus(code: .invalidArgument, message: "\(error)")))
                }
            }
        }) { _, port in
            let put = try await Etcdctl.run(["--endpoints", "127.0.0.1:\(port)", "put", "a", "b"])
            #expect(put.status == 0, "etcdctl put: \(put.output)")
            #expect(put.output.trimmingCharacters(in: .whitespacesAndNewlines) == "OK")
            #expect(stored.value[Data("a".utf8)] == Data("b".utf8))
            let get = try await Etcdctl.run(["--endpoints", "127.0.0.1:\(port)", "get", "a"])
            #expect(get.status == 0, "etcdctl get: \(get.output)")
            #expect(get.output.split(separator: "\n") == ["a", "b"])
            let unknown = try await Etcdctl.run(["--endpoints", "127.0.0.1:\(port)", "del", "a"])
            #expect(unknown.status != 0)
            #expect(unknown.output.contains("unknown method DeleteRange for service etcdserverpb.KV"))
        }
    }

    static let header: Etcdserverpb_ResponseHeader = {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = 1
        header.memberID = 2
        header.revision = 2
        header.raftTerm = 1
        return header
    }()
}

/// etcdctl 3.4 run as a child process.
enum Etcdctl {
    static let path = "/usr/bin/etcdctl"

    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: path), "etcdctl missing: apt-get install etcd-client")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["--dial-timeout", "3s", "--command-timeout", "5s"] + arguments
        process.environment = ["ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// A throwaway single-member etcd 3.4 on loopback ports; stopped (and its data removed) by `stop()`.
final class EtcdProcess: Sendable {
    static let path = "/usr/bin/etcd"
    let process: Process
    let directory: URL
    let clientPort: Int

    private init(process: Process, directory: URL, clientPort: Int) {
        self.process = process
        self.directory = directory
        self.clientPort = clientPort
    }

    static func start() async throws -> EtcdProcess {
        try #require(FileManager.default.isExecutableFile(atPath: path), "etcd missing: apt-get install etcd-server")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("grpcwire-etcd-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let clientPort = try await freePort()
        let peerPort = try await freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        let client = "http://127.0.0.1:\(clientPort)"
        let peer = "http://127.0.0.1:\(peerPort)"
        process.arguments = [
            "--data-dir", directory.appendingPathComponent("data").path, "--name", "default",
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", "default=\(peer)",
        ]
        let log = directory.appendingPathComponent("etcd.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: log)
        process.standardOutput = logHandle
        process.standardError = logHandle
        try process.run()
        let etcd = EtcdProcess(process: process, directory: directory, clientPort: clientPort)
        do {
            try await etcd.waitUntilReady()
        } catch {
            let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            etcd.stop()
            Issue.record("etcd did not become ready: \(error)\n\(output.suffix(2000))")
            throw error
        }
        return etcd
    }

    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        var lastError: any Error = GRPCStatus(code: .unavailable, message: "not started")
        while ContinuousClock.now < deadline, process.isRunning {
            do {
                return try await withClient(port: clientPort) { client in
                    var range = Etcdserverpb_RangeRequest()
                    range.key = Data("ready".utf8)
                    _ = try await client.unary(
                        "/etcdserverpb.KV/Range", request: try range.serializedBytes(), timeout: .seconds(2))
                }
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
