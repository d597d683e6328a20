import Foundation
import KubeAPI
import KubeServer
import Logging

/// One reconciling loop: its informers tell it which keys changed (through `queue`), and `reconcile` brings the
/// stored state of one key to what its spec asks, reading only caches and writing through the API. Reconciles are
/// level-triggered and idempotent, so a restart in the middle of one is harmless.
public protocol Controller: Sendable {
    var name: String { get }
    var queue: WorkQueue { get }
    /// Workers reconciling distinct keys at once.
    var workers: Int { get }
    func reconcile(_ key: String) async throws
    /// Every key this controller owns, queued again by the periodic resync (what a dropped or failed key relies on).
    func allKeys() -> [String]
}

/// What every controller shares: the in-process client, the informers, the event recorder and the clock.
public final class ControllerContext: Sendable {
    public let client: KubeClient
    public let informers: SharedInformers
    public let events: EventRecorder
    public let settings: ControllerSettings
    public let logger: Logger
    /// The controllers' clock (tests drive CronJobs and deadlines with their own).
    public let now: @Sendable () -> Date

    public init(
        client: KubeClient, settings: ControllerSettings = ControllerSettings(), logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        var client = client
        if client.userAgent == nil { client.userAgent = Self.userAgent }
        self.client = client
        self.informers = SharedInformers(client: client)
        self.settings = settings
        self.logger = logger
        self.now = now
        events = EventRecorder(client: client, now: now, logger: logger)
    }

    public func informer(_ collection: Collection) -> Informer { informers.informer(collection) }

    /// What the controllers' writes are recorded as in managedFields: `kube-controller-manager`, as upstream.
    public static let userAgent = "kube-controller-manager/v1.35.0 (linux/amd64) kelson"
}

/// Settings with kube-controller-manager's and k3s's flag names.
public struct ControllerSettings: Sendable {
    /// `--node-monitor-grace-period`: a node whose lease is older is `Ready=Unknown`.
    public var nodeMonitorGracePeriod: Duration = .seconds(40)
    /// `--service-cidr` (k3s's default).
    public var serviceCIDR = "10.43.0.0/16"
    /// `--service-node-port-range`.
    public var nodePortRange: ClosedRange<Int> = 30000...32767
    /// `--event-ttl` (kube-apiserver's flag): Events are deleted this long after they last happened.
    public var eventTTL: Duration = .seconds(3600)
    /// This process's name in the leader election of the controllers (several servers on one store); nil runs
    /// the controllers without one.
    public var leaderElectionIdentity: String?
    /// How often every key is queued again.
    public var resyncPeriod: Duration = .seconds(60)
    /// Where the API server is reached, for the `kubernetes` Service's Endpoints.
    public var apiServerAddress: (ip: String, port: Int)?
    /// The cluster CA (PEM), published in every namespace as the `kube-root-ca.crt` ConfigMap.
    public var certificateAuthorityPEM: String?

    public init() {}
}
