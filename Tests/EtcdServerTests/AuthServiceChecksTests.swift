import EtcdAPI
import Foundation
import GRPCWire
import Testing

@testable import EtcdServer

/// With auth on, the Lease and Maintenance RPCs check what etcd 3.4 checks.
@Suite("Auth checks on Lease and Maintenance over gRPC", .serialized)
struct AuthServiceChecksTests {
    @Test("lease revoke, time-to-live --keys, grant; root-only maintenance; open status and alarms")
    func checks() async throws {
        let server = try await AuthServer()
        let root = try await server.setUpRootAndReader()
        let alice = try await server.authenticate("alice", "alicepw")
        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = 60
        // As in etcd 3.4, a grant checks no permission, but a token that is sent must be valid.
        await expectWireError(.invalidAuthToken) {
            let _: Etcdserverpb_LeaseGrantResponse = try await server.call(
                "/etcdserverpb.Lease/LeaseGrant", grant, token: "forged.1")
        }
        let _: Etcdserverpb_LeaseGrantResponse = try await server.call("/etcdserverpb.Lease/LeaseGrant", grant)
        let aliceLease: Etcdserverpb_LeaseGrantResponse = try await server.call(
            "/etcdserverpb.Lease/LeaseGrant", grant, token: alice)
        let rootLease: Etcdserverpb_LeaseGrantResponse = try await server.call(
            "/etcdserverpb.Lease/LeaseGrant", grant, token: root)
        try await server.put("b/secret", "x", lease: rootLease.id, token: root)

        var timeToLive = Etcdserverpb_LeaseTimeToLiveRequest()
        timeToLive.id = rootLease.id
        let withoutKeys: Etcdserverpb_LeaseTimeToLiveResponse = try await server.call(
            "/etcdserverpb.Lease/LeaseTimeToLive", timeToLive, token: alice)
        #expect(withoutKeys.grantedTtl == 60)
        timeToLive.keys = true
        await expectWireError(.permissionDenied) {
            let _: Etcdserverpb_LeaseTimeToLiveResponse = try await server.call(
                "/etcdserverpb.Lease/LeaseTimeToLive", timeToLive, token: alice)
        }
        var revoke = Etcdserverpb_LeaseRevokeRequest()
        revoke.id = rootLease.id
        await expectWireError(.permissionDenied) {
            let _: Etcdserverpb_LeaseRevokeResponse = try await server.call(
                "/etcdserverpb.Lease/LeaseRevoke", revoke, token: alice)
        }
        revoke.id = aliceLease.id  // no keys: nothing to protect
        let _: Etcdserverpb_LeaseRevokeResponse = try await server.call(
            "/etcdserverpb.Lease/LeaseRevoke", revoke, token: alice)
        revoke.id = rootLease.id
        let _: Etcdserverpb_LeaseRevokeResponse = try await server.call(
            "/etcdserverpb.Lease/LeaseRevoke", revoke, token: root)

        await expectWireError(.permissionDenied) {
            let _: Etcdserverpb_HashKVResponse = try await server.call(
                "/etcdserverpb.Maintenance/HashKV", Etcdserverpb_HashKVRequest(), token: alice)
        }
        await expectWireError(.permissionDenied) {
            let _: Etcdserverpb_DefragmentResponse = try await server.call(
                "/etcdserverpb.Maintenance/Defragment", Etcdserverpb_DefragmentRequest(), token: alice)
        }
        let _: Etcdserverpb_HashKVResponse = try await server.call(
            "/etcdserverpb.Maintenance/HashKV", Etcdserverpb_HashKVRequest(), token: root)
        await expectWireError(.invalidAuthToken) {
            let _: Etcdserverpb_AlarmResponse = try await server.call(
                "/etcdserverpb.Maintenance/Alarm", Etcdserverpb_AlarmRequest(), token: "forged.1")
        }
        let _: Etcdserverpb_AlarmResponse = try await server.call(
            "/etcdserverpb.Maintenance/Alarm", Etcdserverpb_AlarmRequest(), token: alice)
        let _: Etcdserverpb_StatusResponse = try await server.call(
            "/etcdserverpb.Maintenance/Status", Etcdserverpb_StatusRequest())

        // Snapshot (a stream) is root-only too.
        var metadata = GRPCMetadata()
        metadata.add("token", alice)
        let stream = try await server.client.openStream("/etcdserverpb.Maintenance/Snapshot", metadata: metadata)
        try await stream.send(try Etcdserverpb_SnapshotRequest().serializedBytes())
        try await stream.finish()
        do {
            for try await _ in stream.responses { Issue.record("a non-root user got snapshot data") }
            Issue.record("the snapshot stream should fail")
        } catch let status as GRPCStatus {
            #expect(status.code == .permissionDenied && status.message == EtcdWireError.permissionDenied.message)
        }
        await server.stop()
    }
}
