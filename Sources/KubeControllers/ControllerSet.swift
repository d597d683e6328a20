/// Every controller `kelson server` runs, in the order docs/cluster.md lists them.
enum ControllerSet {
    static func make(_ context: ControllerContext) -> [any Controller] {
        [
            NamespaceController(context: context),
            ServiceAccountController(context: context),
            ReplicaSetController(context: context),
            DeploymentController(context: context),
            JobController(context: context),
            CronJobController(context: context),
            GarbageCollector(context: context),
            Scheduler(context: context),
            NodeLifecycleController(context: context),
            EndpointsController(context: context),
            EndpointSliceController(context: context),
        ]
    }
}
