import Foundation
import KubeAPI
import Synchronization

/// `?fieldValidation=Strict|Warn|Ignore` (kube-apiserver's server-side field validation; Warn when not given):
/// unknown and duplicate fields refuse the request, or come back as `Warning` headers, or are dropped silently. In
/// every case what is stored holds only fields the kind's schema knows, as kube-apiserver's typed decode leaves it.
struct FieldValidation: Sendable {
    enum Directive: Sendable { case strict, warn, ignore }

    let directive: Directive
    let warnings: WarningSink

    init(query: QueryParameters, warnings: WarningSink) throws(KubeError) {
        switch query["fieldValidation"] ?? "" {
        case "", "Warn": directive = .warn
        case "Strict": directive = .strict
        case "Ignore": directive = .ignore
        case let other:
            throw .badRequest("fieldValidation parameter unsupported: \(other)")
        }
        self.warnings = warnings
    }

    /// Drops what the kind's schema does not know (and nulls), silently: the result of a merge whose inputs were
    /// checked already.
    static func prune(_ object: JSONValue, resource: ResourceType) throws(KubeError) -> JSONValue {
        if resource.definition != nil {
            guard let schema = CustomResourceSchemas.schema(for: resource, version: resource.version) else {
                return object
            }
            return schema.applyDefaults(schema.prune(object))
        }
        guard let name = resource.schemaName, let schema = KubeSchemaCatalogue.shared.definition(named: name) else {
            return object
        }
        return UnknownFields.prune(object, schema: schema, removingNulls: true)
    }

    /// Checks and prunes a decoded body (create, update, apply) or a patch's result.
    func apply(
        to object: JSONValue, resource: ResourceType, decoding: UnknownFields.Decoding = .jsonBody,
        duplicatePaths: [String] = []
    ) throws(KubeError) -> JSONValue {
        if resource.definition != nil {
            // A custom resource: apiextensions-apiserver's decode (root metadata coerced, unknown fields pruned,
            // their paths reported) and its defaults.
            guard let schema = CustomResourceSchemas.schema(for: resource, version: resource.version) else {
                return object
            }
            let decoded: (object: JSONValue, unknownFieldPaths: [String])
            do {
                decoded = try schema.decode(object)
            } catch {
                throw .badRequest(error.message)
            }
            let unknown = decoded.unknownFieldPaths.map { "unknown field \"\($0)\"" }
            if !unknown.isEmpty {
                switch directive {
                case .warn: warnings.add(unknown)
                case .strict: throw .badRequest("strict decoding error: " + unknown.joined(separator: ", "))
                case .ignore: break
                }
            }
            return schema.applyDefaults(decoded.object)
        }
        guard let name = resource.schemaName, let schema = KubeSchemaCatalogue.shared.definition(named: name) else {
            return object
        }
        if directive != .ignore,
            let error = UnknownFields.strictDecodingError(
                in: object, schema: schema, decoding: decoding, duplicatePaths: duplicatePaths)
        {
            if directive == .warn {
                warnings.add(error.warnings)
            } else if decoding == .patchedMap {
                throw KubeError(code: 422, reason: "Invalid", message: error.message)
            } else {
                let kind = object["kind"]?.stringValue ?? resource.kind
                let version = object["apiVersion"]?.stringValue ?? resource.groupVersion.description
                throw .badRequest(error.badRequestMessage(kind: kind, version: version, objectKind: resource.kind))
            }
        }
        return UnknownFields.prune(object, schema: schema, removingNulls: true)
    }
}

/// Warnings for one request, sent as `Warning: 299 - "…"` headers (kubectl prints them).
final class WarningSink: Sendable {
    private let messages = Mutex<[String]>([])

    func add(_ new: [String]) { messages.withLock { $0 += new } }

    var headers: [(name: String, value: String)] {
        messages.withLock { $0 }.map { message in
            let escaped = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
                of: "\"", with: "\\\"")
            return ("Warning", "299 - \"\(escaped)\"")
        }
    }
}
