/// Every controller `kelson server` runs, in the order they are listed in docs/cluster.md.
enum ControllerSet {
    static func make(_ context: ControllerContext) -> [any Controller] {
        [
            NamespaceController(context: context),
            ReplicaSetController(context: context),
            DeploymentController(context: context),
            GarbageCollector(context: context),
        ]
    }
}
