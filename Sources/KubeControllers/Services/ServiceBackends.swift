import KubeAPI
import KubeServer

/// What the Endpoints and EndpointSlice controllers both read off a Service and its pods
/// (`pkg/controller/util/endpoint`, `podutil.FindPort`).
enum ServiceBackends {
    /// `spec.selector` (a map); nil when the Service has none (its endpoints are someone else's).
    static func selector(of service: JSONValue) -> LabelSelector? {
        guard let map = service[path: "spec", "selector"]?.objectValue, !map.isEmpty else { return nil }
        var labels: [String: String] = [:]
        for (key, value) in map { labels[key] = value.stringValue ?? "" }
        return LabelSelector(matchLabels: labels)
    }

    static func publishesNotReady(_ service: JSONValue) -> Bool {
        service[path: "spec", "publishNotReadyAddresses"]?.boolValue == true
    }

    static func isHeadless(_ service: JSONValue) -> Bool { service[path: "spec", "clusterIP"]?.stringValue == "None" }

    /// The pods of `service` that can be endpoints (`ShouldPodBeInEndpoints`): with an IP, not finished for good,
    /// and not terminating unless `includeTerminating`.
    static func pods(of service: JSONValue, in pods: [JSONValue], includeTerminating: Bool) -> [JSONValue] {
        guard let selector = selector(of: service) else { return [] }
        return pods.filter { pod in
            guard selector.matches(pod.labels), podIP(pod) != nil else { return false }
            if !includeTerminating, pod.isDeleting { return false }
            let phase = pod[path: "status", "phase"]?.stringValue
            switch pod[path: "spec", "restartPolicy"]?.stringValue {
            case "Never": return phase != "Failed" && phase != "Succeeded"
            case "OnFailure": return phase != "Succeeded"
            default: return true
            }
        }
        .sorted { $0.name < $1.name }
    }

    static func podIP(_ pod: JSONValue) -> String? {
        guard let ip = pod[path: "status", "podIP"]?.stringValue, !ip.isEmpty else { return nil }
        return ip
    }

    /// A resolved port of one pod: the Service port's name and protocol, the pod's port number.
    struct Port: Hashable, Comparable {
        let name: String
        let port: Int64
        let `protocol`: String
        let appProtocol: String?

        static func < (left: Port, right: Port) -> Bool {
            (left.name, left.port, left.protocol) < (right.name, right.port, right.protocol)
        }
    }

    /// Each Service port's target on `pod`: a number as is, a name looked up among the pod's container ports of
    /// the same protocol (a pod without that name serves no such port).
    static func ports(of service: JSONValue, on pod: JSONValue) -> [Port] {
        var result: [Port] = []
        for servicePort in service[path: "spec", "ports"]?.arrayValue ?? [] {
            let proto = servicePort["protocol"]?.stringValue ?? "TCP"
            let target = servicePort["targetPort"] ?? servicePort["port"] ?? 0
            var number: Int64?
            if let name = target.stringValue {
                if let parsed = Int64(name) {
                    number = parsed
                } else {
                    number = containerPort(named: name, protocol: proto, in: pod)
                }
            } else {
                number = target.intValue ?? servicePort["port"]?.intValue
            }
            guard let number, number > 0 else { continue }
            result.append(
                Port(
                    name: servicePort["name"]?.stringValue ?? "", port: number, protocol: proto,
                    appProtocol: servicePort["appProtocol"]?.stringValue))
        }
        return result.sorted()
    }

    static func containerPort(named name: String, protocol proto: String, in pod: JSONValue) -> Int64? {
        for container in pod[path: "spec", "containers"]?.arrayValue ?? [] {
            for port in container["ports"]?.arrayValue ?? []
            where port["name"]?.stringValue == name && (port["protocol"]?.stringValue ?? "TCP") == proto {
                return port["containerPort"]?.intValue
            }
        }
        return nil
    }

    static func targetRef(_ pod: JSONValue) -> JSONValue {
        ["kind": "Pod", "namespace": .string(pod.namespace), "name": .string(pod.name), "uid": .string(pod.uid)]
    }

    /// Labels the Service's endpoints carry: the Service's own, and `service.kubernetes.io/headless` for a
    /// headless one.
    static func labels(of service: JSONValue) -> JSONObject {
        var labels = service[path: "metadata", "labels"]?.objectValue ?? JSONObject()
        if isHeadless(service) { labels["service.kubernetes.io/headless"] = "" }
        return labels
    }

    /// The Services of `namespace` whose selector matches any of `labelSets`.
    static func services(selecting labelSets: [[String: String]], in services: [JSONValue]) -> [String] {
        services.filter { service in
            guard let selector = selector(of: service) else { return false }
            return labelSets.contains { selector.matches($0) }
        }
        .map(\.key)
    }
}
