/// Every controller `kelson server` runs, by name, in the order docs/cluster.md lists them. Made only when
/// enabled, since making one registers its informers.
enum ControllerSet {
    static let all: [(name: String, make: @Sendable (ControllerContext) -> any Controller)] = [
        ("namespace", NamespaceController.init),
        ("serviceaccount", ServiceAccountController.init),
        ("replicaset", ReplicaSetController.init),
        ("deployment", DeploymentController.init),
        ("job", JobController.init),
        ("cronjob", CronJobController.init),
        ("daemonset", DaemonSetController.init),
        ("statefulset", StatefulSetController.init),
        ("garbage-collector", GarbageCollector.init),
        ("endpoints", EndpointsController.init),
        ("endpointslice", EndpointSliceController.init),
        ("node-lifecycle", NodeLifecycleController.init),
        ("event-ttl", EventTTLController.init),
        ("scheduler", Scheduler.init),
    ]

    static func make(_ context: ControllerContext) -> [any Controller] { make(context, disabled: []) }

    static func make(_ context: ControllerContext, disabled: Set<String>) -> [any Controller] {
        all.filter { !disabled.contains($0.name) }.map { $0.make(context) }
    }
}
