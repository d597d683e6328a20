import Foundation

/// core/v1 printers other than pods and events, plus endpointslices and leases.
enum CorePrinters {
    static let services = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Type", type: "string", description: "How the service is exposed."),
            TableColumn(name: "Cluster-IP", type: "string", description: "The service's cluster IP address."),
            TableColumn(name: "External-IP", type: "string", description: "Addresses the service is reachable at."),
            TableColumn(name: "Port(s)", type: "string", description: "The ports the service exposes."),
            .ageColumn,
            TableColumn(
                name: "Selector", type: "string", description: "Route traffic to pods with these labels.", priority: 1),
        ]
    ) { object, now in
        let service = PrintedObject(object)
        let spec = service["spec"]
        // v1 defaults `type` to ClusterIP; a stored object without it prints as one.
        let type = spec["type"].optionalString ?? "ClusterIP"
        let clusterIP = spec["clusterIPs"].array.first?.string ?? spec["clusterIP"].optionalString
        let ports = portsText(spec["ports"])
        return [
            .string(service.name), .string(type), .string(clusterIP.flatMap { $0.isEmpty ? nil : $0 } ?? "<none>"),
            .string(externalIP(service, type: type)), .string(ports.isEmpty ? "<none>" : ports),
            .string(service.age(now: now)), .string(LabelText.formatLabels(spec["selector"])),
        ]
    }

    /// `80/TCP`, or `80:30080/TCP` when a node port is allocated; comma-separated.
    static func portsText(_ ports: PrintedObject) -> String {
        ports.array.map { port in
            let protocolName = port["protocol"].optionalString ?? "TCP"
            let nodePort = port["nodePort"].int
            return nodePort > 0
                ? "\(port["port"].int):\(nodePort)/\(protocolName)" : "\(port["port"].int)/\(protocolName)"
        }.joined(separator: ",")
    }

    /// `getServiceExternalIP` with wide output (the server never truncates load-balancer addresses).
    static func externalIP(_ service: PrintedObject, type: String) -> String {
        let externalIPs = service["spec", "externalIPs"].array.map(\.string)
        switch type {
        case "ClusterIP", "NodePort":
            return externalIPs.isEmpty ? "<none>" : externalIPs.joined(separator: ",")
        case "LoadBalancer":
            let ingress = service["status", "loadBalancer", "ingress"].array.compactMap { entry -> String? in
                let ip = entry["ip"].string
                let hostname = entry["hostname"].string
                return !ip.isEmpty ? ip : (!hostname.isEmpty ? hostname : nil)
            }
            let balancerAddresses = Set(ingress).sorted()
            if !externalIPs.isEmpty { return (balancerAddresses + externalIPs).joined(separator: ",") }
            return balancerAddresses.isEmpty ? "<pending>" : balancerAddresses.joined(separator: ",")
        case "ExternalName":
            return service["spec", "externalName"].string
        default:
            return "<unknown>"
        }
    }

    static let nodes = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Status", type: "string", description: "The status of the node"),
            TableColumn(name: "Roles", type: "string", description: "The roles of the node"),
            .ageColumn,
            TableColumn(name: "Version", type: "string", description: "Kubelet version reported by the node."),
            TableColumn(name: "Internal-IP", type: "string", description: "The node's internal IP.", priority: 1),
            TableColumn(name: "External-IP", type: "string", description: "The node's external IP.", priority: 1),
            TableColumn(name: "OS-Image", type: "string", description: "The node's OS image.", priority: 1),
            TableColumn(name: "Kernel-Version", type: "string", description: "The node's kernel.", priority: 1),
            TableColumn(
                name: "Container-Runtime", type: "string", description: "The node's container runtime.", priority: 1),
        ]
    ) { object, now in
        let node = PrintedObject(object)
        let info = node["status", "nodeInfo"]
        func orUnknown(_ text: String) -> String { text.isEmpty ? "<unknown>" : text }
        return [
            .string(node.name), .string(nodeStatus(node)), .string(nodeRoles(node)), .string(node.age(now: now)),
            .string(info["kubeletVersion"].string), .string(nodeAddress(node, type: "InternalIP")),
            .string(nodeAddress(node, type: "ExternalIP")), .string(orUnknown(info["osImage"].string)),
            .string(orUnknown(info["kernelVersion"].string)),
            .string(orUnknown(info["containerRuntimeVersion"].string)),
        ]
    }

    /// `Ready` / `NotReady` from the Ready condition (the last one listed wins, as in Go's map), `Unknown` without
    /// one, then `,SchedulingDisabled` for a cordoned node.
    static func nodeStatus(_ node: PrintedObject) -> String {
        var parts: [String] = []
        if let ready = node["status", "conditions"].array.last(where: { $0["type"].string == "Ready" }) {
            parts.append(ready["status"].string == "True" ? "Ready" : "NotReady")
        } else {
            parts.append("Unknown")
        }
        if node["spec", "unschedulable"].bool { parts.append("SchedulingDisabled") }
        return parts.joined(separator: ",")
    }

    /// Roles from `node-role.kubernetes.io/<role>` label keys and the `kubernetes.io/role` label value.
    static func nodeRoles(_ node: PrintedObject) -> String {
        var roles = Set<String>()
        let prefix = "node-role.kubernetes.io/"
        for (key, value) in node["metadata", "labels"].entries {
            if key.hasPrefix(prefix) {
                let role = String(key.dropFirst(prefix.count))
                if !role.isEmpty { roles.insert(role) }
            } else if key == "kubernetes.io/role", let role = value.stringValue, !role.isEmpty {
                roles.insert(role)
            }
        }
        return roles.isEmpty ? "<none>" : roles.sorted().joined(separator: ",")
    }

    private static func nodeAddress(_ node: PrintedObject, type: String) -> String {
        node["status", "addresses"].array.first { $0["type"].string == type }?["address"].string ?? "<none>"
    }

    static let namespaces = ResourcePrinter(
        columnDefinitions: [
            .nameColumn, TableColumn(name: "Status", type: "string", description: "The status of the namespace"),
            .ageColumn,
        ]
    ) { object, now in
        let namespace = PrintedObject(object)
        return [
            .string(namespace.name), .string(namespace["status", "phase"].string), .string(namespace.age(now: now)),
        ]
    }

    static let configMaps = ResourcePrinter(
        columnDefinitions: [
            .nameColumn, TableColumn(name: "Data", type: "string", description: "Number of data entries."), .ageColumn,
        ]
    ) { object, now in
        let configMap = PrintedObject(object)
        let count = configMap["data"].count + configMap["binaryData"].count
        return [.string(configMap.name), .int(Int64(count)), .string(configMap.age(now: now))]
    }

    static let secrets = ResourcePrinter(
        columnDefinitions: [
            .nameColumn, TableColumn(name: "Type", type: "string", description: "The type of the secret."),
            TableColumn(name: "Data", type: "string", description: "Number of data entries."), .ageColumn,
        ]
    ) { object, now in
        let secret = PrintedObject(object)
        // v1 defaults `type` to Opaque.
        return [
            .string(secret.name), .string(secret["type"].optionalString ?? "Opaque"),
            .int(Int64(secret["data"].count)), .string(secret.age(now: now)),
        ]
    }

    static let serviceAccounts = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Secrets", type: "string", description: "Number of secrets this account may use."),
            .ageColumn,
        ]
    ) { object, now in
        let account = PrintedObject(object)
        return [.string(account.name), .int(Int64(account["secrets"].count)), .string(account.age(now: now))]
    }

    static let endpoints = ResourcePrinter(
        columnDefinitions: [
            .nameColumn, TableColumn(name: "Endpoints", type: "string", description: "The endpoints' addresses."),
            .ageColumn,
        ]
    ) { object, now in
        let endpoints = PrintedObject(object)
        return [.string(endpoints.name), .string(endpointsText(endpoints)), .string(endpoints.age(now: now))]
    }

    /// `formatEndpoints`: `ip:port` per ready address and port, at most three, then " + N more..."; "<none>" without
    /// subsets; IPv6 addresses in brackets.
    static func endpointsText(_ endpoints: PrintedObject) -> String {
        let subsets = endpoints["subsets"].array
        if subsets.isEmpty { return "<none>" }
        let limit = 3
        var shown: [String] = []
        var total = 0
        for subset in subsets {
            let addresses = subset["addresses"].array.map { $0["ip"].string }
            let ports = subset["ports"].array
            if ports.isEmpty {
                // Headless services may have no ports.
                total += addresses.count
                shown += addresses.prefix(max(0, limit - shown.count))
                continue
            }
            for port in ports {
                total += addresses.count
                for address in addresses where shown.count < limit {
                    let host = address.contains(":") ? "[\(address)]" : address
                    shown.append("\(host):\(port["port"].int)")
                }
            }
        }
        let text = shown.joined(separator: ",")
        return total > limit ? "\(text) + \(total - limit) more..." : text
    }

    static let endpointSlices = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "AddressType", type: "string", description: "The type of the addresses."),
            TableColumn(name: "Ports", type: "string", description: "The ports of the endpoints."),
            TableColumn(name: "Endpoints", type: "string", description: "The endpoints' addresses."),
            .ageColumn,
        ]
    ) { object, now in
        let slice = PrintedObject(object)
        let ports = slice["ports"].array.map { port in
            port["port"].optionalInt.map { "\($0)" } ?? port["name"].optionalString ?? "*"
        }
        let addresses = slice["endpoints"].array.flatMap { $0["addresses"].array.map(\.string) }
        return [
            .string(slice.name), .string(slice["addressType"].string),
            .string(joinedWithMore(ports)), .string(joinedWithMore(addresses)),
            .string(slice.age(now: now)),
        ]
    }

    /// The first three items joined by commas, then " + N more..."; "<unset>" for none (`listWithMoreString`).
    private static func joinedWithMore(_ items: [String]) -> String {
        if items.isEmpty { return "<unset>" }
        let shown = items.prefix(3).joined(separator: ",")
        return items.count > 3 ? "\(shown) + \(items.count - 3) more..." : shown
    }

    static let leases = ResourcePrinter(
        columnDefinitions: [
            .nameColumn, TableColumn(name: "Holder", type: "string", description: "The current holder of the lease."),
            .ageColumn,
        ]
    ) { object, now in
        let lease = PrintedObject(object)
        return [.string(lease.name), .string(lease["spec", "holderIdentity"].string), .string(lease.age(now: now))]
    }
}
