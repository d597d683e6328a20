// Kelson inside another Swift program: the same server `kelson etcd` runs, started from code.
//
//   swift run kelson-embedded-example
//
// It opens a store in a temporary directory, writes through the store's own API (no network), then serves the etcd
// gRPC API on a free loopback port as part of this program's ServiceGroup, reads the key back over gRPC, and shuts
// down gracefully.
import EtcdClient
import Foundation
import Kelson
import Logging
import RevisionLog
import ServiceLifecycle

@main
struct EmbeddedExample {
    static func main() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kelson-embedded-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }

        var configuration = KelsonConfiguration()
        configuration.dataDirectory = directory.path
        // Port 0: any free port (`boundAddresses` tells which). An empty list serves no network at all.
        configuration.listenClientURLs = ["http://127.0.0.1:0"]
        configuration.autoCompaction = .revisions(10_000)
        let logger = Logger(label: "embedded")
        let server = try KelsonServer(configuration: configuration, logger: logger)

        // 1. In-process: the store's API, the same one the gRPC services call (completion form; `Store.awaiting`
        //    bridges it to async).
        let request = PutRequest(key: Array("greeting".utf8), value: Array("hello".utf8))
        let put = try await Store.awaiting { server.store.put(request, completion: $0) }
        print("in-process put: revision \(put.revision)")

        // 2. Over gRPC: the server's services join this program's ServiceGroup (store first, listeners last, so a
        //    shutdown stops accepting requests before the store closes).
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: server.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let port = try await boundPort(server)
            let client = try await EtcdClient.connect(host: "127.0.0.1", port: port)
            let value = try await client.get("greeting").map { String(decoding: $0.value, as: UTF8.self) }
            print("over gRPC on port \(port): greeting = \(value ?? "(missing)")")
            _ = try await client.put("from-grpc", "world")
            await client.close()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        print("shut down at revision \(server.store.revision)")
    }

    /// The listener binds once the group runs; wait (bounded) for its port.
    static func boundPort(_ server: KelsonServer) async throws -> Int {
        for _ in 0..<500 {
            if let address = server.boundAddresses.first,
                let port = address.split(separator: ":").last.flatMap({
                    Int($0)
                })
            {
                return port
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw KelsonError("the gRPC listener did not start")
    }
}
