import KubeAPI

/// What kube-apiserver's service REST does to a Service's address fields before it allocates
/// (`pkg/registry/core/service/storage`: `normalizeClusterIPs`, `patchAllocatedValues`, `dropTypeDependentFields`,
/// `initIPFamilyFields`, and the checks of `ValidateService`/`ValidateServiceUpdate` on these fields), on a
/// single-stack IPv4 cluster. Pure: the store is not read.
enum ServiceFields {
    static func type(of service: JSONValue) -> String { service[path: "spec", "type"]?.stringValue ?? "ClusterIP" }

    static func needsClusterIP(_ service: JSONValue) -> Bool { type(of: service) != "ExternalName" }

    static func needsNodePorts(_ service: JSONValue) -> Bool {
        let type = type(of: service)
        return type == "NodePort" || type == "LoadBalancer"
    }

    /// NodePort always; LoadBalancer unless `allocateLoadBalancerNodePorts: false` (explicit ports still count).
    static func allocatesNodePorts(_ service: JSONValue) -> Bool {
        switch type(of: service) {
        case "NodePort": return true
        case "LoadBalancer": return service[path: "spec", "allocateLoadBalancerNodePorts"]?.boolValue != false
        default: return false
        }
    }

    static func clusterIPs(of service: JSONValue) -> [String] {
        (service[path: "spec", "clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    static func isHeadless(_ service: JSONValue) -> Bool { clusterIPs(of: service).first == "None" }

    static func nodePorts(of service: JSONValue) -> [Int] {
        (service[path: "spec", "ports"]?.arrayValue ?? []).compactMap { $0["nodePort"]?.intValue }.map(Int.init)
            .filter { $0 != 0 }
    }

    static func prepareForCreate(_ service: inout JSONValue) throws(KubeError) {
        defaults(&service)
        // An old client names only `clusterIP`: the plural follows it.
        if let single = service[path: "spec", "clusterIP"]?.stringValue, !single.isEmpty,
            clusterIPs(of: service).isEmpty
        {
            service[path: "spec", "clusterIPs"] = [.string(single)]
        }
        try families(&service)
        try check(service, old: nil)
    }

    static func prepareForUpdate(_ service: inout JSONValue, old: JSONValue) throws(KubeError) {
        defaults(&service)
        patchAllocated(&service, old: old)
        normalize(&service, old: old)
        dropTypeDependent(&service, old: old)
        if service[path: "spec", "ipFamilyPolicy"] == nil, needsClusterIP(service),
            let policy = old[path: "spec", "ipFamilyPolicy"]
        {
            service[path: "spec", "ipFamilyPolicy"] = policy
        }
        try families(&service)
        try check(service, old: old)
    }

    /// v1's defaults for the traffic fields (`SetDefaults_Service`).
    static func defaults(_ service: inout JSONValue) {
        if needsNodePorts(service), service[path: "spec", "externalTrafficPolicy"] == nil {
            service[path: "spec", "externalTrafficPolicy"] = "Cluster"
        }
        if needsClusterIP(service), service[path: "spec", "internalTrafficPolicy"] == nil {
            service[path: "spec", "internalTrafficPolicy"] = "Cluster"
        }
        if type(of: service) == "LoadBalancer", service[path: "spec", "allocateLoadBalancerNodePorts"] == nil {
            service[path: "spec", "allocateLoadBalancerNodePorts"] = true
        }
    }

    /// A client that sends the Service back without what the server allocated (`kubectl apply`, a PUT built by
    /// hand) keeps it: addresses, and node ports by port name when no other port took them.
    static func patchAllocated(_ service: inout JSONValue, old: JSONValue) {
        if needsClusterIP(old), needsClusterIP(service) {
            if (service[path: "spec", "clusterIP"]?.stringValue ?? "").isEmpty {
                service[path: "spec", "clusterIP"] = old[path: "spec", "clusterIP"]
            }
            if clusterIPs(of: service).isEmpty, !clusterIPs(of: old).isEmpty {
                service[path: "spec", "clusterIPs"] = old[path: "spec", "clusterIPs"]
            }
        }
        if needsNodePorts(old), needsNodePorts(service), var ports = service[path: "spec", "ports"]?.arrayValue {
            let used = Set(nodePorts(of: old)).intersection(nodePorts(of: service))
            var byName: [String: JSONValue] = [:]
            for port in old[path: "spec", "ports"]?.arrayValue ?? [] {
                byName[port["name"]?.stringValue ?? ""] = port["nodePort"]
            }
            for index in ports.indices where (ports[index]["nodePort"]?.intValue ?? 0) == 0 {
                if let previous = byName[ports[index]["name"]?.stringValue ?? ""],
                    let number = previous.intValue, number != 0, !used.contains(Int(number))
                {
                    ports[index]["nodePort"] = previous
                }
            }
            service[path: "spec", "ports"] = .array(ports)
        }
    }

    /// `clusterIP` and `clusterIPs` kept in step when a client changed one of them only.
    static func normalize(_ service: inout JSONValue, old: JSONValue) {
        let oldSingle = old[path: "spec", "clusterIP"]?.stringValue ?? ""
        let newSingle = service[path: "spec", "clusterIP"]?.stringValue ?? ""
        if !clusterIPs(of: old).isEmpty, clusterIPs(of: service).isEmpty, oldSingle == newSingle {
            service[path: "spec", "clusterIPs"] = old[path: "spec", "clusterIPs"]
        }
        let samePlural = clusterIPs(of: old) == clusterIPs(of: service)
        if oldSingle != newSingle, samePlural {
            service[path: "spec", "clusterIPs"] = newSingle.isEmpty ? nil : [.string(newSingle)]
        }
    }

    /// Fields the server filled in for the old type and the new one has no use for (the client did not change
    /// them): addresses when going to ExternalName, node ports when going to ClusterIP.
    static func dropTypeDependent(_ service: inout JSONValue, old: JSONValue) {
        if needsClusterIP(old), !needsClusterIP(service) {
            if clusterIPs(of: old) == clusterIPs(of: service) {
                service[path: "spec", "clusterIP"] = nil
                service[path: "spec", "clusterIPs"] = nil
            }
            if service[path: "spec", "ipFamilies"] == old[path: "spec", "ipFamilies"] {
                service[path: "spec", "ipFamilies"] = nil
            }
            if service[path: "spec", "ipFamilyPolicy"] == old[path: "spec", "ipFamilyPolicy"] {
                service[path: "spec", "ipFamilyPolicy"] = nil
            }
        }
        if needsNodePorts(old), !needsNodePorts(service), nodePorts(of: old) == nodePorts(of: service),
            let ports = service[path: "spec", "ports"]?.arrayValue
        {
            service[path: "spec", "ports"] = .array(
                ports.map { port in
                    var port = port
                    port["nodePort"] = nil
                    return port
                })
        }
        if old[path: "spec", "externalTrafficPolicy"] != nil, !needsNodePorts(service),
            service[path: "spec", "externalTrafficPolicy"] == old[path: "spec", "externalTrafficPolicy"]
        {
            service[path: "spec", "externalTrafficPolicy"] = nil
        }
    }

    /// `ipFamilyPolicy` and `ipFamilies` (`initIPFamilyFields`): SingleStack IPv4 unless the Service asks
    /// otherwise; a headless Service without selector is RequireDualStack with both families, as upstream.
    static func families(_ service: inout JSONValue) throws(KubeError) {
        guard needsClusterIP(service) else { return }
        let selectorless = (service[path: "spec", "selector"]?.objectValue ?? [:]).isEmpty
        let headlessSelectorless = isHeadless(service) && selectorless
        if service[path: "spec", "ipFamilyPolicy"] == nil {
            service[path: "spec", "ipFamilyPolicy"] = headlessSelectorless ? "RequireDualStack" : "SingleStack"
        }
        let policy = service[path: "spec", "ipFamilyPolicy"]?.stringValue ?? "SingleStack"
        var families = (service[path: "spec", "ipFamilies"]?.arrayValue ?? []).compactMap(\.stringValue)
        var errors: [FieldError] = []
        for (index, family) in families.enumerated() where family != "IPv4" && family != "IPv6" {
            errors.append(
                .notSupported(
                    FieldPath("spec", "ipFamilies").index(index), .string(family), supported: ["IPv4", "IPv6"]))
        }
        if policy == "SingleStack", families.count == 2 {
            errors.append(
                .invalid(
                    FieldPath("spec", "ipFamilyPolicy"), policy,
                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"))
        }
        try throwIfAny(errors, service)
        if headlessSelectorless {
            if families.isEmpty { families = ["IPv4"] }
            if families.count < 2, policy != "SingleStack" { families.append(families[0] == "IPv4" ? "IPv6" : "IPv4") }
            service[path: "spec", "ipFamilies"] = .array(families.map { .string($0) })
            return
        }
        if policy == "RequireDualStack" {
            errors.append(
                .invalid(
                    FieldPath("spec", "ipFamilyPolicy"), policy,
                    "this cluster is not configured for dual-stack services"))
        }
        for (index, family) in families.enumerated() where family == "IPv6" {
            errors.append(
                .invalid(FieldPath("spec", "ipFamilies").index(index), family, "not configured on this cluster"))
        }
        try throwIfAny(errors, service)
        if families.isEmpty { families = ["IPv4"] }
        service[path: "spec", "ipFamilies"] = .array(families.map { .string($0) })
    }

    /// The checks of `ValidateService` and `ValidateServiceUpdate` on addresses and node ports.
    static func check(_ service: JSONValue, old: JSONValue?) throws(KubeError) {
        var errors: [FieldError] = []
        let ips = clusterIPs(of: service)
        let ipsValue: JSONValue = .array(ips.map { .string($0) })
        let single = service[path: "spec", "clusterIP"]?.stringValue ?? ""
        if needsClusterIP(service) {
            for (index, ip) in ips.enumerated() {
                if index == 0, ip == "None" {
                    if ips.count > 1 {
                        errors.append(
                            .invalid(
                                FieldPath("spec", "clusterIPs"), json: ipsValue,
                                "'None' must be the first and only value"))
                    }
                    continue
                }
                if ip.contains(":") {
                    errors.append(
                        .invalid(
                            FieldPath("spec", "clusterIPs").index(index), json: ipsValue,
                            "IPv6 is not configured on this cluster"))
                } else if IPv4.parse(ip) == nil {
                    errors.append(
                        .invalid(
                            FieldPath("spec", "clusterIPs").index(index), ip,
                            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
                }
            }
            if ips.count > 1, !ips.contains("None") {
                errors.append(
                    .invalid(
                        FieldPath("spec", "clusterIPs"), json: ipsValue, "may only hold up to 1 value on this cluster"))
            }
            if !ips.isEmpty, !single.isEmpty, single != ips[0] {
                errors.append(
                    .invalid(FieldPath("spec", "clusterIPs"), json: ipsValue, "first value must match `clusterIP`"))
            }
            if ips.first == "None", needsNodePorts(service) {
                errors.append(
                    .invalid(
                        FieldPath("spec", "clusterIPs").index(0), "None",
                        "may not be set to 'None' for \(type(of: service)) services"))
            }
        }
        let ports = service[path: "spec", "ports"]?.arrayValue ?? []
        if !needsNodePorts(service) {
            for (index, port) in ports.enumerated() where (port["nodePort"]?.intValue ?? 0) != 0 {
                errors.append(
                    .forbidden(
                        FieldPath("spec", "ports").index(index).child("nodePort"),
                        "may not be used when `type` is '\(type(of: service))'"))
            }
        }
        if let old, needsClusterIP(old), needsClusterIP(service), !(isHeadless(old) && isHeadless(service)) {
            let oldIPs = clusterIPs(of: old)
            if oldIPs.count == ips.count {
                for (index, ip) in oldIPs.enumerated() where ip != ips[index] {
                    errors.append(
                        .invalid(
                            FieldPath("spec", "clusterIPs").index(index), json: ipsValue, "may not change once set"))
                }
            } else if !oldIPs.isEmpty, ips.isEmpty {
                errors.append(
                    .invalid(
                        FieldPath("spec", "clusterIPs").index(0), json: ipsValue, "primary clusterIP can not be unset"))
            }
        }
        try throwIfAny(errors, service)
    }

    static func throwIfAny(_ errors: [FieldError], _ service: JSONValue) throws(KubeError) {
        guard !errors.isEmpty else { return }
        throw invalid(service, errors)
    }

    static func invalid(_ service: JSONValue, _ errors: [FieldError]) -> KubeError {
        let name = service[path: "metadata", "name"]?.stringValue ?? ""
        var error = KubeError(
            code: 422, reason: "Invalid",
            message: FieldError.invalidMessage(group: "", kind: "Service", name: name, errors: errors))
        error.name = name
        error.kind = "Service"
        error.causes = errors.map(\.statusCause)
        return error
    }
}
