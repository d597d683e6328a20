import KubeAPI

/// `spec.nodeSelector` and the required node affinity of a pod (`nodeSelectorTerms`: any term, each term all of
/// its `matchExpressions` and `matchFields`), as the NodeAffinity plugin matches nodes.
struct NodeAffinity: Sendable {
    var selector: [String: String]
    /// nil when the pod has no required node affinity; an empty list matches no node.
    var terms: [JSONValue]?

    init(pod: JSONValue) {
        var selector: [String: String] = [:]
        for (key, value) in pod[path: "spec", "nodeSelector"]?.objectValue ?? [:] {
            selector[key] = value.stringValue ?? ""
        }
        self.selector = selector
        terms =
            pod[
                path: "spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                "nodeSelectorTerms"]?.arrayValue
    }

    var isEmpty: Bool { selector.isEmpty && terms == nil }

    func matches(name: String, labels: [String: String]) -> Bool {
        for (key, value) in selector where labels[key] != value { return false }
        guard let terms else { return true }
        return terms.contains { Self.term($0, name: name, labels: labels) }
    }

    /// A term with neither expressions nor fields selects nothing (`nodeSelectorTerms: [{}]`).
    private static func term(_ term: JSONValue, name: String, labels: [String: String]) -> Bool {
        let expressions = term["matchExpressions"]?.arrayValue ?? []
        let fields = term["matchFields"]?.arrayValue ?? []
        if expressions.isEmpty && fields.isEmpty { return false }
        for expression in expressions {
            let key = expression["key"]?.stringValue ?? ""
            if !requirement(expression, value: labels[key]) { return false }
        }
        for field in fields {
            // `metadata.name` is the only field a node selector term may test.
            guard field["key"]?.stringValue == "metadata.name" else { return false }
            if !requirement(field, value: name) { return false }
        }
        return true
    }

    private static func requirement(_ expression: JSONValue, value: String?) -> Bool {
        let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue)
        switch expression["operator"]?.stringValue ?? "" {
        case "In": return value.map(values.contains) ?? false
        case "NotIn": return value.map { !values.contains($0) } ?? true
        case "Exists": return value != nil
        case "DoesNotExist": return value == nil
        case "Gt", "Lt":
            guard let value, let label = Int64(value), values.count == 1, let bound = Int64(values[0]) else {
                return false
            }
            return expression["operator"]?.stringValue == "Gt" ? label > bound : label < bound
        default: return false
        }
    }
}
