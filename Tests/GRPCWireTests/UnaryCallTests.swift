import Foundation
import GRPCWire
import Synchronization
import Testing

@Suite("Unary calls", .timeLimit(.minutes(2)))
struct UnaryCallTests {
    @Test func echoRoundTripWithMetadata() async throws {
        let seen = Box<GRPCMetadata?>(nil)
        try await withServer(routes: { router in
            router.registerUnary("/test.Echo/Unary") { call in
                seen.value = call.metadata
                call.respond(.success(call.request))
            }
        }) { _, port in
            try await withClient(port: port) { client in
                let response = try await client.unary(
                    "/test.Echo/Unary", request: [1, 2, 3], metadata: GRPCMetadata([("X-Token", "abc")]))
                #expect(response == [1, 2, 3])
                #expect(seen.value?["x-token"] == "abc")
                #expect(try await client.unary("/test.Echo/Unary", request: []) == [])
            }
        }
        #expect(seen.value?["x-token"] == nil)  // the second call carried no metadata
        #expect(seen.value?["user-agent"] != nil)
        #expect(seen.value?["content-type"] == nil)
    }

    @Test func metadataReachesHandler() async throws {
        try await withServer(routes: { router in
            router.registerUnary("/test.Meta/Get") { call in
                call.respond(.success(Array((call.metadata["x-token"] ?? "none").utf8)))
            }
        }) { _, port in
            try await withClient(port: port) { client in
                let response = try await client.unary(
                    "/test.Meta/Get", request: [], metadata: GRPCMetadata([("X-Token", "abc")]))
                #expect(String(decoding: response, as: UTF8.self) == "abc")
            }
        }
    }

    @Test func largeMessageRoundTrip() async throws {
        let payload = bytes(1_572_864, seed: 7)
        try await withServer(routes: registerEcho) { _, port in
            try await withClient(port: port) { client in
                let response = try await client.unary("/test.Echo/Unary", request: payload)
                #expect(response == payload)
            }
        }
    }

    @Test func overLimitMessageIsRejectedLikeGrpcGo() async throws {
        try await withServer(configure: { $0.maxReceiveMessageBytes = 1 << 20 }, routes: registerEcho) { _, port in
            try await withClient(port: port) { client in
                let status = await expectStatus {
                    _ = try await client.unary("/test.Echo/Unary", request: bytes(1_572_864))
                }
                #expect(status?.code == .resourceExhausted)
                #expect(status?.message == "grpc: received message larger than max (1572864 vs. 1048576)")
                // The connection stays usable.
                let response1 = try await client.unary("/test.Echo/Unary", request: [42])
                #expect(response1 == [42])
            }
        }
    }

    @Test func unknownServiceAndMethodLikeGrpcGo() async throws {
        try await withServer(routes: registerEcho) { _, port in
            try await withClient(port: port) { client in
                let method = await expectStatus { _ = try await client.unary("/test.Echo/Nope", request: []) }
                #expect(
                    method == GRPCStatus(code: .unimplemented, message: "unknown method Nope for service test.Echo"))
                let service = await expectStatus { _ = try await client.unary("/etcdserverpb.Foo/Bar", request: []) }
                #expect(service == GRPCStatus(code: .unimplemented, message: "unknown service etcdserverpb.Foo"))
            }
        }
    }

    @Test func handlerStatusReachesClientPercentEncoded() async throws {
        let message = "100% sure: ünïcödé ✓\nnext line"
        try await withServer(routes: { router in
            router.registerUnary("/test.Fail/Now") { call in
                call.respond(.failure(GRPCStatus(code: .failedPrecondition, message: message)))
            }
            router.registerUnary("/test.Fail/Later") { call in
                // Answered from another thread: one hop back to the event loop.
                DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) {
                    call.respond(.failure(GRPCStatus(code: .notFound, message: message)))
                }
            }
        }) { _, port in
            try await withClient(port: port) { client in
                let now = await expectStatus { _ = try await client.unary("/test.Fail/Now", request: []) }
                #expect(now == GRPCStatus(code: .failedPrecondition, message: message))
                let later = await expectStatus { _ = try await client.unary("/test.Fail/Later", request: []) }
                #expect(later == GRPCStatus(code: .notFound, message: message))
            }
        }
    }

    @Test func respondTwiceIsIgnored() async throws {
        try await withServer(routes: { router in
            router.registerUnary("/test.Twice/Call") { call in
                call.respond(.success([1]))
                call.respond(.success([2]))
                call.respond(.failure(GRPCStatus(code: .internalError, message: "late")))
            }
        }) { _, port in
            try await withClient(port: port) { client in
                let response2 = try await client.unary("/test.Twice/Call", request: [])
                #expect(response2 == [1])
            }
        }
    }

    @Test func deadlineExceededCancelsServerCall() async throws {
        let pending = Box<GRPCUnaryCall?>(nil)
        try await withServer(routes: { router in
            router.registerUnary("/test.Slow/Never") { call in pending.value = call }
        }) { _, port in
            try await withClient(port: port) { client in
                let started = ContinuousClock.now
                let status = await expectStatus {
                    _ = try await client.unary("/test.Slow/Never", request: [1], timeout: .milliseconds(200))
                }
                #expect(status == GRPCStatus(code: .deadlineExceeded, message: "context deadline exceeded"))
                #expect(ContinuousClock.now - started < .seconds(10))  // generous: CI machines are busy
                let call = try #require(pending.value)
                #expect(call.deadline != nil)
                #expect(await eventually { call.isCancelled })
                call.respond(.success([1]))  // ignored
            }
        }
    }

    @Test func serverSideDeadlineAnswersWhenClientWaits() async throws {
        // A client that sends grpc-timeout but keeps waiting gets the server's own DEADLINE_EXCEEDED.
        let pending = Box<GRPCUnaryCall?>(nil)
        try await withServer(routes: { router in
            router.registerUnary("/test.Slow/Never") { call in pending.value = call }
        }) { _, port in
            try await withClient(port: port) { client in
                let status = await expectStatus {
                    _ = try await client.unary("/test.Slow/Never", request: [1], timeout: .milliseconds(100))
                }
                #expect(status?.code == .deadlineExceeded)
            }
        }
        #expect(pending.value?.isCancelled == true)
    }

    @Test func thousandConcurrentCallsOnOneConnection() async throws {
        try await withServer(routes: registerEcho) { _, port in
            try await withClient(port: port) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<1000 {
                        group.addTask {
                            let request = Array("request \(index)".utf8)
                            let response = try await client.unary("/test.Echo/Unary", request: request)
                            #expect(response == request)
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test func connectionClosedWithCallInFlight() async throws {
        let pending = Box<GRPCUnaryCall?>(nil)
        try await withServer(routes: { router in
            router.registerUnary("/test.Slow/Never") { call in pending.value = call }
        }) { _, port in
            let client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
            async let outcome = expectStatus { _ = try await client.unary("/test.Slow/Never", request: []) }
            #expect(await eventually { pending.value != nil })
            await client.close()
            #expect(await outcome?.code == .unavailable)
            let call = try #require(pending.value)
            #expect(await eventually { call.isCancelled })
            call.respond(.success([]))  // ignored, no crash
            let after = await expectStatus { _ = try await client.unary("/test.Echo/Unary", request: []) }
            #expect(after?.code == .unavailable)
        }
    }

    @Test func connectFailureIsUnavailable() async throws {
        let port = try await freePort()
        let status = await expectStatus {
            _ = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
        }
        #expect(status?.code == .unavailable)
    }

    @Test func taskCancellationCancelsCall() async throws {
        let pending = Box<GRPCUnaryCall?>(nil)
        try await withServer(routes: { router in
            router.registerUnary("/test.Slow/Never") { call in pending.value = call }
        }) { _, port in
            try await withClient(port: port) { client in
                let task = Task { try await client.unary("/test.Slow/Never", request: []) }
                #expect(await eventually { pending.value != nil })
                task.cancel()
                let result = await task.result
                #expect((try? result.get()) == nil)
                #expect((result.failure as? GRPCStatus)?.code == .cancelled)
                #expect(await eventually { pending.value?.isCancelled == true })
            }
        }
    }

    @Test func clientReceiveLimitLikeGrpcGo() async throws {
        try await withServer(routes: registerEcho) { _, port in
            try await withClient(port: port, configure: { $0.maxReceiveMessageBytes = 1000 }) { client in
                let status = await expectStatus { _ = try await client.unary("/test.Echo/Unary", request: bytes(2000)) }
                #expect(
                    status
                        == GRPCStatus(
                            code: .resourceExhausted, message: "grpc: received message larger than max (2000 vs. 1000)")
                )
                let small = try await client.unary("/test.Echo/Unary", request: bytes(10))
                #expect(small == bytes(10))
            }
        }
    }

    @Test func clientQueuesCallsBeyondServerStreamLimit() async throws {
        try await withServer(
            configure: { $0.maxConcurrentStreamsPerConnection = 2 },
            routes: { router in
                router.registerUnary("/test.Slow/Echo") { call in
                    DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(20)) {
                        call.respond(.success(call.request))
                    }
                }
            }
        ) { _, port in
            try await withClient(port: port) { client in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            let response = try await client.unary("/test.Slow/Echo", request: [UInt8(index)])
                            #expect(response == [UInt8(index)])
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test func keepalivePingsKeepConnectionUsable() async throws {
        try await withServer(routes: registerEcho) { _, port in
            try await withClient(
                port: port,
                configure: {
                    $0.keepaliveInterval = .milliseconds(20)
                    $0.keepaliveTimeout = .seconds(3)
                }
            ) { client in
                for index in 0..<10 {
                    #expect(try await client.unary("/test.Echo/Unary", request: [UInt8(index)]) == [UInt8(index)])
                    try await Task.sleep(for: .milliseconds(30))
                }
            }
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
