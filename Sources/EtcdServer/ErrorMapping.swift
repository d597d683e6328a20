import EtcdAPI
import GRPCWire
import RevisionLog

/// The one table from core errors to etcd's wire errors (see `EtcdWireError` for the strings).
extension StoreError {
    var etcdWireError: EtcdWireError {
        switch code {
        case .emptyKey: return .emptyKey
        case .keyNotFound: return .keyNotFound
        case .valueProvided: return .valueProvided
        case .leaseProvided: return .leaseProvided
        case .tooManyOperations: return .tooManyOperations
        case .duplicateKey: return .duplicateKey
        case .invalidSortOption: return .invalidSortOption
        case .compacted: return .compacted
        case .futureRevision: return .futureRevision
        case .leaseNotFound: return .leaseNotFound
        case .leaseExists: return .leaseExists
        case .leaseTTLTooLarge: return .leaseTTLTooLarge
        case .notSupported: return EtcdWireError(grpcCode: 12, message: "kelson: \(detail)")
        case .requestTooLarge: return .requestTooLarge
        case .tooManyRequests: return .tooManyRequests
        case .stopped: return .stopped
        case .corrupt: return .corrupt
        case .staleAuthorization: return .authOldRevision
        // Only `kelson migrate` raises it; no etcd RPC can.
        case .notEmpty: return EtcdWireError(grpcCode: 9, message: "kelson: \(detail)")
        // etcd has no storage-failure error (it panics); Unavailable tells clients to retry elsewhere.
        case .backendFailure: return EtcdWireError(grpcCode: 14, message: "kelson: storage failure: \(detail)")
        case .unavailable: return EtcdWireError(grpcCode: 14, message: "kelson: database unavailable: \(detail)")
        }
    }
}

extension EtcdWireError {
    var grpcStatus: GRPCStatus { GRPCStatus(code: GRPCStatus.Code(rawValue: grpcCode), message: message) }
}

extension GRPCStatus {
    init(_ error: StoreError) { self = error.etcdWireError.grpcStatus }
}
