import KubeAPI

/// The checks every write makes before it reaches the store: the body's kind and version against the URL, its
/// namespace against the URL's, and validation (kube-apiserver's 400 and 422 answers, word for word).
enum ObjectChecks {
    static func checkType(_ object: JSONValue, target: RequestTarget) throws(KubeError) {
        guard case .object = object else { throw .badRequest("the body of the request was not a JSON object") }
        let resource = target.resource
        if let kind = object["kind"]?.stringValue, !kind.isEmpty, kind != resource.kind {
            // transformDecodeError's form when the body names a kind (the cause is Kelson's own words).
            let version = GroupVersion(apiVersion: object["apiVersion"]?.stringValue ?? "")?.version ?? ""
            throw .badRequest(
                "\(kind) in version \"\(version)\" cannot be handled as a \(resource.kind): the body is a \(kind), not a \(resource.kind)"
            )
        }
        if let apiVersion = object["apiVersion"]?.stringValue, !apiVersion.isEmpty {
            guard let version = GroupVersion(apiVersion: apiVersion), resource.servedVersions.contains(version) else {
                throw .badRequest(
                    "the API version in the data (\(apiVersion)) does not match the expected API version (\(target.groupVersion))"
                )
            }
        }
    }

    /// The namespace comes from the URL; a body naming another one is refused.
    static func checkNamespace(_ object: inout JSONValue, target: RequestTarget) throws(KubeError) {
        let bodyNamespace = object[path: "metadata", "namespace"]?.stringValue ?? ""
        guard target.resource.namespaced else {
            object[path: "metadata", "namespace"] = nil
            return
        }
        let namespace = target.namespace ?? ""
        if !bodyNamespace.isEmpty, bodyNamespace != namespace {
            throw .badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        object[path: "metadata", "namespace"] = .string(namespace)
    }

    static func validate(_ object: JSONValue, resource: ResourceType, old: JSONValue?) throws(KubeError) {
        let errors = ObjectValidation.errors(in: object, resource: resource, old: old)
        guard !errors.isEmpty else { return }
        let name = object[path: "metadata", "name"]?.stringValue ?? ""
        var error = KubeError(
            code: 422, reason: "Invalid",
            message: FieldError.invalidMessage(group: resource.group, kind: resource.kind, name: name, errors: errors))
        error.name = name
        error.group = resource.group.isEmpty ? nil : resource.group
        error.kind = resource.kind
        error.causes = errors.map(\.statusCause)
        throw error
    }
}
