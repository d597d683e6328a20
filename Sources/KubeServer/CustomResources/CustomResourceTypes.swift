import KubeAPI

/// What a CustomResourceDefinition makes the server serve: one `ResourceType` per definition, stored at its storage
/// version (`/registry/<group>/<plural>/…`, kube-apiserver's layout) with every other served version as a view,
/// as Kelson serves every kind.
enum CustomResourceTypes {
    static func resourceType(for definition: JSONValue) -> ResourceType? {
        guard let spec = definition["spec"], let group = spec["group"]?.stringValue,
            let names = spec["names"], let plural = names["plural"]?.stringValue,
            let kind = names["kind"]?.stringValue,
            let versions = spec["versions"]?.arrayValue
        else { return nil }
        let served = versions.filter { $0["served"]?.boolValue ?? false }
        guard let storage = versions.first(where: { $0["storage"]?.boolValue ?? false })?["name"]?.stringValue,
            !served.isEmpty
        else { return nil }
        let servedNames = served.compactMap { $0["name"]?.stringValue }
        let stable = servedNames.contains(storage) ? storage : servedNames[0]
        let storageVersion = versions.first { $0["name"]?.stringValue == stable }
        var subresources: [ResourceType.Subresource] = []
        if storageVersion?[path: "subresources", "status"] != nil { subresources.append(.status) }
        if storageVersion?[path: "subresources", "scale"] != nil { subresources.append(.scale) }
        var resource = ResourceType(
            group: group, version: stable, kind: kind, plural: plural,
            namespaced: spec["scope"]?.stringValue != "Cluster",
            shortNames: names["shortNames"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            categories: names["categories"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            subresources: subresources,
            aliases: servedNames.filter { $0 != stable }.map { GroupVersion(group, $0) },
            storagePrefix: "\(group)/\(plural)", schemaName: nil, tracksGeneration: true)
        if let singular = names["singular"]?.stringValue, !singular.isEmpty { resource.singular = singular }
        resource.definition = definition
        return resource
    }

    /// The `openAPIV3Schema` of `version` of a custom resource.
    static func schema(of resource: ResourceType, version: String) -> JSONValue? {
        resource.definition?[path: "spec", "versions"]?.arrayValue?
            .first { $0["name"]?.stringValue == version }?[path: "schema", "openAPIV3Schema"]
    }

    /// What kube-apiserver records in a definition's status once its names are taken: accepted names and the
    /// `NamesAccepted` and `Established` conditions that `kubectl wait --for condition=established` and Helm wait
    /// for.
    static func prepareStatus(_ definition: inout JSONValue, now: String) {
        guard var names = definition[path: "spec", "names"] else { return }
        let kind = names["kind"]?.stringValue ?? ""
        if names["singular"] == nil { names["singular"] = .string(kind.lowercased()) }
        if names["listKind"] == nil { names["listKind"] = .string(kind + "List") }
        definition[path: "spec", "names"] = names
        definition[path: "status", "acceptedNames"] = names
        // Conditions already true keep the time they became true.
        let existing = definition[path: "status", "conditions"]?.arrayValue ?? []
        func since(_ type: String) -> JSONValue {
            existing.first { $0["type"]?.stringValue == type && $0["status"]?.stringValue == "True" }?[
                "lastTransitionTime"] ?? .string(now)
        }
        let conditions: [JSONValue] = [
            [
                "type": "NamesAccepted", "status": "True", "lastTransitionTime": since("NamesAccepted"),
                "reason": "NoConflicts", "message": "no conflicts found",
            ],
            [
                "type": "Established", "status": "True", "lastTransitionTime": since("Established"),
                "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
            ],
        ]
        definition[path: "status", "conditions"] = .array(conditions)
        let storage = definition[path: "spec", "versions"]?.arrayValue?
            .first { $0["storage"]?.boolValue ?? false }?["name"]
        var stored = definition[path: "status", "storedVersions"]?.arrayValue ?? []
        if let storage, !stored.contains(storage) { stored.append(storage) }
        definition[path: "status", "storedVersions"] = .array(stored)
    }

    /// A definition's own checks (the ones clients trip over): its name is `<plural>.<group>`, it has versions and
    /// exactly one storage version.
    static func errors(in definition: JSONValue) -> [FieldError] {
        var errors: [FieldError] = []
        let group = definition[path: "spec", "group"]?.stringValue ?? ""
        let plural = definition[path: "spec", "names", "plural"]?.stringValue ?? ""
        let name = definition[path: "metadata", "name"]?.stringValue ?? ""
        if group.isEmpty { errors.append(.required(FieldPath("spec", "group"))) }
        if plural.isEmpty { errors.append(.required(FieldPath("spec", "names", "plural"))) }
        if (definition[path: "spec", "names", "kind"]?.stringValue ?? "").isEmpty {
            errors.append(.required(FieldPath("spec", "names", "kind")))
        }
        if !group.isEmpty, !plural.isEmpty, name != "\(plural).\(group)" {
            errors.append(.invalid(FieldPath("metadata", "name"), name, "must be spec.names.plural+\".\"+spec.group"))
        }
        let versions = definition[path: "spec", "versions"]?.arrayValue ?? []
        if versions.isEmpty {
            errors.append(
                .required(FieldPath("spec", "versions"), "must have exactly one version marked as storage version"))
        } else if versions.filter({ $0["storage"]?.boolValue ?? false }).count != 1 {
            errors.append(
                .invalid(
                    FieldPath("spec", "versions"), json: .array(versions.map { $0["name"] ?? .null }),
                    "must have exactly one version marked as storage version"))
        }
        let scope = definition[path: "spec", "scope"]?.stringValue ?? ""
        if scope != "Namespaced", scope != "Cluster" {
            errors.append(
                .notSupported(FieldPath("spec", "scope"), .string(scope), supported: ["Cluster", "Namespaced"]))
        }
        return errors
    }
}
