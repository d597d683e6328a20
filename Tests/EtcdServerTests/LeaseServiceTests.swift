import EtcdAPI
import EtcdServer
import Foundation
import GRPCWire
import RevisionLog
import SwiftProtobuf
import Testing

extension ServedStore {
    /// One unary call with protobuf messages.
    func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ path: String, _ request: Request
    ) async throws -> Response {
        try Response(serializedBytes: try await client.unary(path, request: try request.serializedBytes()))
    }

    /// The value at `key` read through the KV service, or nil.
    func value(_ key: String) async throws -> Data? {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        let response: Etcdserverpb_RangeResponse = try await unary("/etcdserverpb.KV/Range", request)
        return response.kvs.first?.value
    }
}

/// Runs `body` against a fresh served store and shuts it down afterwards, also on failure.
func withServedStore(
    leaseClock: any LeaseClock = SystemLeaseClock(), _ body: (ServedStore) async throws -> Void
) async throws {
    let served = try await ServedStore(leaseClock: leaseClock)
    do {
        try await body(served)
    } catch {
        await served.shutdown()
        throw error
    }
    await served.shutdown()
}

/// The Lease service over real gRPC with Kelson's client, including expiry on a manual clock.
@Suite("Lease service over gRPC")
struct LeaseServiceTests {
    private func grant(_ served: ServedStore, id: Int64 = 0, ttl: Int64) async throws -> Etcdserverpb_LeaseGrantResponse
    {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.id = id
        request.ttl = ttl
        return try await served.unary("/etcdserverpb.Lease/LeaseGrant", request)
    }

    private func putWithLease(_ served: ServedStore, _ key: String, _ lease: Int64) async throws {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data("v".utf8)
        request.lease = lease
        let _: Etcdserverpb_PutResponse = try await served.unary("/etcdserverpb.KV/Put", request)
    }

    private func timeToLive(_ served: ServedStore, _ id: Int64) async throws -> Etcdserverpb_LeaseTimeToLiveResponse {
        var request = Etcdserverpb_LeaseTimeToLiveRequest()
        request.id = id
        request.keys = true
        return try await served.unary("/etcdserverpb.Lease/LeaseTimeToLive", request)
    }

    @Test("grant, attach, keep-alive stream, time-to-live, list, revoke")
    func lifecycle() async throws {
        let clock = ManualLeaseClock()
        try await withServedStore(leaseClock: clock) { served in
            let granted = try await grant(served, ttl: 1)
            #expect(granted.id > 0)
            #expect(granted.ttl == 2, "raised to the 2 s minimum")
            let lease = try await grant(served, id: 100, ttl: 30).id
            await #expect(throws: GRPCStatus(code: .failedPrecondition, message: "etcdserver: lease already exists")) {
                _ = try await grant(served, id: 100, ttl: 30)
            }
            await #expect(throws: GRPCStatus(code: .outOfRange, message: "etcdserver: too large lease TTL")) {
                _ = try await grant(served, ttl: 9_000_000_001)
            }
            await #expect(throws: GRPCStatus(code: .notFound, message: "etcdserver: requested lease not found")) {
                try await putWithLease(served, "x", 555)
            }
            try await putWithLease(served, "k/1", lease)
            try await putWithLease(served, "k/2", lease)

            clock.advance(by: .seconds(12))
            var status = try await timeToLive(served, lease)
            #expect(status.ttl == 18 && status.grantedTtl == 30)
            #expect(status.keys == [Data("k/1".utf8), Data("k/2".utf8)])

            // Keep-alive: one answer per request, in order; unknown leases get TTL 0.
            let stream = try await served.client.openStream("/etcdserverpb.Lease/LeaseKeepAlive")
            var answers = stream.responses.makeAsyncIterator()
            for id in [lease, 999, lease] {
                var request = Etcdserverpb_LeaseKeepAliveRequest()
                request.id = id
                try await stream.send(try request.serializedBytes())
                let answer = try Etcdserverpb_LeaseKeepAliveResponse(
                    serializedBytes: try #require(await answers.next()))
                #expect(answer.id == id)
                #expect(answer.ttl == (id == lease ? 30 : 0))
                #expect(answer.header.memberID == 2)
            }
            try await stream.finish()
            status = try await timeToLive(served, lease)
            #expect(status.ttl == 30, "the keep-alive restarted the clock")

            let leases: Etcdserverpb_LeaseLeasesResponse = try await served.unary(
                "/etcdserverpb.Lease/LeaseLeases", Etcdserverpb_LeaseLeasesRequest())
            #expect(leases.leases.map(\.id) == [granted.id, 100].sorted())

            // Revoke: both keys go in one revision, seen as one watch response.
            var watch = try await WatchStreamClient(served)
            try await watch.create("k/", prefix: true)
            _ = try await watch.next()
            var revoke = Etcdserverpb_LeaseRevokeRequest()
            revoke.id = lease
            let revoked: Etcdserverpb_LeaseRevokeResponse = try await served.unary(
                "/etcdserverpb.Lease/LeaseRevoke", revoke)
            let events = try await watch.next()
            #expect(events.events.map(\.type) == [.delete, .delete])
            #expect(events.header.revision == revoked.header.revision)
            #expect(try await timeToLive(served, lease).ttl == -1, "unknown lease: TTL -1, no error")
            await #expect(throws: GRPCStatus(code: .notFound, message: "etcdserver: requested lease not found")) {
                let _: Etcdserverpb_LeaseRevokeResponse = try await served.unary(
                    "/etcdserverpb.Lease/LeaseRevoke", revoke)
            }
        }
    }

    @Test("an expired lease deletes its keys in one revision, seen by a watcher")
    func expiry() async throws {
        let clock = ManualLeaseClock()
        try await withServedStore(leaseClock: clock) { served in
            let store = served.store
            let expiry = Task { await store.runLeaseExpiry(interval: .milliseconds(5)) }
            defer { expiry.cancel() }
            let short = try await grant(served, ttl: 10).id
            let long = try await grant(served, ttl: 60).id
            for key in ["e/a", "e/b", "e/c"] { try await putWithLease(served, key, short) }
            try await putWithLease(served, "e/long", long)
            var watch = try await WatchStreamClient(served)
            try await watch.create("e/", prefix: true)
            _ = try await watch.next()

            clock.advance(by: .seconds(9))
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await served.value("e/a") != nil, "not expired before its TTL")
            clock.advance(by: .seconds(2))
            let events = try await watch.next()
            #expect(events.events.map { String(decoding: $0.kv.key, as: UTF8.self) } == ["e/a", "e/b", "e/c"])
            #expect(events.events.allSatisfy { $0.type == .delete })
            #expect(try await timeToLive(served, short).ttl == -1)
            #expect(try await served.value("e/long") != nil)
            #expect(try await timeToLive(served, long).ttl == 49)
        }
    }
}
