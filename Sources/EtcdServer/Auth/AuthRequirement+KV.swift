import RevisionLog

/// What each KV request needs, in the order etcd checks it (`etcdserver/apply_auth.go`).
extension AuthRequirement {
    /// Write on the key; write on every key already attached to the lease (a user who could not
    /// revoke the lease may not extend it); read on the key when the previous value is asked for.
    static func requirements(of request: PutRequest) -> [AuthRequirement] {
        var requirements: [AuthRequirement] = [.write(.single(request.key)), .writeLeaseKeys(leaseID: request.lease)]
        if request.previousKeyValue { requirements.append(.read(.single(request.key))) }
        return requirements
    }

    static func requirements(of request: DeleteRequest) -> [AuthRequirement] {
        request.previousKeyValues ? [.write(request.range), .read(request.range)] : [.write(request.range)]
    }

    /// etcd's `checkTxnAuth`: read on every compared range, then the operations of both branches
    /// (whichever runs). Unlike etcd 3.4, which skips them, nested txns are checked the same way
    /// (as etcd 3.5 does).
    static func requirements(of request: TxnRequest) -> [AuthRequirement] {
        var requirements = request.compares.map { AuthRequirement.read($0.range) }
        for operation in request.success + request.failure {
            switch operation {
            case .range(let range): requirements.append(.read(range.range))
            // Inside a txn etcd checks neither the lease's keys nor prev_kv of a put.
            case .put(let put): requirements.append(.write(.single(put.key)))
            case .delete(let delete):
                if delete.previousKeyValues { requirements.append(.read(delete.range)) }
                requirements.append(.write(delete.range))
            case .txn(let nested): requirements += Self.requirements(of: nested)
            case .empty: continue
            }
        }
        return requirements
    }
}
