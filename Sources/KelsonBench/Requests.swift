import EtcdAPI
import Foundation

/// etcd request shapes the workloads send, built once here.
enum Requests {
    static let range = "/etcdserverpb.KV/Range"
    static let put = "/etcdserverpb.KV/Put"
    static let txn = "/etcdserverpb.KV/Txn"
    static let leaseGrant = "/etcdserverpb.Lease/LeaseGrant"
    static let leaseRevoke = "/etcdserverpb.Lease/LeaseRevoke"
    static let leaseKeepAlive = "/etcdserverpb.Lease/LeaseKeepAlive"
    static let watch = "/etcdserverpb.Watch/Watch"

    static func put(_ key: [UInt8], _ value: [UInt8]) -> Etcdserverpb_PutRequest {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key)
        request.value = Data(value)
        return request
    }

    static func range(
        _ key: [UInt8], end: [UInt8] = [], limit: Int64 = 0, revision: Int64 = 0, serializable: Bool,
        countOnly: Bool = false
    ) -> Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key)
        request.rangeEnd = Data(end)
        request.limit = limit
        request.revision = revision
        request.serializable = serializable
        request.countOnly = countOnly
        return request
    }

    static func operation(_ put: Etcdserverpb_PutRequest) -> Etcdserverpb_RequestOp {
        var operation = Etcdserverpb_RequestOp()
        operation.requestPut = put
        return operation
    }

    static func operation(_ range: Etcdserverpb_RangeRequest) -> Etcdserverpb_RequestOp {
        var operation = Etcdserverpb_RequestOp()
        operation.requestRange = range
        return operation
    }

    static func operation(delete key: [UInt8]) -> Etcdserverpb_RequestOp {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data(key)
        var operation = Etcdserverpb_RequestOp()
        operation.requestDeleteRange = delete
        return operation
    }

    /// kube-apiserver's optimistic-concurrency shape: if the key's mod_revision is `modRevision` (0: absent)
    /// then `then`, else read the key back.
    static func guarded(_ key: [UInt8], modRevision: Int64, then: Etcdserverpb_RequestOp) -> Etcdserverpb_TxnRequest {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key)
        compare.target = .mod
        compare.result = .equal
        compare.modRevision = modRevision
        var request = Etcdserverpb_TxnRequest()
        request.compare = [compare]
        request.success = [then]
        request.failure = [operation(range(key, serializable: false))]
        return request
    }
}
