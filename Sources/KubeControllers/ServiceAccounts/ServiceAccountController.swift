import Foundation
import KubeAPI
import KubeServer

/// What every namespace holds from the start (kube-controller-manager's serviceaccount and root-ca-cert-publisher
/// controllers): the `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap with the cluster's CA, which a
/// pod's projected service-account volume reads. In `default` it also keeps the `kubernetes` Service (the first
/// address of the service range, port 443) and its Endpoints and EndpointSlice pointing at the API server, as
/// kube-apiserver's own bootstrap controller does.
final class ServiceAccountController: Controller {
    let name = "serviceaccount"
    let queue = WorkQueue()
    let workers = 2
    let context: ControllerContext
    let namespaces: Informer
    let serviceAccounts: Informer
    let configMaps: Informer
    static let rootCAName = "kube-root-ca.crt"

    init(context: ControllerContext) {
        self.context = context
        namespaces = context.informer(.namespaces)
        serviceAccounts = context.informer(.serviceAccounts)
        configMaps = context.informer(.configMaps)
        namespaces.onChange { [queue] key in queue.add(key) }
        for informer in [serviceAccounts, configMaps] {
            informer.onChange { [queue] key in queue.add(Collection.split(key).namespace ?? "") }
        }
    }

    func allKeys() -> [String] { namespaces.objects.map(\.key) }

    func reconcile(_ namespace: String) async throws {
        guard let object = namespaces.get(namespace), !object.isDeleting else { return }
        let client = context.client
        if serviceAccounts.get("\(namespace)/default") == nil {
            try await createIfAbsent(
                Collection.serviceAccounts.path(namespace: namespace),
                ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": ["name": "default"]])
        }
        if let authority = context.settings.certificateAuthorityPEM {
            let data: JSONValue = ["ca.crt": .string(authority)]
            if let current = configMaps.get("\(namespace)/\(Self.rootCAName)") {
                if current["data"] != data {
                    var updated = current
                    updated["data"] = data
                    _ = try await client.update(
                        Collection.configMaps.path(key: "\(namespace)/\(Self.rootCAName)"), updated)
                }
            } else {
                try await createIfAbsent(
                    Collection.configMaps.path(namespace: namespace),
                    [
                        "apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": [
                            "name": .string(Self.rootCAName),
                            "annotations": ["kubernetes.io/description": .string(Self.rootCADescription)],
                        ],
                        "data": data,
                    ])
            }
        }
        if namespace == "default", let endpoint = context.settings.apiServerAddress {
            try await KubernetesService(client: client, settings: context.settings).ensure(endpoint)
        }
    }

    static let rootCADescription =
        "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."

    private func createIfAbsent(_ path: String, _ object: JSONValue) async throws {
        do {
            _ = try await context.client.create(path, object)
        } catch {
            guard error.code == 409 else { throw error }
        }
    }
}

/// The `kubernetes` Service in `default`, and where it leads.
struct KubernetesService {
    let client: KubeClient
    let settings: ControllerSettings

    func ensure(_ endpoint: (ip: String, port: Int)) async throws {
        let services = Collection.services.path(namespace: "default")
        if (try? await client.get(services + "/kubernetes")) == nil {
            let service: JSONValue = [
                "apiVersion": "v1", "kind": "Service",
                "metadata": [
                    "name": "kubernetes", "labels": ["component": "apiserver", "provider": "kubernetes"],
                ],
                "spec": [
                    "type": "ClusterIP", "clusterIP": .string(ServiceRange.firstAddress(of: settings.serviceCIDR)),
                    "sessionAffinity": "None",
                    "ports": [
                        ["name": "https", "port": 443, "protocol": "TCP", "targetPort": .int(Int64(endpoint.port))]
                    ],
                ],
            ]
            do { _ = try await client.create(services, service) } catch { guard error.code == 409 else { throw error } }
        }
        let endpoints: JSONValue = [
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": ["name": "kubernetes", "labels": ["endpointslice.kubernetes.io/skip-mirror": "true"]],
            "subsets": [
                [
                    "addresses": [["ip": .string(endpoint.ip)]],
                    "ports": [["name": "https", "port": .int(Int64(endpoint.port)), "protocol": "TCP"]],
                ]
            ],
        ]
        try await write(Collection.endpoints.path(namespace: "default"), name: "kubernetes", endpoints)
        let slice: JSONValue = [
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": ["name": "kubernetes", "labels": ["kubernetes.io/service-name": "kubernetes"]],
            "addressType": "IPv4",
            "endpoints": [["addresses": [.string(endpoint.ip)], "conditions": ["ready": true]]],
            "ports": [["name": "https", "port": .int(Int64(endpoint.port)), "protocol": "TCP"]],
        ]
        try await write(Collection.endpointSlices.path(namespace: "default"), name: "kubernetes", slice)
    }

    /// Creates the object, or brings the stored one's content (everything but metadata) to `object`.
    private func write(_ collection: String, name: String, _ object: JSONValue) async throws {
        guard var current = try? await client.get(collection + "/" + name) else {
            do { _ = try await client.create(collection, object) } catch {
                guard error.code == 409 else { throw error }
            }
            return
        }
        var changed = false
        for (key, value) in object.objectValue ?? [:] where key != "metadata" && current[key] != value {
            current[key] = value
            changed = true
        }
        if changed { _ = try await client.update(collection + "/" + name, current) }
    }
}

/// Addresses of the service range.
enum ServiceRange {
    /// The first usable address of an IPv4 CIDR (`10.43.0.0/16` → `10.43.0.1`), which the `kubernetes` Service takes.
    static func firstAddress(of cidr: String) -> String {
        let network = cidr.split(separator: "/").first.map(String.init) ?? cidr
        var octets = network.split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4 else { return network }
        let value = (octets[0] << 24 | octets[1] << 16 | octets[2] << 8 | octets[3]) + 1
        octets = [value >> 24 & 255, value >> 16 & 255, value >> 8 & 255, value & 255]
        return octets.map(String.init).joined(separator: ".")
    }
}
