import EtcdAPI
import Foundation
import RevisionLog

/// Protobuf ⇄ core types. The core never sees protobuf; these functions are the only bridge.
enum Conversions {
    static func rangeRequest(_ message: Etcdserverpb_RangeRequest) throws(StoreError) -> RangeRequest {
        var request = RangeRequest(range: KeyRange(key: [UInt8](message.key), rangeEnd: [UInt8](message.rangeEnd)))
        request.revision = message.revision
        request.limit = message.limit
        switch message.sortOrder {
        case .none: request.sortOrder = .none
        case .ascend: request.sortOrder = .ascend
        case .descend: request.sortOrder = .descend
        case .UNRECOGNIZED: throw .invalidSortOption
        }
        switch message.sortTarget {
        case .key: request.sortTarget = .key
        case .version: request.sortTarget = .version
        case .create: request.sortTarget = .create
        case .mod: request.sortTarget = .mod
        case .value: request.sortTarget = .value
        case .UNRECOGNIZED: throw .invalidSortOption
        }
        request.keysOnly = message.keysOnly
        request.countOnly = message.countOnly
        request.minModRevision = message.minModRevision
        request.maxModRevision = message.maxModRevision
        request.minCreateRevision = message.minCreateRevision
        request.maxCreateRevision = message.maxCreateRevision
        return request
    }

    static func putRequest(_ message: Etcdserverpb_PutRequest) -> PutRequest {
        var request = PutRequest(key: [UInt8](message.key), value: [UInt8](message.value), lease: message.lease)
        request.previousKeyValue = message.prevKv
        request.ignoreValue = message.ignoreValue
        request.ignoreLease = message.ignoreLease
        return request
    }

    static func deleteRequest(_ message: Etcdserverpb_DeleteRangeRequest) -> DeleteRequest {
        DeleteRequest(
            range: KeyRange(key: [UInt8](message.key), rangeEnd: [UInt8](message.rangeEnd)),
            previousKeyValues: message.prevKv)
    }

    static func txnRequest(_ message: Etcdserverpb_TxnRequest) throws(StoreError) -> TxnRequest {
        TxnRequest(
            compares: message.compare.map(compare),
            success: try operations(message.success), failure: try operations(message.failure))
    }

    private static func operations(_ messages: [Etcdserverpb_RequestOp]) throws(StoreError) -> [TxnOperation] {
        var operations: [TxnOperation] = []
        operations.reserveCapacity(messages.count)
        for message in messages {
            switch message.request {
            case .requestRange(let range): operations.append(.range(try rangeRequest(range)))
            case .requestPut(let put): operations.append(.put(putRequest(put)))
            case .requestDeleteRange(let delete): operations.append(.delete(deleteRequest(delete)))
            case .requestTxn(let txn): operations.append(.txn(try txnRequest(txn)))
            case nil: operations.append(.empty)
            }
        }
        return operations
    }

    /// A target_union of another kind than `target` compares against zero, as etcd does.
    private static func compare(_ message: Etcdserverpb_Compare) -> Compare {
        let target: Compare.Target
        switch message.target {
        case .version:
            if case .version(let value) = message.targetUnion { target = .version(value) } else { target = .version(0) }
        case .create:
            if case .createRevision(let value) = message.targetUnion {
                target = .createRevision(value)
            } else {
                target = .createRevision(0)
            }
        case .mod:
            if case .modRevision(let value) = message.targetUnion {
                target = .modRevision(value)
            } else {
                target = .modRevision(0)
            }
        case .value:
            if case .value(let value) = message.targetUnion {
                target = .value([UInt8](value))
            } else {
                target = .value([])
            }
        case .lease, .UNRECOGNIZED:
            if case .lease(let value) = message.targetUnion { target = .lease(value) } else { target = .lease(0) }
        }
        let comparison: Compare.Operator
        switch message.result {
        case .equal, .UNRECOGNIZED: comparison = .equal
        case .greater: comparison = .greater
        case .less: comparison = .less
        case .notEqual: comparison = .notEqual
        }
        return Compare(
            range: KeyRange(key: [UInt8](message.key), rangeEnd: [UInt8](message.rangeEnd)),
            target: target, comparison: comparison)
    }

    // MARK: Responses

    static func keyValue(_ keyValue: KeyValue) -> Mvccpb_KeyValue {
        var message = Mvccpb_KeyValue()
        message.key = Data(keyValue.key)
        message.createRevision = keyValue.createRevision
        message.modRevision = keyValue.modRevision
        message.version = keyValue.version
        message.value = Data(keyValue.value)
        message.lease = keyValue.lease
        return message
    }

    /// Inner results of a txn carry a header with only the revision (etcd's applier fills nothing else).
    static func revisionHeader(_ revision: Int64) -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.revision = revision
        return header
    }

    static func rangeResponse(_ result: RangeResult) -> Etcdserverpb_RangeResponse {
        var message = Etcdserverpb_RangeResponse()
        message.header = revisionHeader(result.revision)
        message.kvs = result.keyValues.map(keyValue)
        message.more = result.more
        message.count = result.count
        return message
    }

    static func putResponse(_ result: PutResult) -> Etcdserverpb_PutResponse {
        var message = Etcdserverpb_PutResponse()
        message.header = revisionHeader(result.revision)
        if let previous = result.previousKeyValue { message.prevKv = keyValue(previous) }
        return message
    }

    static func deleteResponse(_ result: DeleteResult) -> Etcdserverpb_DeleteRangeResponse {
        var message = Etcdserverpb_DeleteRangeResponse()
        message.header = revisionHeader(result.revision)
        message.deleted = result.deleted
        message.prevKvs = result.previousKeyValues.map(keyValue)
        return message
    }

    /// A nested txn's header stays empty: etcd never fills it.
    static func txnResponse(_ result: TxnResult, nested: Bool = false) -> Etcdserverpb_TxnResponse {
        var message = Etcdserverpb_TxnResponse()
        message.header = nested ? Etcdserverpb_ResponseHeader() : revisionHeader(result.revision)
        message.succeeded = result.succeeded
        message.responses = result.results.map { result in
            var operation = Etcdserverpb_ResponseOp()
            switch result {
            case .range(let range): operation.responseRange = rangeResponse(range)
            case .put(let put): operation.responsePut = putResponse(put)
            case .delete(let delete): operation.responseDeleteRange = deleteResponse(delete)
            case .txn(let txn): operation.responseTxn = txnResponse(txn, nested: true)
            case .empty: break
            }
            return operation
        }
        return message
    }
}
