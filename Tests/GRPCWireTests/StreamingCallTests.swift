import GRPCWire
import NIOPosix
import Synchronization
import Testing

@Suite("Streaming calls", .timeLimit(.minutes(2)))
struct StreamingCallTests {
    @Test func bidirectionalEchoOfTenThousandMessages() async throws {
        try await withServer(routes: registerEcho) { _, port in
            try await withClient(port: port) { client in
                let stream = try await client.openStream("/test.Echo/Stream")
                let count = 10_000
                async let sent: Void = {
                    for index in 0..<count { try await stream.send(Array("message \(index)".utf8)) }
                    try await stream.finish()
                }()
                var received = 0
                for try await message in stream.responses {
                    #expect(String(decoding: message, as: UTF8.self) == "message \(received)")
                    received += 1
                }
                try await sent
                #expect(received == count)
            }
        }
    }

    @Test func slowConsumerSuspendsServerSend() async throws {
        let sent = Box(0)
        let total = 10_000
        let message = bytes(1024)
        try await withServer(routes: { router in
            router.registerStreaming("/test.Flood/Out") { call in
                for _ in 0..<total {
                    try await call.send(message)
                    sent.update { $0 += 1 }
                }
            }
        }) { _, port in
            try await withClient(port: port) { client in
                let stream = try await client.openStream("/test.Flood/Out")
                try await stream.finish()
                // Nobody reads: the server must stall after a bounded amount: the stream window (1 MiB), the
                // client's buffer (1 MiB) and the server's send budget (256 KiB), about 2,200 messages of 1 KiB.
                let stalledAt = await stableValue { sent.value }
                #expect(stalledAt > 0)
                #expect(stalledAt < 4000, "server send did not suspend")
                var received = 0
                for try await response in stream.responses {
                    #expect(response == message)
                    received += 1
                }
                #expect(received == total)
                #expect(sent.value == total)
            }
        }
    }

    @Test func slowServerConsumerSuspendsClientSend() async throws {
        let release = Box(false)
        let received = Box(0)
        try await withServer(routes: { router in
            router.registerStreaming("/test.Sink/In") { call in
                while !release.value { try await Task.sleep(for: .milliseconds(5)) }
                for try await _ in call.requests { received.update { $0 += 1 } }
                try await call.send([1])
            }
        }) { _, port in
            try await withClient(port: port) { client in
                let stream = try await client.openStream("/test.Sink/In")
                let sent = Box(0)
                let total = 10_000
                let sender = Task {
                    for _ in 0..<total {
                        try await stream.send(bytes(1024))
                        sent.update { $0 += 1 }
                    }
                    try await stream.finish()
                }
                let stalledAt = await stableValue { sent.value }
                #expect(stalledAt < 4000, "client send did not suspend")
                release.value = true
                try await sender.value
                var responses: [[UInt8]] = []
                for try await response in stream.responses { responses.append(response) }
                #expect(responses == [[1]])
                #expect(received.value == total)
            }
        }
    }

    @Test func clientCancelMakesServerRequestStreamThrow() async throws {
        let outcome = Box<String?>(nil)
        let firstMessage = Box(false)
        try await withServer(routes: { router in
            router.registerStreaming("/test.Wait/Forever") { call in
                do {
                    for try await _ in call.requests { firstMessage.value = true }
                    outcome.value = "finished"
                } catch let status as GRPCStatus {
                    outcome.value = "\(status.code)"
                    #expect(call.isCancelled)
                    await #expect(throws: GRPCStatus.self) { try await call.send([1]) }
                    throw status
                }
            }
        }) { _, port in
            try await withClient(port: port) { client in
                let stream = try await client.openStream("/test.Wait/Forever")
                try await stream.send([1])
                #expect(await eventually { firstMessage.value })
                stream.cancel()
                #expect(await eventually { outcome.value != nil })
                #expect(outcome.value == "Canceled")
                let status = await expectStatus { for try await _ in stream.responses {} }
                #expect(status?.code == .cancelled)
            }
        }
    }

    @Test func handlerErrorsBecomeStatuses() async throws {
        struct Oops: Error {}
        try await withServer(routes: { router in
            router.registerStreaming("/test.Fail/Status") { call in
                try await call.send([7])
                throw GRPCStatus(code: .outOfRange, message: "too far")
            }
            router.registerStreaming("/test.Fail/Other") { _ in throw Oops() }
        }) { _, port in
            try await withClient(port: port) { client in
                let stream = try await client.openStream("/test.Fail/Status")
                try await stream.finish()
                var messages: [[UInt8]] = []
                let status = await expectStatus {
                    for try await message in stream.responses { messages.append(message) }
                }
                #expect(messages == [[7]])
                #expect(status == GRPCStatus(code: .outOfRange, message: "too far"))
                let other = try await client.openStream("/test.Fail/Other")
                let otherStatus = await expectStatus { for try await _ in other.responses {} }
                #expect(otherStatus == GRPCStatus(code: .unknown, message: "Oops()"))
            }
        }
    }

    @Test func connectionLossFailsServerStreamAndClientStream() async throws {
        let outcome = Box<GRPCStatus?>(nil)
        let started = Box(false)
        try await withServer(routes: { router in
            router.registerStreaming("/test.Wait/Forever") { call in
                started.value = true
                do {
                    for try await _ in call.requests {}
                } catch let status as GRPCStatus {
                    outcome.value = status
                }
            }
        }) { _, port in
            let client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
            let stream = try await client.openStream("/test.Wait/Forever")
            try await stream.send([1])
            #expect(await eventually { started.value })
            await client.close()
            let status = await expectStatus { for try await _ in stream.responses {} }
            #expect(status?.code == .unavailable)
            #expect(await eventually { outcome.value != nil })
            #expect(outcome.value?.code == .cancelled)
        }
    }

    @Test func handlerThatOutlivesItsConnectionLeavesTheEventLoopAlone() async throws {
        // A server that owns its event loop group shuts it down once its connections have closed; a streaming
        // handler still running then must not send work there (NIO: "Cannot schedule tasks on an EventLoop that
        // has already shut down"). Here the group belongs to the test, stays up, and counts the tasks it runs.
        let tasks = TaskCount()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: tasks)
        let started = Box(false)
        let cancelled = Box(false)
        let release = Box(false)
        let sendFailure = Box<GRPCStatus.Code?>(nil)
        let returned = Box(false)
        try await withServer(
            configure: { $0.eventLoopGroup = group },
            routes: { router in
                router.registerStreaming("/test.Wait/Forever") { call in
                    started.value = true
                    do {
                        for try await _ in call.requests {}
                    } catch {
                        cancelled.value = true
                    }
                    while !release.value { try? await Task.sleep(for: .milliseconds(10)) }
                    do {
                        try await call.send([1])
                    } catch let status as GRPCStatus {
                        sendFailure.value = status.code
                    }
                    returned.value = true
                }
            }
        ) { _, port in
            let client = try await GRPCClient.connect(GRPCClientConfiguration(host: "127.0.0.1", port: port))
            let stream = try await client.openStream("/test.Wait/Forever")
            try await stream.send([1])
            #expect(await eventually { started.value })
            await client.close()
            #expect(await eventually { cancelled.value })
        }
        // Server shut down, connection closed: once the loop has run what was queued, nothing more may arrive.
        var before = tasks.value
        for _ in 0..<50 {
            try await Task.sleep(for: .milliseconds(100))
            if tasks.value == before { break }
            before = tasks.value
        }
        release.value = true
        #expect(await eventually { returned.value })
        #expect(sendFailure.value == .cancelled)
        try await Task.sleep(for: .milliseconds(200))  // the call is ended right after the handler returns
        #expect(tasks.value == before, "a call of a closed connection sent work to its event loop")
        try await group.shutdownGracefully()
    }
}

/// Counts the tasks an event loop group runs.
private final class TaskCount: NIOEventLoopMetricsDelegate {
    private let total = Atomic<Int>(0)
    var value: Int { total.load(ordering: .relaxed) }
    func processedTick(info: NIOEventLoopTickInfo) { total.add(info.numberOfTasks, ordering: .relaxed) }
}

/// Samples `value` every 200 ms until two samples agree (or 10 s pass): the level a producer stalls at.
func stableValue(_ value: () -> Int) async -> Int {
    var previous = value()
    for _ in 0..<50 {
        try? await Task.sleep(for: .milliseconds(200))
        let current = value()
        if current == previous { return current }
        previous = current
    }
    return previous
}
