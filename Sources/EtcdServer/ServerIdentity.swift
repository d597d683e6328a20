import EtcdAPI

/// Who this server says it is in every response header (etcd `v3rpc/header.go`).
public struct ServerIdentity: Sendable {
    public var clusterID: UInt64
    public var memberID: UInt64
    public var name: String
    /// Kelson has no raft; it reports a constant term so clients that read it see a stable leader.
    public var raftTerm: UInt64 = 2

    public init(clusterID: UInt64, memberID: UInt64, name: String) {
        self.clusterID = clusterID
        self.memberID = memberID
        self.name = name
    }

    /// A header for a response at `revision`.
    func header(revision: Int64) -> Etcdserverpb_ResponseHeader {
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = clusterID
        header.memberID = memberID
        header.revision = revision
        header.raftTerm = raftTerm
        return header
    }
}
