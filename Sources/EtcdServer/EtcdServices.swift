import GRPCWire
import RevisionLog

/// Limits of the etcd API, with etcd's defaults.
public struct EtcdServerConfiguration: Sendable {
    public var identity: ServerIdentity
    /// etcd's `--max-request-bytes` (1.5 MiB).
    public var maximumRequestBytes = 1_572_864
    /// gRPC's receive limit: etcd allows the request cap plus 512 KiB of gRPC overhead.
    public var maximumReceiveMessageBytes: Int { maximumRequestBytes + 512 * 1024 }

    public init(identity: ServerIdentity) { self.identity = identity }
}

/// Every etcd v3 service Kelson serves, ready to be mounted on a `GRPCServer`.
public struct EtcdServices: Sendable {
    public let router: GRPCServerRouter

    public init(store: Store, configuration: EtcdServerConfiguration) {
        var router = GRPCServerRouter()
        KVService(store: store, identity: configuration.identity,
                  maximumRequestBytes: configuration.maximumRequestBytes).register(into: &router)
        self.router = router
    }
}
