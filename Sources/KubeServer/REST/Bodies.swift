import Foundation
import GRPCWire
import KubeAPI

/// Request bodies: objects (JSON, YAML), the four patch types, DeleteOptions; with kube-apiserver's answers for
/// what it cannot take (415) or cannot read (400).
enum Bodies {
    /// The media type without parameters, lowercased (`application/json`); empty when none was sent (the Python
    /// client sends none on create: JSON, as kube-apiserver assumes).
    static func mediaType(_ request: HTTPRequest) -> String {
        let value = request.header("content-type") ?? ""
        return value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// The object in a create or update body, with the paths of fields it names twice (strict validation
    /// reports them).
    static func decodeObject(_ request: HTTPRequest, kind: String = "Object") throws(KubeError)
        -> (object: JSONValue, duplicates: [String])
    {
        let type = mediaType(request)
        switch type {
        case "", "application/json", "*/*":
            do {
                let (value, duplicates) = try JSONValue.parseReportingDuplicateFields(request.body)
                return (value, duplicates)
            } catch {
                throw .badRequest(
                    "the object provided is unrecognized (must be of type \(kind)): couldn't get version/kind; json parse error: \(error.message) (\(summarize(request.body)))"
                )
            }
        case "application/yaml", "application/apply-patch+yaml":
            return (try parseYAML(request.body), [])
        case KubeProtobuf.mediaType:
            // kubectl ≥1.32's generators (`create configmap|secret|deployment…`) send protobuf; answers stay JSON,
            // which their Accept (`…protobuf,application/json`) takes.
            do {
                return (try KubeProtobuf.decodeObject(request.body), [])
            } catch {
                throw .badRequest(error.message)
            }
        default:
            throw .unsupportedMediaType(type)
        }
    }

    static func parseJSON(_ bytes: [UInt8]) throws(KubeError) -> JSONValue {
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw .badRequest(
                "the object provided is unrecognized (must be of type Object): couldn't get version/kind; json parse error: \(error.message)"
            )
        }
    }

    /// kube-apiserver's `summarizeData(body, 30)`, quoted in decode errors: the first 30 bytes of a JSON body
    /// (` ...` after), hex for anything else, `<empty>` for nothing.
    static func summarize(_ body: [UInt8]) -> String {
        guard let first = body.first else { return "<empty>" }
        let head = body.prefix(30)
        let more = body.count > 30 ? " ..." : ""
        if first == UInt8(ascii: "{") { return String(decoding: head, as: UTF8.self) + more }
        return head.map { String(format: "%02x", $0) }.joined() + more
    }

    static func parseYAML(_ bytes: [UInt8]) throws(KubeError) -> JSONValue {
        // JSON is YAML: take the fast path when it looks like JSON.
        if let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
            first == UInt8(ascii: "{")
        {
            return try parseJSON(bytes)
        }
        do {
            return try JSONValue.parseYAML(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw .badRequest("error converting YAML to JSON: \(error)")
        }
    }

    /// A PATCH body with its type; `apply` produces the patched object from the current one.
    struct Patch: Sendable {
        enum Kind: Sendable { case json, merge, strategic, apply }
        var kind: Kind
        var body: JSONValue
        var resource: ResourceType

        /// Server-side apply creates what does not exist yet.
        var createsMissing: Bool { kind == .apply }
        /// Which decoder kube-apiserver checks the result with (order and wording of unknown-field errors).
        var decoding: UnknownFields.Decoding { kind == .strategic ? .patchedMap : .jsonBody }

        func apply(to current: JSONValue) throws(KubeError) -> JSONValue {
            switch kind {
            case .json:
                do {
                    return try JSONPatch.apply(body, to: current)
                } catch {
                    let code: Int
                    let reason: String
                    switch error.code {
                    case .malformedPatch: (code, reason) = (400, "BadRequest")
                    case .tooManyOperations: (code, reason) = (413, "RequestEntityTooLarge")
                    case .operationFailed: (code, reason) = (422, "Invalid")
                    }
                    throw KubeError(code: code, reason: reason, message: error.message)
                }
            case .merge:
                return MergePatch.apply(body, to: current)
            case .strategic, .apply:
                // Server-side apply merges the applied configuration like a strategic patch (field ownership and
                // conflicts are not tracked yet, so it behaves as `--force-conflicts` would).
                guard let schema = resource.schemaName.flatMap({ KubeSchemaCatalogue.shared.definition(named: $0) })
                else {
                    if kind == .apply { return MergePatch.apply(body, to: current) }
                    throw .unsupportedMediaType("application/strategic-merge-patch+json")
                }
                do {
                    return try StrategicMergePatch.apply(body, to: current, schema: schema)
                } catch {
                    switch error.response {
                    case .badRequest: throw .badRequest(error.message)
                    case .unprocessableEntity: throw KubeError(code: 422, reason: "Invalid", message: error.message)
                    case .internalError: throw .internalError(error.message)
                    }
                }
            }
        }
    }

    static func patch(_ request: HTTPRequest, resource: ResourceType) throws(KubeError) -> Patch {
        let type = mediaType(request)
        let kind: Patch.Kind
        switch type {
        case "application/json-patch+json": kind = .json
        case "application/merge-patch+json": kind = .merge
        case "application/strategic-merge-patch+json": kind = .strategic
        case "application/apply-patch+yaml": kind = .apply
        default:
            var error = KubeError(
                code: 415, reason: "UnsupportedMediaType",
                message:
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                    + (resource.schemaName != nil ? ", application/strategic-merge-patch+json" : ""))
            error.kind = nil
            throw error
        }
        let body = kind == .apply ? try parseYAML(request.body) : try parseJSON(request.body)
        if kind == .json, body.arrayValue == nil {
            throw .badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        }
        if kind != .json, body.objectValue == nil {
            throw .badRequest(
                "json: cannot unmarshal \(body.arrayValue != nil ? "array" : "value") into Go value of type map[string]interface {}"
            )
        }
        return Patch(kind: kind, body: body, resource: resource)
    }

    /// DeleteOptions from the body (kubectl sends `{"propagationPolicy":"Background"}`) or the query.
    static func deleteOptions(_ request: HTTPRequest, query: QueryParameters) throws(KubeError)
        -> ObjectRegistry.DeleteOptions
    {
        var options = ObjectRegistry.DeleteOptions()
        var body = JSONValue.object(JSONObject())
        if !request.body.isEmpty { body = try parseJSON(request.body) }
        options.propagationPolicy = body["propagationPolicy"]?.stringValue ?? query["propagationPolicy"]
        if let policy = options.propagationPolicy, !["Orphan", "Background", "Foreground"].contains(policy) {
            throw .badRequest(
                "DeleteOptions.propagationPolicy: Unsupported value: \"\(policy)\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )
        }
        if body["orphanDependents"]?.boolValue == true || query["orphanDependents"] == "true" {
            options.propagationPolicy = "Orphan"
        }
        options.gracePeriodSeconds =
            body["gracePeriodSeconds"]?.intValue ?? query["gracePeriodSeconds"].flatMap { Int64($0) }
        options.preconditionUID = body[path: "preconditions", "uid"]?.stringValue
        options.preconditionResourceVersion = body[path: "preconditions", "resourceVersion"]?.stringValue
        let dryRun = body["dryRun"]?.arrayValue?.contains("All") == true || query["dryRun"] == "All"
        options.dryRun = dryRun
        return options
    }
}
