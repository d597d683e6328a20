/// The kinds `kelson server` serves: deliberately fewer than Kubernetes, all a developer's cluster needs. Each is
/// listed once with the versions upstream ever served it in (facts from the Kubernetes API's history); the
/// stable version is what is stored.
public enum BuiltinResources {
    static let appsAliases = [GroupVersion("apps", "v1beta2"), GroupVersion("apps", "v1beta1")]

    public static let all: [ResourceType] = [
        ResourceType(
            group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, shortNames: ["ns"],
            subresources: [.status, .finalize], schemaName: "io.k8s.api.core.v1.Namespace"),
        ResourceType(
            group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, shortNames: ["po"],
            categories: ["all"],
            subresources: [.status, .log, .exec, .attach, .portforward, .binding, .eviction],
            schemaName: "io.k8s.api.core.v1.Pod"),
        ResourceType(
            group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, shortNames: ["svc"],
            categories: ["all"], subresources: [.status], storagePrefix: "services/specs",
            schemaName: "io.k8s.api.core.v1.Service"),
        ResourceType(
            group: "", version: "v1", kind: "Endpoints", plural: "endpoints", namespaced: true, shortNames: ["ep"],
            storagePrefix: "services/endpoints", schemaName: "io.k8s.api.core.v1.Endpoints"),
        ResourceType(
            group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, shortNames: ["cm"],
            schemaName: "io.k8s.api.core.v1.ConfigMap"),
        ResourceType(
            group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true,
            schemaName: "io.k8s.api.core.v1.Secret"),
        ResourceType(
            group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true,
            shortNames: ["sa"], subresources: [.token], schemaName: "io.k8s.api.core.v1.ServiceAccount"),
        ResourceType(
            group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false, shortNames: ["no"],
            subresources: [.status], storagePrefix: "minions", schemaName: "io.k8s.api.core.v1.Node"),
        ResourceType(
            group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, shortNames: ["ev"],
            schemaName: "io.k8s.api.core.v1.Event"),
        ResourceType(
            group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true,
            shortNames: ["deploy"], categories: ["all"], subresources: [.status, .scale],
            aliases: appsAliases + [GroupVersion("extensions", "v1beta1")],
            schemaName: "io.k8s.api.apps.v1.Deployment", tracksGeneration: true),
        ResourceType(
            group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true,
            shortNames: ["rs"], categories: ["all"], subresources: [.status, .scale],
            aliases: [GroupVersion("apps", "v1beta2"), GroupVersion("extensions", "v1beta1")],
            schemaName: "io.k8s.api.apps.v1.ReplicaSet", tracksGeneration: true),
        ResourceType(
            group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true,
            shortNames: ["sts"], categories: ["all"], subresources: [.status, .scale], aliases: appsAliases,
            schemaName: "io.k8s.api.apps.v1.StatefulSet", tracksGeneration: true),
        ResourceType(
            group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", namespaced: true,
            shortNames: ["ds"], categories: ["all"], subresources: [.status],
            aliases: [GroupVersion("apps", "v1beta2"), GroupVersion("extensions", "v1beta1")],
            schemaName: "io.k8s.api.apps.v1.DaemonSet", tracksGeneration: true),
        ResourceType(
            group: "apps", version: "v1", kind: "ControllerRevision", plural: "controllerrevisions", namespaced: true,
            aliases: appsAliases, schemaName: "io.k8s.api.apps.v1.ControllerRevision"),
        ResourceType(
            group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true, categories: ["all"],
            subresources: [.status], schemaName: "io.k8s.api.batch.v1.Job", tracksGeneration: true),
        ResourceType(
            group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", namespaced: true,
            shortNames: ["cj"], categories: ["all"], subresources: [.status],
            aliases: [GroupVersion("batch", "v1beta1")], schemaName: "io.k8s.api.batch.v1.CronJob",
            tracksGeneration: true),
        ResourceType(
            group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices",
            namespaced: true, aliases: [GroupVersion("discovery.k8s.io", "v1beta1")],
            schemaName: "io.k8s.api.discovery.v1.EndpointSlice"),
        ResourceType(
            group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true,
            aliases: [GroupVersion("coordination.k8s.io", "v1beta1")],
            schemaName: "io.k8s.api.coordination.v1.Lease"),
        // events.k8s.io Events are the same stored objects as core Events, seen through another version.
        ResourceType(
            group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", namespaced: true,
            shortNames: ["ev"], aliases: [GroupVersion("events.k8s.io", "v1beta1")], storagePrefix: "events",
            schemaName: "io.k8s.api.events.v1.Event"),
        ResourceType(
            group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition",
            plural: "customresourcedefinitions", namespaced: false, shortNames: ["crd", "crds"],
            categories: ["api-extensions"], subresources: [.status],
            aliases: [GroupVersion("apiextensions.k8s.io", "v1beta1")],
            storagePrefix: "apiextensions.k8s.io/customresourcedefinitions",
            schemaName: "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
            tracksGeneration: true),
    ]
}
