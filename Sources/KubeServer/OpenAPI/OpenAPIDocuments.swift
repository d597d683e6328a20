import Crypto
import Foundation
import KubeAPI
import Synchronization

/// OpenAPI v3 as kube-apiserver serves it: an index (`/openapi/v3`) naming one document per group/version with a
/// content hash, and the documents. kubectl needs them: `create`/`apply`/`edit` check that the PATCH operation of
/// the object's kind takes `fieldValidation` (then leave validation to the server), and `explain` reads the
/// schemas. Built from the same schema catalogue the server validates and patches with.
final class OpenAPIDocuments: Sendable {
    let catalogue: ResourceCatalogue
    private let cache = Mutex<[String: (document: JSONValue, hash: String)]>([:])
    private let protobufCache = Mutex<[UInt8]?>(nil)
    /// The catalogue generation the caches were built for.
    private let cachedGeneration = Mutex(-1)
    /// The catalogue's definitions in OpenAPI form (`$ref` as `#/components/schemas/…`, `gvk` as
    /// `x-kubernetes-group-version-kind`), made once.
    private static let definitions: JSONObject = {
        guard let document = try? JSONValue.parse(Array(KubeSchemaCatalogue.builtInDefinitionsText.utf8)),
            let definitions = document["definitions"]?.objectValue
        else { return JSONObject() }
        return JSONObject(definitions.map { ($0.key, openAPISchema($0.value)) })
    }()

    init(catalogue: ResourceCatalogue) { self.catalogue = catalogue }

    /// `api/v1`, `apis/apps/v1` for every served group/version.
    private var paths: [(path: String, version: GroupVersion)] {
        catalogue.groupVersions.flatMap { group in
            group.versions.map { version in
                let gv = GroupVersion(group.group, version)
                return (group.group.isEmpty ? "api/\(version)" : "apis/\(group.group)/\(version)", gv)
            }
        }
    }

    /// Drops what was built for an older set of kinds.
    private func refresh() {
        let generation = catalogue.generation
        cachedGeneration.withLock { cached in
            guard cached != generation else { return }
            cached = generation
            cache.withLock { $0.removeAll() }
            protobufCache.withLock { $0 = nil }
        }
    }

    func index() -> JSONValue {
        refresh()
        var entries = JSONObject()
        for (path, version) in paths {
            let hash = entry(path, version).hash
            entries[path] = ["serverRelativeURL": .string("/openapi/v3/\(path)?hash=\(hash)")]
        }
        return ["paths": .object(entries)]
    }

    func document(path: String) -> JSONValue? {
        refresh()
        guard let version = paths.first(where: { $0.path == path })?.version else { return nil }
        return entry(path, version).document
    }

    private func entry(_ path: String, _ version: GroupVersion) -> (document: JSONValue, hash: String) {
        if let cached = cache.withLock({ $0[path] }) { return cached }
        let document = build(version)
        let digest = SHA512.hash(data: document.serialized())
        let hash = digest.prefix(64).map { String(format: "%02X", $0) }.joined()
        cache.withLock { $0[path] = (document, hash) }
        return (document, hash)
    }

    private func build(_ version: GroupVersion) -> JSONValue {
        let resources = catalogue.all.filter { $0.servedVersions.contains(version) }
        var paths = JSONObject()
        var schemas = JSONObject()
        let prefix = version.group.isEmpty ? "/api/\(version.version)" : "/apis/\(version.group)/\(version.version)"
        for resource in resources {
            let gvk: JSONValue = [
                "group": .string(version.group), "version": .string(version.version), "kind": .string(resource.kind),
            ]
            let base =
                resource.namespaced
                ? "\(prefix)/namespaces/{namespace}/\(resource.plural)" : "\(prefix)/\(resource.plural)"
            let parameters: JSONValue = [
                ["name": "dryRun", "in": "query", "schema": ["type": "string"]],
                ["name": "fieldManager", "in": "query", "schema": ["type": "string"]],
                ["name": "fieldValidation", "in": "query", "schema": ["type": "string"]],
                ["name": "force", "in": "query", "schema": ["type": "boolean"]],
            ]
            paths["\(base)/{name}"] = [
                "get": ["x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk],
                "put": [
                    "x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk, "parameters": parameters,
                ],
                "patch": [
                    "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk, "parameters": parameters,
                ],
                "delete": ["x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk],
            ]
            paths[base] = [
                "get": ["x-kubernetes-action": "list", "x-kubernetes-group-version-kind": gvk],
                "post": [
                    "x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk, "parameters": parameters,
                ],
            ]
            if resource.definition != nil {
                Self.addCustomResource(resource, version: version, gvk: gvk, into: &schemas)
                continue
            }
            guard let name = resource.schemaName else { continue }
            Self.collect(name, into: &schemas)
            // The kind's definition also names the version this document serves it at (an alias included).
            if var schema = schemas[name]?.objectValue {
                var kinds = schema["x-kubernetes-group-version-kind"]?.arrayValue ?? []
                if !kinds.contains(gvk) { kinds.append(gvk) }
                schema["x-kubernetes-group-version-kind"] = .array(kinds)
                schemas[name] = .object(schema)
            }
        }
        return [
            "openapi": "3.0.0", "info": ["title": "Kubernetes", "version": .string(KubernetesVersion.gitVersion)],
            "paths": .object(paths), "components": ["schemas": .object(schemas)],
        ]
    }

    /// The Swagger 2.0 document (`/openapi/v2`) kubectl 1.27 and 1.28 validate and explain with: every served
    /// kind's PATCH operation taking `fieldValidation`, and the definitions, `$ref`s as `#/definitions/…`.
    func swagger() -> JSONValue {
        refresh()
        if let cached = cache.withLock({ $0["swagger"] }) { return cached.document }
        var paths = JSONObject()
        var definitions = JSONObject()
        for group in catalogue.groupVersions {
            for version in group.versions {
                let gv = GroupVersion(group.group, version)
                guard case .object(let document) = build(gv), let documentPaths = document["paths"]?.objectValue else {
                    continue
                }
                for (path, item) in documentPaths { paths[path] = Self.swaggerPathItem(item) }
                for (name, schema) in document["components"]?["schemas"]?.objectValue ?? JSONObject() {
                    var schema = Self.swaggerSchema(schema)
                    if let existing = definitions[name]?["x-kubernetes-group-version-kind"]?.arrayValue,
                        let added = schema["x-kubernetes-group-version-kind"]?.arrayValue
                    {
                        schema["x-kubernetes-group-version-kind"] = .array(
                            existing + added.filter { !existing.contains($0) })
                    }
                    definitions[name] = schema
                }
            }
        }
        let document: JSONValue = [
            "swagger": "2.0", "info": ["title": "Kubernetes", "version": .string(KubernetesVersion.gitVersion)],
            "paths": .object(paths), "definitions": .object(definitions),
        ]
        cache.withLock { $0["swagger"] = (document, "") }
        return document
    }

    /// The Swagger document in gnostic's protobuf form (what kubectl 1.27 and 1.28 ask for), encoded once.
    func swaggerProtobuf() -> [UInt8] {
        if let cached = protobufCache.withLock({ $0 }) { return cached }
        let bytes = GnosticOpenAPIv2.encode(swagger())
        protobufCache.withLock { $0 = bytes }
        return bytes
    }

    /// An OpenAPI v3 path item in Swagger 2.0's words: query parameters carry `type` directly.
    private static func swaggerPathItem(_ item: JSONValue) -> JSONValue {
        guard case .object(var operations) = item else { return item }
        for (method, operation) in operations {
            guard case .object(var fields) = operation else { continue }
            if let parameters = fields["parameters"]?.arrayValue {
                fields["parameters"] = .array(
                    parameters.map { parameter in
                        var parameter = parameter
                        parameter["type"] = parameter[path: "schema", "type"] ?? "string"
                        parameter["schema"] = nil
                        parameter["uniqueItems"] = true
                        return parameter
                    })
            }
            operations[method] = .object(fields)
        }
        return .object(operations)
    }

    /// A v3 schema in Swagger 2.0's words: `allOf: [{$ref}]` back to a plain `$ref` into `#/definitions/`.
    private static func swaggerSchema(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            if let allOf = object["allOf"]?.arrayValue, allOf.count == 1,
                let reference = allOf[0]["$ref"]?.stringValue
            {
                var result: JSONObject = [
                    "$ref": .string("#/definitions/" + reference.dropFirst("#/components/schemas/".count))
                ]
                if let description = object["description"] { result["description"] = description }
                return .object(result)
            }
            var result = JSONObject()
            for (key, child) in object {
                if key == "properties" {
                    result[key] = .object(
                        JSONObject((child.objectValue ?? JSONObject()).map { ($0.key, swaggerSchema($0.value)) }))
                } else if key == "default" || key == "enum" {
                    result[key] = child
                } else {
                    result[key] = swaggerSchema(child)
                }
            }
            return .object(result)
        case .array(let array):
            return .array(array.map(swaggerSchema))
        default:
            return value
        }
    }

    /// A custom resource's schema from its definition, named as kube-apiserver names it (`com.example.v1.CronTab`),
    /// its `metadata` the real ObjectMeta.
    private static func addCustomResource(
        _ resource: ResourceType, version: GroupVersion, gvk: JSONValue, into schemas: inout JSONObject
    ) {
        guard var schema = CustomResourceTypes.schema(of: resource, version: version.version) else { return }
        let reversedGroup = resource.group.split(separator: ".").reversed().joined(separator: ".")
        schema["x-kubernetes-group-version-kind"] = [gvk]
        schema[path: "properties", "metadata"] = [
            "allOf": [["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]]
        ]
        schema[path: "properties", "apiVersion"] = ["type": "string"]
        schema[path: "properties", "kind"] = ["type": "string"]
        schemas["\(reversedGroup).\(version.version).\(resource.kind)"] = schema
        collect("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", into: &schemas)
    }

    /// `name` and every definition it refers to.
    private static func collect(_ name: String, into schemas: inout JSONObject) {
        guard schemas[name] == nil, let schema = definitions[name] else { return }
        schemas[name] = schema
        var references: [String] = []
        findReferences(schema, into: &references)
        for reference in references { collect(reference, into: &schemas) }
    }

    private static func findReferences(_ value: JSONValue, into references: inout [String]) {
        switch value {
        case .object(let object):
            for (key, child) in object {
                if key == "$ref", let target = child.stringValue {
                    references.append(String(target.dropFirst("#/components/schemas/".count)))
                } else {
                    findReferences(child, into: &references)
                }
            }
        case .array(let array):
            for child in array { findReferences(child, into: &references) }
        default:
            break
        }
    }

    /// A compact catalogue schema in OpenAPI's words.
    static func openAPISchema(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var result = JSONObject()
            for (key, child) in object {
                switch key {
                case "$ref":
                    // kube-apiserver wraps references in allOf so siblings (default, description) may stay.
                    result["allOf"] = [["$ref": .string("#/components/schemas/\(child.stringValue ?? "")")]]
                case "gvk":
                    result["x-kubernetes-group-version-kind"] = .array(
                        (child.arrayValue ?? []).map { entry in
                            let parts = entry.arrayValue ?? []
                            return [
                                "group": parts.count > 0 ? parts[0] : "", "version": parts.count > 1 ? parts[1] : "",
                                "kind": parts.count > 2 ? parts[2] : "",
                            ]
                        })
                case "properties":
                    result[key] = .object(
                        JSONObject((child.objectValue ?? JSONObject()).map { ($0.key, openAPISchema($0.value)) }))
                default:
                    result[key] = openAPISchema(child)
                }
            }
            return .object(result)
        case .array(let array):
            return .array(array.map(openAPISchema))
        default:
            return value
        }
    }
}
