/// A group and version, `apps/v1` (`v1` for the core group, whose name is empty).
public struct GroupVersion: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String

    public init(_ group: String, _ version: String) {
        self.group = group
        self.version = version
    }

    /// Parses an `apiVersion` value: `v1`, `apps/v1`.
    public init?(apiVersion: String) {
        let parts = apiVersion.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1 where !parts[0].isEmpty: self.init("", String(parts[0]))
        case 2 where !parts[0].isEmpty && !parts[1].isEmpty: self.init(String(parts[0]), String(parts[1]))
        default: return nil
        }
    }

    /// The `apiVersion` string.
    public var description: String { group.isEmpty ? version : "\(group)/\(version)" }
}

/// One kind the server serves, described once. Kelson is versionless: each kind has one stored form (its stable
/// version), and every other version upstream ever served it in (`aliases`) is a view of that same object.
public struct ResourceType: Sendable {
    public enum Subresource: String, Sendable, CaseIterable {
        case status, scale, log, exec, attach, portforward, binding, eviction, token, proxy, finalize
    }

    public var group: String
    /// The stable version: what is stored and what discovery prefers.
    public var version: String
    public var kind: String
    /// The plural lowercase name in URLs (`pods`).
    public var plural: String
    public var singular: String
    public var namespaced: Bool
    public var shortNames: [String]
    public var categories: [String]
    public var subresources: [Subresource]
    /// Other versions served as views of the stable one (`extensions/v1beta1` deployments).
    public var aliases: [GroupVersion]
    /// The path segment under `/registry/` kube-apiserver stores this kind at (`minions` for nodes,
    /// `services/specs` for services); Kelson keeps the same layout so its store reads like a cluster's.
    public var storagePrefix: String
    /// The OpenAPI definition of the stable form (`io.k8s.api.core.v1.Pod`); nil for custom resources.
    public var schemaName: String?
    /// `metadata.generation` is kept (moves only when the object's spec changes).
    public var tracksGeneration: Bool
    /// Verbs other than the standard ones may be missing (`create` only for bindings, tokens).
    public var verbs: [String]
    /// For a custom resource: the CustomResourceDefinition that defines it (schemas, printer columns).
    public var definition: JSONValue?

    public static let standardVerbs = [
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
    ]

    public init(
        group: String, version: String, kind: String, plural: String, namespaced: Bool,
        shortNames: [String] = [], categories: [String] = [], subresources: [Subresource] = [],
        aliases: [GroupVersion] = [], storagePrefix: String? = nil, schemaName: String? = nil,
        tracksGeneration: Bool = false, verbs: [String] = ResourceType.standardVerbs
    ) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.singular = kind.lowercased()
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.categories = categories
        self.subresources = subresources
        self.aliases = aliases
        self.storagePrefix = storagePrefix ?? plural
        self.schemaName = schemaName
        self.tracksGeneration = tracksGeneration
        self.verbs = verbs
    }

    public var groupVersion: GroupVersion { GroupVersion(group, version) }
    /// Every version this kind is served at, the stable one first.
    public var servedVersions: [GroupVersion] { [groupVersion] + aliases }
    public var listKind: String { kind + "List" }
    /// `pods`, `deployments.apps`: how apimachinery names a group resource in messages.
    public var qualifiedName: String { group.isEmpty ? plural : "\(plural).\(group)" }
    public var hasStatus: Bool { subresources.contains(.status) }

    /// The store key of one object (kube-apiserver's layout): `/registry/pods/default/web-1`,
    /// `/registry/minions/node-1`.
    public func key(namespace: String?, name: String) -> String {
        if namespaced, let namespace { return "/registry/\(storagePrefix)/\(namespace)/\(name)" }
        return "/registry/\(storagePrefix)/\(name)"
    }

    /// The prefix of every object of this kind (in one namespace, or all of them), with its trailing slash.
    public func keyPrefix(namespace: String?) -> String {
        if namespaced, let namespace, !namespace.isEmpty { return "/registry/\(storagePrefix)/\(namespace)/" }
        return "/registry/\(storagePrefix)/"
    }
}
