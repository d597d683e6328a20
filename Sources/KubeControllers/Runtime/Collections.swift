import KubeAPI
import KubeServer
import Synchronization

/// A collection the controllers watch, across all namespaces.
public struct Collection: Hashable, Sendable {
    public let apiVersion: String
    public let plural: String
    public let kind: String
    public let namespaced: Bool

    public init(apiVersion: String, plural: String, kind: String, namespaced: Bool = true) {
        self.apiVersion = apiVersion
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    /// The collection's path across namespaces, for lists and watches.
    public var path: String { KubeClient.path(apiVersion: apiVersion, plural: plural) }

    /// The path of one object (`key` is `namespace/name`, or `name` when cluster-scoped), or one of its
    /// subresources.
    public func path(key: String, subresource: String? = nil) -> String {
        let (namespace, name) = Self.split(key)
        return KubeClient.path(
            apiVersion: apiVersion, plural: plural, namespace: namespace, name: name, subresource: subresource)
    }

    /// The path of a namespace's collection (where creates go).
    public func path(namespace: String?) -> String {
        KubeClient.path(apiVersion: apiVersion, plural: plural, namespace: namespaced ? namespace : nil)
    }

    /// `namespace/name` → (namespace, name); `name` → (nil, name).
    public static func split(_ key: String) -> (namespace: String?, name: String) {
        guard let slash = key.firstIndex(of: "/") else { return (nil, key) }
        return (String(key[..<slash]), String(key[key.index(after: slash)...]))
    }

    public static let namespaces = Collection(
        apiVersion: "v1", plural: "namespaces", kind: "Namespace", namespaced: false)
    public static let nodes = Collection(apiVersion: "v1", plural: "nodes", kind: "Node", namespaced: false)
    public static let pods = Collection(apiVersion: "v1", plural: "pods", kind: "Pod")
    public static let services = Collection(apiVersion: "v1", plural: "services", kind: "Service")
    public static let endpoints = Collection(apiVersion: "v1", plural: "endpoints", kind: "Endpoints")
    public static let configMaps = Collection(apiVersion: "v1", plural: "configmaps", kind: "ConfigMap")
    public static let secrets = Collection(apiVersion: "v1", plural: "secrets", kind: "Secret")
    public static let serviceAccounts = Collection(apiVersion: "v1", plural: "serviceaccounts", kind: "ServiceAccount")
    public static let events = Collection(apiVersion: "v1", plural: "events", kind: "Event")
    public static let replicaSets = Collection(apiVersion: "apps/v1", plural: "replicasets", kind: "ReplicaSet")
    public static let deployments = Collection(apiVersion: "apps/v1", plural: "deployments", kind: "Deployment")
    public static let statefulSets = Collection(apiVersion: "apps/v1", plural: "statefulsets", kind: "StatefulSet")
    public static let daemonSets = Collection(apiVersion: "apps/v1", plural: "daemonsets", kind: "DaemonSet")
    public static let controllerRevisions = Collection(
        apiVersion: "apps/v1", plural: "controllerrevisions", kind: "ControllerRevision")
    public static let jobs = Collection(apiVersion: "batch/v1", plural: "jobs", kind: "Job")
    public static let cronJobs = Collection(apiVersion: "batch/v1", plural: "cronjobs", kind: "CronJob")
    public static let endpointSlices = Collection(
        apiVersion: "discovery.k8s.io/v1", plural: "endpointslices", kind: "EndpointSlice")
    public static let leases = Collection(apiVersion: "coordination.k8s.io/v1", plural: "leases", kind: "Lease")
}

/// One informer per collection, shared by every controller that reads it.
public final class SharedInformers: Sendable {
    public let client: KubeClient
    private let informers = Mutex<[Collection: Informer]>([:])

    public init(client: KubeClient) { self.client = client }

    /// The collection's informer, made on first use (before `ControllerManager.run` starts them).
    public func informer(_ collection: Collection) -> Informer {
        informers.withLock { informers in
            if let informer = informers[collection] { return informer }
            let informer = Informer(client: client, path: collection.path)
            informers[collection] = informer
            return informer
        }
    }

    public var all: [Informer] { informers.withLock { Array($0.values) } }
}
