import KubeAPI

/// Discovery documents, both kinds clients use: aggregated (`apidiscovery.k8s.io` v2 and v2beta1: one answer for
/// `/api` and one for `/apis`, what kubectl asks for first) and legacy (`APIVersions`, `APIGroupList`,
/// `APIGroup`, `APIResourceList`: the Python dynamic client and older tools). Built from the catalogue on each
/// request (cheap), so custom resources appear as soon as they are defined.
struct Discovery: Sendable {
    let catalogue: ResourceCatalogue

    static func aggregatedType(_ version: String) -> String {
        "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList"
    }

    /// The aggregated version the `Accept` header asks for (v2 preferred), or nil for legacy.
    static func aggregatedVersion(accept: String?) -> String? {
        guard let accept else { return nil }
        for part in accept.split(separator: ",") {
            let parameters = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parameters.contains("g=apidiscovery.k8s.io"), parameters.contains("as=APIGroupDiscoveryList") else {
                continue
            }
            if parameters.contains("v=v2") { return "v2" }
            if parameters.contains("v=v2beta1") { return "v2beta1" }
        }
        return nil
    }

    /// `/api` (`core: true`) or `/apis` as an `APIGroupDiscoveryList`.
    func aggregated(core: Bool, version: String) -> JSONValue {
        let groups = catalogue.groupVersions.filter { core ? $0.group.isEmpty : !$0.group.isEmpty }
        let items: [JSONValue] = groups.map { group in
            let versions: [JSONValue] = group.versions.map { version in
                let gv = GroupVersion(group.group, version)
                let resources = catalogue.all.filter { $0.servedVersions.contains(gv) }
                return [
                    "version": .string(version), "resources": .array(resources.map { aggregatedResource($0, gv) }),
                    "freshness": "Current",
                ]
            }
            var metadata = JSONObject()
            if !group.group.isEmpty { metadata["name"] = .string(group.group) }
            return ["metadata": .object(metadata), "versions": .array(versions)]
        }
        return [
            "kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(version)"),
            "metadata": .object(JSONObject()), "items": .array(items),
        ]
    }

    private func aggregatedResource(_ resource: ResourceType, _ version: GroupVersion) -> JSONValue {
        var entry: JSONObject = [
            "resource": .string(resource.plural),
            "responseKind": [
                "group": .string(version.group), "version": .string(version.version), "kind": .string(resource.kind),
            ],
            "scope": resource.namespaced ? "Namespaced" : "Cluster",
            "singularResource": .string(resource.singular),
            "verbs": .array(resource.verbs.map { .string($0) }),
        ]
        // Short names and categories only at the stable version: an alias carrying them too would make kubectl
        // warn that `deploy` "could also match" it, and `get all` list every object twice.
        if version == resource.groupVersion {
            if !resource.shortNames.isEmpty { entry["shortNames"] = .array(resource.shortNames.map { .string($0) }) }
            if !resource.categories.isEmpty { entry["categories"] = .array(resource.categories.map { .string($0) }) }
        }
        let subresources: [JSONValue] = resource.subresources.map { subresource in
            let kind = Self.subresourceKind(subresource, resource: resource, version: version)
            return [
                "subresource": .string(subresource.rawValue),
                "responseKind": [
                    "group": .string(kind.group), "version": .string(kind.version), "kind": .string(kind.kind),
                ],
                "verbs": .array(Self.subresourceVerbs(subresource).map { .string($0) }),
            ]
        }
        if !subresources.isEmpty { entry["subresources"] = .array(subresources) }
        return .object(entry)
    }

    static func subresourceVerbs(_ subresource: ResourceType.Subresource) -> [String] {
        switch subresource {
        case .status, .scale: ["get", "patch", "update"]
        case .log: ["get"]
        case .exec, .attach, .portforward, .proxy: ["create", "get"]
        case .binding, .eviction, .token: ["create"]
        case .finalize: ["update"]
        }
    }

    static func subresourceKind(_ subresource: ResourceType.Subresource, resource: ResourceType, version: GroupVersion)
        -> (group: String, version: String, kind: String)
    {
        switch subresource {
        case .status, .log, .finalize: (version.group, version.version, resource.kind)
        case .scale: ("autoscaling", "v1", "Scale")
        case .exec: ("", "v1", "PodExecOptions")
        case .attach: ("", "v1", "PodAttachOptions")
        case .portforward: ("", "v1", "PodPortForwardOptions")
        case .proxy: ("", "v1", "PodProxyOptions")
        case .binding: ("", "v1", "Binding")
        case .eviction: ("policy", "v1", "Eviction")
        case .token: ("authentication.k8s.io", "v1", "TokenRequest")
        }
    }

    // MARK: Legacy

    func apiVersions(serverAddress: String) -> JSONValue {
        [
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]],
        ]
    }

    func groupList() -> JSONValue {
        let groups = catalogue.groupVersions.filter { !$0.group.isEmpty }.map { apiGroup($0.group, $0.versions) }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups)]
    }

    func group(_ name: String) -> JSONValue? {
        guard let entry = catalogue.groupVersions.first(where: { $0.group == name && !name.isEmpty }) else {
            return nil
        }
        var group = apiGroup(entry.group, entry.versions)
        group["kind"] = "APIGroup"
        group["apiVersion"] = "v1"
        return group
    }

    private func apiGroup(_ name: String, _ versions: [String]) -> JSONValue {
        let entries: [JSONValue] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return [
            "name": .string(name), "versions": .array(entries),
            "preferredVersion": entries.first ?? .null,
        ]
    }

    /// `/api/v1`, `/apis/{group}/{version}`; nil when that version is not served.
    func resourceList(_ version: GroupVersion) -> JSONValue? {
        let resources = catalogue.all.filter { $0.servedVersions.contains(version) }
        guard !resources.isEmpty else { return nil }
        var entries: [JSONValue] = []
        for resource in resources {
            var entry: JSONObject = [
                "name": .string(resource.plural), "singularName": .string(resource.singular),
                "namespaced": .bool(resource.namespaced), "kind": .string(resource.kind),
                "verbs": .array(resource.verbs.map { .string($0) }),
            ]
            if version == resource.groupVersion {
                if !resource.shortNames.isEmpty {
                    entry["shortNames"] = .array(resource.shortNames.map { .string($0) })
                }
                if !resource.categories.isEmpty {
                    entry["categories"] = .array(resource.categories.map { .string($0) })
                }
            }
            entries.append(.object(entry))
            for subresource in resource.subresources {
                let kind = Self.subresourceKind(subresource, resource: resource, version: version)
                var sub: JSONObject = [
                    "name": .string("\(resource.plural)/\(subresource.rawValue)"), "singularName": "",
                    "namespaced": .bool(resource.namespaced),
                ]
                if kind.group != version.group || kind.version != version.version {
                    sub["group"] = .string(kind.group)
                    sub["version"] = .string(kind.version)
                }
                sub["kind"] = .string(kind.kind)
                sub["verbs"] = .array(Self.subresourceVerbs(subresource).map { .string($0) })
                entries.append(.object(sub))
            }
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(version.description),
            "resources": .array(entries),
        ]
    }
}
