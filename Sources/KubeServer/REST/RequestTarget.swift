import KubeAPI

/// What a REST path names, parsed as kube-apiserver's `RequestInfoFactory` does:
/// `/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}`, `/apis/{group}/{version}/{resource}/{name}`.
struct RequestTarget: Sendable {
    /// The version the client asked for (an alias or the stable one); objects are answered in it.
    var groupVersion: GroupVersion
    var resource: ResourceType
    var namespace: String?
    var name: String?
    var subresource: String?

    init(
        groupVersion: GroupVersion, resource: ResourceType, namespace: String? = nil, name: String? = nil,
        subresource: String? = nil
    ) {
        self.groupVersion = groupVersion
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.subresource = subresource
    }

    /// The segments after `/api/v1` or `/apis/{g}/{v}` (or nil for a path that is not a resource path).
    static func parse(path: String, resources: ResourceCatalogue) -> Result<RequestTarget, KubeError>? {
        var segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let groupVersion: GroupVersion
        if segments.first == "api", segments.count >= 3 {
            groupVersion = GroupVersion("", segments[1])
            segments.removeFirst(2)
        } else if segments.first == "apis", segments.count >= 4 {
            groupVersion = GroupVersion(segments[1], segments[2])
            segments.removeFirst(3)
        } else {
            return nil
        }
        var namespace: String?
        // `namespaces/{ns}/{resource}…`, unless it is a namespace's own subresource (`namespaces/x/status`).
        if segments.count >= 3, segments[0] == "namespaces" {
            let isNamespaceSubresource =
                groupVersion.group.isEmpty && segments.count == 3
                && (segments[2] == "status" || segments[2] == "finalize")
            if !isNamespaceSubresource {
                namespace = segments[1]
                segments.removeFirst(2)
            }
        }
        guard let plural = segments.first else { return nil }
        guard let resource = resources.resource(groupVersion: groupVersion, plural: plural) else {
            return .failure(.unknownPath)
        }
        if namespace != nil, !resource.namespaced { return .failure(.unknownPath) }
        let name = segments.count > 1 ? segments[1] : nil
        let subresource = segments.count > 2 ? segments[2] : nil
        if segments.count > 3 { return .failure(.unknownPath) }
        return .success(
            RequestTarget(
                groupVersion: groupVersion, resource: resource, namespace: namespace, name: name,
                subresource: subresource))
    }
}

/// The query parameters of a request, decoded once (`a=b&c=d`, percent-decoding, `+` as space).
public struct QueryParameters: Sendable {
    private var values: [(String, String)] = []

    public init(_ query: String) {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            values.append((name, value))
        }
    }

    public subscript(name: String) -> String? { values.first { $0.0 == name }?.1 }

    public func all(_ name: String) -> [String] { values.filter { $0.0 == name }.map(\.1) }

    public func flag(_ name: String) -> Bool {
        guard let value = self[name] else { return false }
        return value == "true" || value == "1" || value == ""
    }

    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
