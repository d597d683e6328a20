import EtcdAPI
import EtcdServer
import Foundation
import GRPCWire
import RevisionLog
import RevisionLogTesting
import SQLiteBackend
import Testing

/// A store and the etcd services on a real loopback gRPC server, with Kelson's own client.
final class ServedStore {
    let directory: String
    let store: Store
    let server: GRPCServer
    let client: GRPCClient
    let port: Int

    init(
        watchBufferedEvents: Int = 1_000, progressInterval: Duration = .seconds(600),
        leaseClock: any LeaseClock = SystemLeaseClock(), watchersPerStream: Int = 10_000
    ) async throws {
        directory = NSTemporaryDirectory() + "kelson-watch-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let backend = try SQLiteBackend(configuration: SQLiteConfiguration(path: directory + "/kelson.db"))
        var storeConfiguration = StoreConfiguration()
        storeConfiguration.leaseClock = leaseClock
        store = try Store(backend: backend, configuration: storeConfiguration, logger: conformanceLogger())
        var configuration = EtcdServerConfiguration(identity: ServerIdentity(clusterID: 1, memberID: 2, name: "test"))
        configuration.watchProgressNotifyInterval = progressInterval
        configuration.watchLimits.bufferedEventsMaximum = watchBufferedEvents
        configuration.watchersPerStreamMaximum = watchersPerStream
        configuration.snapshotDirectory = directory
        let services = EtcdServices(store: store, configuration: configuration)
        var serverConfiguration = GRPCServerConfiguration()
        serverConfiguration.port = 0
        server = GRPCServer(configuration: serverConfiguration, router: services.router)
        let address = try await server.start()
        port = address.port ?? 0
        client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
    }

    func shutdown() async {
        await client.close()
        await server.shutdownGracefully()
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func put(_ key: String, _ value: String) async throws {
        _ = try await store.put(PutRequest(key: Array(key.utf8), value: Array(value.utf8)))
    }
}

/// One Watch stream seen from the client side.
struct WatchStreamClient {
    let stream: GRPCClientStream
    var iterator: GRPCMessageStream.AsyncIterator

    init(_ served: ServedStore) async throws {
        stream = try await served.client.openStream("/etcdserverpb.Watch/Watch")
        iterator = stream.responses.makeAsyncIterator()
    }

    func create(
        _ key: String, prefix: Bool = false, startRevision: Int64 = 0,
        configure: (inout Etcdserverpb_WatchCreateRequest) -> Void = { _ in }
    ) async throws {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(key.utf8)
        if prefix { create.rangeEnd = Data(KeyRange.prefixEnd(Array(key.utf8))) }
        create.startRevision = startRevision
        configure(&create)
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create
        try await stream.send(try request.serializedBytes())
    }

    func requestProgress() async throws {
        var request = Etcdserverpb_WatchRequest()
        request.progressRequest = Etcdserverpb_WatchProgressRequest()
        try await stream.send(try request.serializedBytes())
    }

    mutating func next() async throws -> Etcdserverpb_WatchResponse {
        guard let bytes = try await iterator.next() else { throw GRPCStatus(code: .unknown, message: "stream ended") }
        return try Etcdserverpb_WatchResponse(serializedBytes: bytes)
    }
}

@Suite("Watch over gRPC with Kelson's client", .serialized)
struct WatchStreamTests {
    @Test("filters drop puts or deletes server-side")
    func filters() async throws {
        let served = try await ServedStore()
        var watch = try await WatchStreamClient(served)
        try await watch.create("f", configure: { $0.filters = [.noput] })
        #expect(try await watch.next().created)
        try await served.put("f", "1")
        _ = try await served.store.delete(DeleteRequest(range: .single(Array("f".utf8))))
        let response = try await watch.next()
        #expect(response.events.map(\.type) == [.delete])
        #expect(response.events.first?.kv.modRevision == 3)
        watch.stream.cancel()
        await served.shutdown()
    }

    @Test("a progress request is answered with watch_id -1 once every watcher is caught up")
    func progressRequest() async throws {
        let served = try await ServedStore()
        for index in 0..<50 { try await served.put("p", "\(index)") }
        var watch = try await WatchStreamClient(served)
        try await watch.create("p", startRevision: 2)
        #expect(try await watch.next().created)
        try await watch.requestProgress()
        var events = 0
        var progress: Etcdserverpb_WatchResponse?
        while progress == nil {
            let response = try await watch.next()
            if response.watchID == -1 && response.events.isEmpty {
                progress = response
            } else {
                events += response.events.count
            }
        }
        // The answer comes only after all 50 replayed events, with the head revision.
        #expect(events == 50)
        #expect(progress?.header.revision == 51)
        watch.stream.cancel()
        await served.shutdown()
    }

    @Test("one stream carries many watchers, each with its own events")
    func manyWatchers() async throws {
        let served = try await ServedStore()
        var watch = try await WatchStreamClient(served)
        let watchers = 100
        for index in 0..<watchers {
            try await watch.create("m/\(index)")
            let created = try await watch.next()
            #expect(created.created && created.watchID == Int64(index))
        }
        for index in 0..<watchers { try await served.put("m/\(index)", "v\(index)") }
        var seen: [Int64: String] = [:]
        while seen.count < watchers {
            let response = try await watch.next()
            for event in response.events { seen[response.watchID] = String(decoding: event.kv.value, as: UTF8.self) }
        }
        #expect((0..<watchers).allSatisfy { seen[Int64($0)] == "v\($0)" })
        watch.stream.cancel()
        await served.shutdown()
    }

    @Test("a slow watcher catches up after 100,000 events without losing any")
    func slowWatcher() async throws {
        let served = try await ServedStore(watchBufferedEvents: 256)
        var watch = try await WatchStreamClient(served)
        try await watch.create("s/", prefix: true)
        #expect(try await watch.next().created)
        let total = 100_000
        let perTxn = 125
        for batch in 0..<(total / perTxn) {
            let operations = (0..<perTxn).map { index in
                TxnOperation.put(PutRequest(key: Array("s/\(index)".utf8), value: Array("\(batch)".utf8)))
            }
            _ = try await served.store.txn(TxnRequest(success: operations))
        }
        var received = 0
        var lastHeader: Int64 = 0
        while received < total {
            let response = try await watch.next()
            #expect(response.header.revision >= lastHeader)
            lastHeader = response.header.revision
            for event in response.events {
                // Each txn is one revision holding `perTxn` events, in order, from revision 2.
                if event.kv.modRevision != 2 + Int64(received / perTxn) {
                    Issue.record("event \(received) has revision \(event.kv.modRevision)")
                    return
                }
                received += 1
            }
        }
        #expect(received == total)
        watch.stream.cancel()
        await served.shutdown()
    }

    @Test("responses over the size cap are split into fragments when asked")
    func fragments() async throws {
        let served = try await ServedStore()
        var watch = try await WatchStreamClient(served)
        try await watch.create("big/", prefix: true, configure: { $0.fragment = true })
        #expect(try await watch.next().created)
        let value = String(repeating: "x", count: 200_000)
        _ = try await served.store.txn(
            TxnRequest(
                success: (0..<12).map { index in
                    .put(PutRequest(key: Array("big/\(index)".utf8), value: Array(value.utf8)))
                }))
        var parts: [Etcdserverpb_WatchResponse] = []
        repeat { parts.append(try await watch.next()) } while parts.last?.fragment == true
        #expect(parts.count > 1)
        #expect(parts.dropLast().allSatisfy { $0.fragment })
        #expect(parts.flatMap(\.events).count == 12)
        watch.stream.cancel()
        await served.shutdown()
    }

    @Test("a response is split only past max-request-bytes + 512 KiB, and nothing comes between its fragments")
    func fragmentsWhole() async throws {
        let served = try await ServedStore()
        var watch = try await WatchStreamClient(served)
        try await watch.create("big/", prefix: true, configure: { $0.fragment = true })
        #expect(try await watch.next().created)
        try await watch.create("small/", prefix: true)
        #expect(try await watch.next().created)
        // 1.8 MB: over etcd's 1.5 MiB request cap but under the 2 MiB that splits a watch response.
        let value = Array(String(repeating: "x", count: 200_000).utf8)
        func bigTxn(_ count: Int) -> TxnRequest {
            TxnRequest(success: (0..<count).map { .put(PutRequest(key: Array("big/\($0)".utf8), value: value)) })
        }
        _ = try await served.store.txn(bigTxn(9))
        let whole = try await watch.next()
        #expect(whole.watchID == 0 && !whole.fragment && whole.events.count == 9)

        // Three split responses while the other watcher gets a steady stream of small ones.
        let store = served.store
        let writer = Task {
            for index in 0..<300 {
                _ = try await Store.awaiting {
                    store.put(PutRequest(key: Array("small/\(index)".utf8), value: []), completion: $0)
                }
            }
        }
        for _ in 0..<3 { _ = try await served.store.txn(bigTxn(14)) }
        var bigEvents = 0
        var smallEvents = 0
        var insideFragments = false
        while bigEvents < 42 || smallEvents < 300 {
            let response = try await watch.next()
            if response.watchID == 0 {
                bigEvents += response.events.count
                insideFragments = response.fragment
            } else {
                #expect(!insideFragments, "a response of watcher \(response.watchID) came between two fragments")
                smallEvents += response.events.count
            }
        }
        try await writer.value
        watch.stream.cancel()
        await served.shutdown()
    }

    @Test("the created response carries the revision the watch starts after, never a later one")
    func createdRevision() async throws {
        let served = try await ServedStore()
        let store = served.store
        // Three writers keep commits landing while each watch is registered and answered.
        let writers = (0..<3).map { writer in
            Task {
                for index in 0..<2_000 {
                    _ = try await Store.awaiting {
                        store.put(
                            PutRequest(key: Array("c".utf8), value: Array("\(writer)/\(index)".utf8)), completion: $0)
                    }
                }
            }
        }
        var watch = try await WatchStreamClient(served)
        var createdAt: [Int64: Int64] = [:]
        var firstEvent: [Int64: Int64] = [:]
        for _ in 0..<100 {
            try await watch.create("c")
            // Responses of earlier watchers may come first.
            while true {
                let response = try await watch.next()
                if response.created {
                    createdAt[response.watchID] = response.header.revision
                    break
                }
                if let event = response.events.first, firstEvent[response.watchID] == nil {
                    firstEvent[response.watchID] = event.kv.modRevision
                }
            }
        }
        while firstEvent.count < createdAt.count {
            let response = try await watch.next()
            if let event = response.events.first, firstEvent[response.watchID] == nil {
                firstEvent[response.watchID] = event.kv.modRevision
            }
        }
        for (id, revision) in createdAt {
            // Every revision writes "c", so the first event is exactly the next revision.
            #expect(
                firstEvent[id] == revision + 1,
                "watch \(id): created at \(revision), first event \(firstEvent[id] ?? 0)")
        }
        writers.forEach { $0.cancel() }
        watch.stream.cancel()
        await served.shutdown()
    }

    @Test("a progress notification never overtakes an event at or below its revision")
    func progressOrder() async throws {
        let served = try await ServedStore()
        var watch = try await WatchStreamClient(served)
        for index in 0..<5 {
            try await watch.create("o/\(index)")
            #expect(try await watch.next().created)
        }
        let store = served.store
        let total = 3_000
        let writer = Task {
            for index in 0..<total {
                _ = try await Store.awaiting {
                    store.put(PutRequest(key: Array("o/\(index % 5)".utf8), value: []), completion: $0)
                }
            }
        }
        var events = 0
        var progressed: Int64 = 0
        var progressAnswers = 0
        try await watch.requestProgress()
        while events < total {
            let response = try await watch.next()
            if response.watchID == -1 && response.events.isEmpty {
                progressed = max(progressed, response.header.revision)
                progressAnswers += 1
                try await watch.requestProgress()
            }
            for event in response.events {
                events += 1
                if event.kv.modRevision <= progressed {
                    Issue.record("event at \(event.kv.modRevision) after a progress notification at \(progressed)")
                    return
                }
            }
        }
        #expect(progressAnswers > 0)
        try await writer.value
        watch.stream.cancel()
        await served.shutdown()
    }

    @Test("a stream holds at most its maximum of watchers; a create beyond it is refused, and a cancel makes room")
    func watchersPerStream() async throws {
        let served = try await ServedStore(watchersPerStream: 2)
        var watch = try await WatchStreamClient(served)
        for key in ["a", "b"] {
            try await watch.create(key)
            #expect(try await watch.next().created)
        }
        try await watch.create("c")
        let refused = try await watch.next()
        #expect(refused.created && refused.canceled && refused.watchID == -1)
        #expect(refused.cancelReason == "kelson: this stream already has 2 watchers")
        var cancel = Etcdserverpb_WatchRequest()
        cancel.cancelRequest.watchID = 0
        try await watch.stream.send(try cancel.serializedBytes())
        #expect(try await watch.next().canceled)
        try await watch.create("c")
        let created = try await watch.next()
        #expect(created.created && !created.canceled)
        watch.stream.cancel()
        await served.shutdown()
    }
}
