import Foundation
import KubeAPI
import KubeServer

/// Keeps the Endpoints of each Service with a selector (kube-controller-manager's endpoint controller): the same
/// name, one subset per distinct set of resolved ports, ready pods in `addresses` and the others in
/// `notReadyAddresses`. A Service without selector keeps the Endpoints its owner writes; a deleted Service's
/// Endpoints go (they have no owner reference, upstream neither).
final class EndpointsController: Controller {
    let name = "endpoints"
    let queue = WorkQueue()
    let workers = 2
    let context: ControllerContext
    let services: Informer
    let pods: Informer
    let endpoints: Informer

    init(context: ControllerContext) {
        self.context = context
        services = context.informer(.services)
        pods = context.informer(.pods)
        endpoints = context.informer(.endpoints)
        services.onChange { [queue] key in queue.add(key) }
        // Endpoints changed by someone else are put back; Endpoints without a Service are only swept by the
        // resync (as upstream checks leftovers at start), so ones written just before their Service stay.
        endpoints.onChange { [queue, services] key in if services.get(key) != nil { queue.add(key) }
        }
        pods.onEvent { [queue, services] event in
            let namespace = Collection.split(event.key).namespace ?? ""
            let labelSets = [event.old, event.new].compactMap { $0?.labels }
            for key in ServiceBackends.services(selecting: labelSets, in: services.objects(inNamespace: namespace)) {
                queue.add(key)
            }
        }
    }

    func allKeys() -> [String] {
        Array(Set((services.objects + endpoints.objects).map(\.key)))
    }

    func reconcile(_ key: String) async throws {
        let client = context.client
        guard let service = services.get(key) else {
            // The Service is gone: so are its Endpoints.
            guard endpoints.get(key) != nil else { return }
            do {
                _ = try await client.delete(Collection.endpoints.path(key: key))
            } catch {
                guard error.code == 404 else { throw error }
            }
            return
        }
        guard ServiceBackends.selector(of: service) != nil, !service.isDeleting else { return }
        let subsets = Self.subsets(for: service, pods: pods.objects(inNamespace: service.namespace))
        let labels = ServiceBackends.labels(of: service)
        let current = endpoints.get(key)
        if let current, (current["subsets"]?.arrayValue ?? []) == subsets,
            (current[path: "metadata", "labels"]?.objectValue ?? JSONObject()) == labels
        {
            return
        }
        var object: JSONValue =
            current ?? ["apiVersion": "v1", "kind": "Endpoints", "metadata": ["name": .string(service.name)]]
        object["apiVersion"] = "v1"
        object["kind"] = "Endpoints"
        object[path: "metadata", "labels"] = labels.isEmpty ? nil : .object(labels)
        object["subsets"] = subsets.isEmpty ? nil : .array(subsets)
        do {
            if current == nil {
                _ = try await client.create(Collection.endpoints.path(namespace: service.namespace), object)
            } else {
                _ = try await client.update(Collection.endpoints.path(key: key), object)
            }
        } catch {
            // A stale cache (the informer catches up and queues the key again).
            guard error.code == 409 else { throw error }
            queue.addRateLimited(key)
        }
    }

    /// Pods grouped by the ports they resolve to, as `RepackSubsets` leaves them: addresses sorted by IP.
    static func subsets(for service: JSONValue, pods: [JSONValue]) -> [JSONValue] {
        let publishNotReady = ServiceBackends.publishesNotReady(service)
        let headless = ServiceBackends.isHeadless(service)
        var groups: [[ServiceBackends.Port]: (ready: [JSONValue], notReady: [JSONValue])] = [:]
        for pod in ServiceBackends.pods(of: service, in: pods, includeTerminating: publishNotReady) {
            guard let ip = ServiceBackends.podIP(pod) else { continue }
            let ports = ServiceBackends.ports(of: service, on: pod)
            // A Service with ports whose pod serves none of them has no endpoint there (headless ones without
            // ports list the address alone).
            if ports.isEmpty, !(headless && (service[path: "spec", "ports"]?.arrayValue ?? []).isEmpty) { continue }
            var address: JSONObject = ["ip": .string(ip)]
            if let node = pod[path: "spec", "nodeName"]?.stringValue, !node.isEmpty {
                address["nodeName"] = .string(node)
            }
            address["targetRef"] = ServiceBackends.targetRef(pod)
            if publishNotReady || PodState.isReady(pod) {
                groups[ports, default: ([], [])].ready.append(.object(address))
            } else {
                groups[ports, default: ([], [])].notReady.append(.object(address))
            }
        }
        let byIP: (JSONValue, JSONValue) -> Bool = {
            ($0["ip"]?.stringValue ?? "", $0[path: "targetRef", "name"]?.stringValue ?? "")
                < ($1["ip"]?.stringValue ?? "", $1[path: "targetRef", "name"]?.stringValue ?? "")
        }
        return groups.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map { ports, addresses in
            var subset = JSONObject()
            if !addresses.ready.isEmpty { subset["addresses"] = .array(addresses.ready.sorted(by: byIP)) }
            if !addresses.notReady.isEmpty { subset["notReadyAddresses"] = .array(addresses.notReady.sorted(by: byIP)) }
            if !ports.isEmpty {
                subset["ports"] = .array(
                    ports.map { port in
                        var entry: JSONObject = [:]
                        if !port.name.isEmpty { entry["name"] = .string(port.name) }
                        entry["port"] = .int(port.port)
                        entry["protocol"] = .string(port.protocol)
                        if let app = port.appProtocol { entry["appProtocol"] = .string(app) }
                        return .object(entry)
                    })
            }
            return .object(subset)
        }
    }
}
