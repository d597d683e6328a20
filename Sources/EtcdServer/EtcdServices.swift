import Foundation
import GRPCWire
import Logging
import RevisionLog

/// Limits of the etcd API, with etcd's defaults.
public struct EtcdServerConfiguration: Sendable {
    public var identity: ServerIdentity
    /// etcd's `--max-request-bytes` (1.5 MiB).
    public var maximumRequestBytes = 1_572_864
    /// This member's client and peer URLs, as MemberList reports them.
    public var clientURLs: [String] = []
    public var peerURLs: [String] = []
    /// How often watchers created with `progress_notify` get an empty progress response (etcd: 10 min).
    public var watchProgressNotifyInterval: Duration = .seconds(600)
    /// Per-watcher buffers, catch-up reads and the number of watchers on the whole server (`WatchLimits`).
    public var watchLimits = WatchLimits()
    /// Watchers on one Watch stream; a create beyond it is refused (etcd has no such limit; this bounds what one
    /// client can hold).
    public var watchersPerStreamMaximum = 10_000
    /// Where Snapshot writes its temporary copy of the database before streaming it. Put it on the
    /// same file system as the data directory: the copy can be as large as the database.
    public var snapshotDirectory = NSTemporaryDirectory()
    /// etcd's `--quota-backend-bytes`: 0 is etcd's default (2 GiB), negative turns the quota off (`SpaceQuota`).
    public var quotaBackendBytes: Int64 = 0
    /// Auth: token lifetime and cap, password hashing cost.
    public var auth = AuthConfiguration()
    /// gRPC's receive limit: etcd allows the request cap plus 512 KiB of gRPC overhead.
    public var maximumReceiveMessageBytes: Int { maximumRequestBytes + 512 * 1024 }

    public init(identity: ServerIdentity) { self.identity = identity }
}

/// Every etcd v3 service Kelson serves, ready to be mounted on a `GRPCServer`.
public struct EtcdServices: Sendable {
    public let router: GRPCServerRouter
    public let watchHub: WatchHub
    /// Users, roles, tokens and the permission checks every service makes (`AuthStore.authorize`).
    let auth: AuthStore
    /// Raised alarms (NOSPACE among them), as Maintenance Alarm and `/health` report them.
    public let alarms: AlarmList
    public let quota: SpaceQuota

    public init(store: Store, configuration: EtcdServerConfiguration, logger: Logger = Logger(label: "kelson")) {
        var router = GRPCServerRouter()
        let identity = configuration.identity
        let auth = AuthStore(store: store, configuration: configuration.auth)
        // Opening: the stored auth state is read through the store's door (at once on SQLite); until it is, every
        // check fails closed, so serve only once it is here.
        if !auth.waitUntilLoaded() { logger.error("the auth state could not be read; auth checks fail until it can") }
        self.auth = auth
        alarms = AlarmList(store: store)
        quota = SpaceQuota(
            bytes: configuration.quotaBackendBytes, store: store, alarms: alarms, memberID: identity.memberID,
            logger: logger)
        KVService(
            store: store, identity: identity, maximumRequestBytes: configuration.maximumRequestBytes, auth: auth,
            quota: quota
        )
        .register(into: &router)
        watchHub = WatchHub(store: store, limits: configuration.watchLimits)
        WatchService(
            hub: watchHub, identity: identity, fragmentBytes: configuration.maximumReceiveMessageBytes,
            progressInterval: configuration.watchProgressNotifyInterval,
            watchersPerStreamMaximum: configuration.watchersPerStreamMaximum, auth: auth
        )
        .register(into: &router)
        LeaseService(store: store, identity: identity, auth: auth, quota: quota).register(into: &router)
        MaintenanceService(
            store: store, identity: identity, alarms: alarms, snapshotDirectory: configuration.snapshotDirectory,
            auth: auth
        )
        .register(into: &router)
        ClusterService(
            store: store, identity: identity, clientURLs: configuration.clientURLs, peerURLs: configuration.peerURLs
        )
        .register(into: &router)
        AuthService(auth: auth, store: store, identity: identity).register(into: &router)
        self.router = router
    }
}
