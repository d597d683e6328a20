import Foundation
import KubeAPI
import KubeServer

/// Keeps the EndpointSlices of each Service with a selector (kube-controller-manager's endpointslice controller):
/// one slice per distinct set of resolved ports (at most `maxEndpointsPerSlice` endpoints each), named from
/// `<service>-`, labelled with the Service's name and this controller as manager, owned by the Service. Every pod
/// with an IP is an endpoint, terminating ones included, with its `ready`, `serving` and `terminating` conditions.
/// A Service without endpoints keeps one empty slice, as upstream's placeholder.
final class EndpointSliceController: Controller {
    static let managedBy = "endpointslice-controller.k8s.io"
    static let managedByLabel = "endpointslice.kubernetes.io/managed-by"
    static let serviceNameLabel = "kubernetes.io/service-name"
    /// `--max-endpoints-per-slice`'s default.
    static let maxEndpointsPerSlice = 100

    let name = "endpointslice"
    let queue = WorkQueue()
    let workers = 2
    let context: ControllerContext
    let services: Informer
    let pods: Informer
    let slices: Informer

    init(context: ControllerContext) {
        self.context = context
        services = context.informer(.services)
        pods = context.informer(.pods)
        slices = context.informer(.endpointSlices)
        services.onChange { [queue] key in queue.add(key) }
        slices.onEvent { [queue] event in
            guard let slice = event.new ?? event.old, Self.isManaged(slice),
                let service = slice[path: "metadata", "labels", Self.serviceNameLabel]?.stringValue
            else { return }
            queue.add("\(slice.namespace)/\(service)")
        }
        pods.onEvent { [queue, services] event in
            let namespace = Collection.split(event.key).namespace ?? ""
            let labelSets = [event.old, event.new].compactMap { $0?.labels }
            for key in ServiceBackends.services(selecting: labelSets, in: services.objects(inNamespace: namespace)) {
                queue.add(key)
            }
        }
    }

    static func isManaged(_ slice: JSONValue) -> Bool {
        slice[path: "metadata", "labels", managedByLabel]?.stringValue == managedBy
    }

    func allKeys() -> [String] {
        var keys = Set(services.objects.map(\.key))
        for slice in slices.objects where Self.isManaged(slice) {
            if let service = slice[path: "metadata", "labels", Self.serviceNameLabel]?.stringValue {
                keys.insert("\(slice.namespace)/\(service)")
            }
        }
        return Array(keys)
    }

    func reconcile(_ key: String) async throws {
        let (namespace, serviceName) = Collection.split(key)
        let namespaceName = namespace ?? ""
        let existing = slices.objects(inNamespace: namespaceName).filter {
            Self.isManaged($0) && $0[path: "metadata", "labels", Self.serviceNameLabel]?.stringValue == serviceName
        }
        .sorted { $0.name < $1.name }
        guard let service = services.get(key), ServiceBackends.selector(of: service) != nil,
            !service.isDeleting
        else {
            // No Service (or no selector any more): its slices go (the garbage collector would too, by owner).
            for slice in existing { try await delete(slice) }
            return
        }
        var desired = Self.desiredSlices(for: service, pods: pods.objects(inNamespace: namespaceName))
        var unused = existing
        // Reuse a slice with the same ports where there is one, so most changes are updates.
        var writes: [(current: JSONValue?, body: JSONValue)] = []
        for index in desired.indices {
            let ports = desired[index]["ports"]
            if let match = unused.firstIndex(where: { $0["ports"] == ports }) ?? unused.indices.first {
                writes.append((unused[match], desired[index]))
                unused.remove(at: match)
            } else {
                writes.append((nil, desired[index]))
            }
        }
        desired.removeAll()
        let labels = Self.labels(for: service)
        let owner: JSONValue = [
            "apiVersion": "v1", "kind": "Service", "name": .string(service.name), "uid": .string(service.uid),
            "controller": true, "blockOwnerDeletion": true,
        ]
        let client = context.client
        for (current, body) in writes {
            if let current, current["endpoints"] == body["endpoints"], current["ports"] == body["ports"],
                current["addressType"] == body["addressType"],
                (current[path: "metadata", "labels"]?.objectValue ?? [:]) == labels,
                current.controllerReference?["uid"]?.stringValue == service.uid
            {
                continue
            }
            var slice = current ?? ["metadata": ["generateName": .string(service.name + "-")]]
            slice["apiVersion"] = "discovery.k8s.io/v1"
            slice["kind"] = "EndpointSlice"
            slice[path: "metadata", "labels"] = .object(labels)
            slice[path: "metadata", "ownerReferences"] = [owner]
            slice["addressType"] = body["addressType"]
            slice["endpoints"] = body["endpoints"]
            slice["ports"] = body["ports"]
            do {
                if let current {
                    _ = try await client.update(Collection.endpointSlices.path(key: current.key), slice)
                } else {
                    _ = try await client.create(Collection.endpointSlices.path(namespace: namespaceName), slice)
                }
            } catch {
                guard error.code == 409 || error.code == 404 else { throw error }
                queue.addRateLimited(key)
            }
        }
        for slice in unused { try await delete(slice) }
    }

    private func delete(_ slice: JSONValue) async throws {
        do {
            _ = try await context.client.delete(Collection.endpointSlices.path(key: slice.key))
        } catch {
            guard error.code == 404 else { throw error }
        }
    }

    static func labels(for service: JSONValue) -> JSONObject {
        var labels = ServiceBackends.labels(of: service)
        labels[serviceNameLabel] = .string(service.name)
        labels[managedByLabel] = .string(managedBy)
        return labels
    }

    /// The slices' content (`addressType`, `endpoints`, `ports`), by port set, endpoints sorted by pod name.
    static func desiredSlices(for service: JSONValue, pods: [JSONValue]) -> [JSONValue] {
        let publishNotReady = ServiceBackends.publishesNotReady(service)
        var groups: [[ServiceBackends.Port]: [JSONValue]] = [:]
        let hasPorts = !(service[path: "spec", "ports"]?.arrayValue ?? []).isEmpty
        for pod in ServiceBackends.pods(of: service, in: pods, includeTerminating: true) {
            // Only IPv4 addresses: the slices are `addressType: IPv4`.
            guard let ip = ServiceBackends.podIP(pod), !ip.contains(":") else { continue }
            let ports = ServiceBackends.ports(of: service, on: pod)
            if hasPorts, ports.isEmpty { continue }
            let serving = PodState.isReady(pod)
            let terminating = pod.isDeleting
            // Never ready while terminating, unless the Service publishes not-ready addresses.
            let ready = publishNotReady || (serving && !terminating)
            var endpoint: JSONObject = [
                "addresses": [.string(ip)],
                "conditions": ["ready": .bool(ready), "serving": .bool(serving), "terminating": .bool(terminating)],
            ]
            if let node = pod[path: "spec", "nodeName"]?.stringValue, !node.isEmpty {
                endpoint["nodeName"] = .string(node)
            }
            endpoint["targetRef"] = ServiceBackends.targetRef(pod)
            groups[ports, default: []].append(.object(endpoint))
        }
        var result: [JSONValue] = []
        for (ports, endpoints) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let portList: JSONValue = .array(
                ports.map { port in
                    var entry: JSONObject = [
                        "name": .string(port.name), "port": .int(port.port), "protocol": .string(port.protocol),
                    ]
                    if let app = port.appProtocol { entry["appProtocol"] = .string(app) }
                    return .object(entry)
                })
            var start = 0
            while start < endpoints.count {
                let chunk = Array(endpoints[start..<min(start + maxEndpointsPerSlice, endpoints.count)])
                result.append(["addressType": "IPv4", "endpoints": .array(chunk), "ports": portList])
                start += maxEndpointsPerSlice
            }
        }
        if result.isEmpty { result.append(["addressType": "IPv4", "endpoints": [], "ports": []]) }
        return result
    }
}
