import Foundation
import KubeAPI

/// What the agent knows about the cluster when it starts a container: the objects its environment and volumes
/// are built from (read from the agent's informers).
struct ClusterObjects: Sendable {
    var configMap: @Sendable (_ namespace: String, _ name: String) -> JSONValue?
    var secret: @Sendable (_ namespace: String, _ name: String) -> JSONValue?
    var services: @Sendable (_ namespace: String) -> [JSONValue]
    /// The node's allocatable cpu (millicores) and memory (bytes): what `resourceFieldRef` reports without limits.
    var allocatableCPUMillis: Int64
    var allocatableMemory: Int64
}

/// A container that cannot be configured yet: its waiting reason and message (`CreateContainerConfigError`).
struct ContainerConfigError: Error, Sendable {
    var reason = "CreateContainerConfigError"
    var message: String
}

/// A container's environment as the kubelet builds it: the Service variables of the pod's namespace (unless
/// `enableServiceLinks` is false) and of the `kubernetes` Service, then `envFrom`, then `env` (later wins), with
/// `$(VAR)` references expanded against what came before.
struct PodEnvironment {
    let pod: JSONValue
    let objects: ClusterObjects
    let podIP: String
    let hostIP: String

    var namespace: String { pod[path: "metadata", "namespace"]?.stringValue ?? "default" }

    func variables(for container: JSONValue) throws(ContainerConfigError) -> [(String, String)] {
        var result: [(String, String)] = []
        var index: [String: Int] = [:]
        func set(_ name: String, _ value: String) {
            if let at = index[name] {
                result[at].1 = value
            } else {
                index[name] = result.count
                result.append((name, value))
            }
        }
        if pod[path: "spec", "enableServiceLinks"]?.boolValue != false {
            for (name, value) in serviceVariables() { set(name, value) }
        } else {
            for (name, value) in serviceVariables(only: "kubernetes", in: "default") { set(name, value) }
        }
        for source in container["envFrom"]?.arrayValue ?? [] {
            let prefix = source["prefix"]?.stringValue ?? ""
            if let reference = source["configMapRef"] {
                for (key, value) in try data(configMap: reference) { set(prefix + key, value) }
            }
            if let reference = source["secretRef"] {
                for (key, value) in try data(secret: reference) { set(prefix + key, value) }
            }
        }
        for variable in container["env"]?.arrayValue ?? [] {
            guard let name = variable["name"]?.stringValue else { continue }
            if let value = variable["value"]?.stringValue {
                let known = Dictionary(result, uniquingKeysWith: { _, last in last })
                set(name, Self.expand(value, known))
            } else if let from = variable["valueFrom"] {
                if let value = try resolve(from, container: container) { set(name, value) }
            } else {
                set(name, "")
            }
        }
        return result
    }

    /// `$(NAME)` replaced by a known variable; `$$` is a literal `$`; unknown references stay as written.
    static func expand(_ text: String, _ known: [String: String]) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest.index(after: dollar)
            if after < rest.endIndex, rest[after] == "$" {
                out += "$"
                rest = rest[rest.index(after: after)...]
            } else if after < rest.endIndex, rest[after] == "(",
                let close = rest[after...].firstIndex(of: ")")
            {
                let name = String(rest[rest.index(after: after)..<close])
                out += known[name] ?? "$(\(name))"
                rest = rest[rest.index(after: close)...]
            } else {
                out += "$"
                rest = rest[after...]
            }
        }
        return out + rest
    }

    private func data(configMap reference: JSONValue) throws(ContainerConfigError) -> [(String, String)] {
        let name = reference["name"]?.stringValue ?? ""
        guard let object = objects.configMap(namespace, name) else {
            if reference["optional"]?.boolValue == true { return [] }
            throw ContainerConfigError(message: "configmap \"\(name)\" not found")
        }
        return (object["data"]?.objectValue ?? JSONObject()).compactMap { key, value in
            value.stringValue.map { (key, $0) }
        }.sorted { $0.0 < $1.0 }
    }

    private func data(secret reference: JSONValue) throws(ContainerConfigError) -> [(String, String)] {
        let name = reference["name"]?.stringValue ?? ""
        guard let object = objects.secret(namespace, name) else {
            if reference["optional"]?.boolValue == true { return [] }
            throw ContainerConfigError(message: "secret \"\(name)\" not found")
        }
        return (object["data"]?.objectValue ?? JSONObject()).compactMap { key, value in
            value.stringValue.flatMap { Data(base64Encoded: $0) }.map { (key, String(decoding: $0, as: UTF8.self)) }
        }.sorted { $0.0 < $1.0 }
    }

    private func resolve(_ from: JSONValue, container: JSONValue) throws(ContainerConfigError) -> String? {
        if let reference = from["configMapKeyRef"] {
            let name = reference["name"]?.stringValue ?? ""
            let key = reference["key"]?.stringValue ?? ""
            let optional = reference["optional"]?.boolValue == true
            guard let object = objects.configMap(namespace, name) else {
                if optional { return nil }
                throw ContainerConfigError(message: "configmap \"\(name)\" not found")
            }
            guard let value = object[path: "data", key]?.stringValue else {
                if optional { return nil }
                throw ContainerConfigError(message: "couldn't find key \(key) in ConfigMap \(namespace)/\(name)")
            }
            return value
        }
        if let reference = from["secretKeyRef"] {
            let name = reference["name"]?.stringValue ?? ""
            let key = reference["key"]?.stringValue ?? ""
            let optional = reference["optional"]?.boolValue == true
            guard let object = objects.secret(namespace, name) else {
                if optional { return nil }
                throw ContainerConfigError(message: "secret \"\(name)\" not found")
            }
            guard let encoded = object[path: "data", key]?.stringValue, let bytes = Data(base64Encoded: encoded) else {
                if optional { return nil }
                throw ContainerConfigError(message: "couldn't find key \(key) in Secret \(namespace)/\(name)")
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        if let path = from[path: "fieldRef", "fieldPath"]?.stringValue {
            return fieldValue(path)
        }
        if let reference = from["resourceFieldRef"] {
            let target =
                reference["containerName"]?.stringValue.flatMap { name in
                    (pod[path: "spec", "containers"]?.arrayValue ?? []).first { $0["name"]?.stringValue == name }
                } ?? container
            return resourceValue(reference, container: target)
        }
        return nil
    }

    /// The downward API's fields (`metadata.labels['app']`, `status.podIP`, …).
    func fieldValue(_ path: String) -> String? {
        func keyed(_ field: String) -> String? {
            guard path.hasPrefix("metadata.\(field)['"), path.hasSuffix("']") else { return nil }
            let key = String(path.dropFirst("metadata.\(field)['".count).dropLast(2))
            return pod[path: "metadata", field, key]?.stringValue ?? ""
        }
        switch path {
        case "metadata.name": return pod[path: "metadata", "name"]?.stringValue
        case "metadata.namespace": return namespace
        case "metadata.uid": return pod[path: "metadata", "uid"]?.stringValue
        case "metadata.labels", "metadata.annotations":
            let field = path == "metadata.labels" ? "labels" : "annotations"
            return (pod[path: "metadata", field]?.objectValue ?? JSONObject()).map { key, value in
                "\(key)=\"\(value.stringValue ?? "")\""
            }.sorted().joined(separator: "\n")
        case "spec.nodeName": return pod[path: "spec", "nodeName"]?.stringValue
        case "spec.serviceAccountName": return pod[path: "spec", "serviceAccountName"]?.stringValue
        case "status.hostIP", "status.hostIPs": return hostIP
        case "status.podIP", "status.podIPs": return podIP
        default: return keyed("labels") ?? keyed("annotations")
        }
    }

    func resourceValue(_ reference: JSONValue, container: JSONValue) -> String? {
        guard let resource = reference["resource"]?.stringValue else { return nil }
        let parts = resource.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        let isCPU = parts[1] == "cpu"
        let scale: Int64 = isCPU ? 1000 : 1
        var amount = Quantity.value(container[path: "resources", parts[0], parts[1]], scale: scale)
        if amount == nil, parts[0] == "limits" || isCPU {
            amount = isCPU ? objects.allocatableCPUMillis : objects.allocatableMemory
        }
        if amount == nil, parts[0] == "requests" { amount = 0 }
        let divisor = max(1, Quantity.value(reference["divisor"], scale: scale) ?? scale)
        let value = amount ?? 0
        return String((value + divisor - 1) / divisor)
    }

    /// `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT`, `<NAME>_PORT…`, as docker links were.
    func serviceVariables(only: String? = nil, in serviceNamespace: String? = nil) -> [(String, String)] {
        var services = objects.services(serviceNamespace ?? namespace)
        if let only { services = services.filter { $0[path: "metadata", "name"]?.stringValue == only } }
        if serviceNamespace == nil, namespace != "default" {
            services += objects.services("default").filter { $0[path: "metadata", "name"]?.stringValue == "kubernetes" }
        }
        var result: [(String, String)] = []
        for service in services.sorted(by: {
            ($0[path: "metadata", "name"]?.stringValue ?? "") < ($1[path: "metadata", "name"]?.stringValue ?? "")
        }) {
            guard let ip = service[path: "spec", "clusterIP"]?.stringValue, !ip.isEmpty, ip != "None",
                let name = service[path: "metadata", "name"]?.stringValue
            else { continue }
            let prefix = name.uppercased().replacingOccurrences(of: "-", with: "_")
            let ports = service[path: "spec", "ports"]?.arrayValue ?? []
            guard let first = ports.first, let firstPort = first["port"]?.intValue else { continue }
            result.append(("\(prefix)_SERVICE_HOST", ip))
            result.append(("\(prefix)_SERVICE_PORT", String(firstPort)))
            for port in ports {
                if let portName = port["name"]?.stringValue, !portName.isEmpty, let number = port["port"]?.intValue {
                    let suffix = portName.uppercased().replacingOccurrences(of: "-", with: "_")
                    result.append(("\(prefix)_SERVICE_PORT_\(suffix)", String(number)))
                }
            }
            let firstProtocol = (first["protocol"]?.stringValue ?? "TCP").lowercased()
            result.append(("\(prefix)_PORT", "\(firstProtocol)://\(ip):\(firstPort)"))
            for port in ports {
                guard let number = port["port"]?.intValue else { continue }
                let proto = port["protocol"]?.stringValue ?? "TCP"
                let base = "\(prefix)_PORT_\(number)_\(proto)"
                result.append((base, "\(proto.lowercased())://\(ip):\(number)"))
                result.append((base + "_PROTO", proto.lowercased()))
                result.append((base + "_PORT", String(number)))
                result.append((base + "_ADDR", ip))
            }
        }
        return result
    }
}
