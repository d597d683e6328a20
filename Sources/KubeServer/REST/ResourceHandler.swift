import Foundation
import GRPCWire
import KubeAPI

/// The verbs on one resource path: decode, apply the registry's semantics, encode. One request at a time, in the
/// task the API server gives it.
struct ResourceHandler: Sendable {
    let registry: ObjectRegistry
    let watches: WatchStreamer
    let tokens: TokenRequests?
    let podNodes: PodNodes
    let now: @Sendable () -> Date

    func handle(_ request: HTTPRequest, target: RequestTarget) async throws(KubeError) -> HTTPResponse {
        let query = QueryParameters(request.query)
        let resource = target.resource
        if let subresource = target.subresource {
            guard let known = ResourceType.Subresource(rawValue: subresource), resource.subresources.contains(known)
            else { throw .unknownPath }
            if known == .token, request.method == "POST", let name = target.name, let tokens {
                let (body, _) = try Bodies.decodeObject(request)
                return Responses.json(try await tokens.create(body, target: target, name: name), status: 201)
            }
            if (known == .binding || known == .eviction), request.method == "POST", let name = target.name {
                let (body, _) = try Bodies.decodeObject(request, kind: known == .binding ? "Binding" : "Eviction")
                let pods = PodSubresources(registry: registry, now: now)
                let answer =
                    known == .binding
                    ? try await pods.bind(body, target: target, name: name)
                    : try await pods.evict(body, target: target, name: name)
                return Responses.json(answer, status: 201)
            }
            if let kind = PodStreamKind(rawValue: subresource), let name = target.name,
                kind == .log ? request.method == "GET" : ["GET", "POST"].contains(request.method)
            {
                let pod = try await registry.get(target, name: name)
                return try await podNodes.serve(kind, pod: pod, request: request)
            }
            guard known == .status || known == .scale || (known == .finalize && request.method == "PUT") else {
                throw .methodNotSupported(
                    resource.plural + "/" + subresource, group: resource.group, verb: request.method.lowercased())
            }
        }
        switch (request.method, target.name) {
        case ("GET", nil), ("HEAD", nil):
            if query.flag("watch") { return try await watches.watch(request, target: target, query: query) }
            return try await list(request, target: target, query: query)
        case ("GET", let name?), ("HEAD", let name?):
            // `…/pods/p1?watch=true`: the older form of a watch with `fieldSelector=metadata.name=p1`.
            if query.flag("watch"), target.subresource == nil {
                return try await watches.watch(request, target: target, query: query)
            }
            let object = try await registry.get(target, name: name)
            if target.subresource == "scale" { return Responses.json(Scale.view(of: object, resource: resource)) }
            return await render(
                [object], single: true, request: request, target: target, query: query, listMetadata: JSONObject())
        case ("POST", nil):
            let warnings = WarningSink()
            let validation = try FieldValidation(query: query, warnings: warnings)
            let fields = FieldManagement(request: request, query: query, target: target, now: APITime.format(now()))
            let (body, duplicates) = try Bodies.decodeObject(request, kind: resource.kind)
            let object = try validation.apply(to: body, resource: resource, duplicatePaths: duplicates)
            let created = try await registry.create(
                target, object: fields.updated(old: nil, new: object), options: writeOptions(query))
            return Responses.json(created, status: query["dryRun"] == "All" ? 200 : 201).adding(warnings)
        case ("PUT", let name?):
            let warnings = WarningSink()
            let validation = try FieldValidation(query: query, warnings: warnings)
            let fields = FieldManagement(request: request, query: query, target: target, now: APITime.format(now()))
            let (body, duplicates) = try Bodies.decodeObject(request, kind: resource.kind)
            let object =
                target.subresource == "scale"
                ? body : try validation.apply(to: body, resource: resource, duplicatePaths: duplicates)
            return try await update(target, name: name, query: query) { current throws(KubeError) in
                if target.subresource == "scale", let current {
                    return fields.updated(old: current, new: try Scale.apply(object, to: current, resource: resource))
                }
                return fields.updated(old: current, new: object)
            }.adding(warnings)
        case ("PATCH", let name?):
            let warnings = WarningSink()
            let validation = try FieldValidation(query: query, warnings: warnings)
            let fields = FieldManagement(request: request, query: query, target: target, now: APITime.format(now()))
            let patch = try Bodies.patch(request, resource: resource)
            let force = query.flag("force")
            let explicitManager = query["fieldManager"] != nil
            // The applied configuration is checked (unknown fields) before it is merged.
            // (Not a ternary with `nil`: JSONValue is nil-literal-convertible, so `nil` there would be `.null`.)
            let applied: JSONValue? =
                if patch.kind == .apply { try validation.apply(to: patch.body, resource: resource) } else {
                    Optional<JSONValue>.none
                }
            return try await update(target, name: name, query: query, allowCreate: patch.createsMissing) {
                current throws(KubeError) in
                if target.subresource == "scale", let current {
                    let scale = try patch.apply(to: Scale.view(of: current, resource: resource))
                    return fields.updated(old: current, new: try Scale.apply(scale, to: current, resource: resource))
                }
                if let applied {
                    let merged = try fields.applied(
                        applied, live: current, force: force, explicitManager: explicitManager)
                    return try FieldValidation.prune(merged, resource: resource)
                }
                let patched = try patch.apply(to: current ?? .object(JSONObject()))
                let checked = try validation.apply(to: patched, resource: resource, decoding: patch.decoding)
                return fields.updated(old: current, new: checked)
            }.adding(warnings)
        case ("DELETE", let name?):
            let options = try Bodies.deleteOptions(request, query: query)
            let result = try await registry.delete(target, name: name, options: options)
            return Responses.json(result)
        case ("DELETE", nil):
            return try await deleteCollection(request, target: target, query: query)
        default:
            throw .methodNotSupported(resource.plural, group: resource.group, verb: request.method.lowercased())
        }
    }

    private func writeOptions(_ query: QueryParameters) -> ObjectRegistry.WriteOptions {
        ObjectRegistry.WriteOptions(dryRun: query["dryRun"] == "All")
    }

    private func update(
        _ target: RequestTarget, name: String, query: QueryParameters, allowCreate: Bool = false,
        _ transform: @escaping ObjectRegistry.Transform
    ) async throws(KubeError) -> HTTPResponse {
        let (object, created) = try await registry.update(
            target, name: name, subresource: target.subresource == "scale" ? nil : target.subresource,
            options: writeOptions(query), allowCreate: allowCreate, transform: transform)
        if target.subresource == "scale" { return Responses.json(Scale.view(of: object, resource: target.resource)) }
        return Responses.json(object, status: created ? 201 : 200)
    }

    static func listOptions(_ query: QueryParameters, resource: ResourceType) throws(KubeError)
        -> ObjectRegistry.ListOptions
    {
        var options = ObjectRegistry.ListOptions()
        if let limit = query["limit"], !limit.isEmpty {
            guard let value = Int(limit), value >= 0 else { throw .badRequest("limit: Invalid value: \"\(limit)\"") }
            options.limit = value
        }
        options.continueToken = query["continue"]
        options.resourceVersion = query["resourceVersion"]
        options.resourceVersionMatch = query["resourceVersionMatch"]
        if let text = query["labelSelector"], !text.isEmpty {
            do {
                options.labelSelector = try LabelSelector(parsing: text)
            } catch {
                throw .badRequest(error.description)
            }
        }
        if let text = query["fieldSelector"], !text.isEmpty {
            let selector: FieldSelector
            do {
                selector = try FieldSelector(parsing: text)
            } catch {
                throw .badRequest(error.description)
            }
            options.fieldSelector = try FieldSelectorSupport.convert(selector, resource: resource)
        }
        return options
    }

    private func list(_ request: HTTPRequest, target: RequestTarget, query: QueryParameters) async throws(KubeError)
        -> HTTPResponse
    {
        let options = try Self.listOptions(query, resource: target.resource)
        if case .object = Responses.representation(accept: request.header("accept"), query: query),
            options.labelSelector == nil, options.fieldSelector == nil,
            target.groupVersion == target.resource.groupVersion
        {
            return try await encodedList(target: target, options: options)
        }
        if case .table(let includeObject) = Responses.representation(accept: request.header("accept"), query: query),
            options.labelSelector == nil, options.fieldSelector == nil,
            target.groupVersion == target.resource.groupVersion
        {
            let (items, result) = try await registry.listEncoded(target, options: options)
            let metadata = Responses.listMetadata(result)
            let bytes = await StoredTable.bytes(
                items, resource: target.resource, listMetadata: metadata, includeObject: includeObject, now: now())
            return HTTPResponse(status: 200, headers: [("Content-Type", Responses.tableType)], body: bytes)
        }
        let result = try await registry.list(target, options: options)
        let metadata = Responses.listMetadata(result)
        return await render(
            result.items, single: false, request: request, target: target, query: query, listMetadata: metadata)
    }

    /// The common list (no selectors, stable version) written straight from the stored bytes.
    private func encodedList(target: RequestTarget, options: ObjectRegistry.ListOptions) async throws(KubeError)
        -> HTTPResponse
    {
        let (items, result) = try await registry.listEncoded(target, options: options)
        let metadata = Responses.listMetadata(result)
        var body: [UInt8] = []
        body.reserveCapacity(items.reduce(256) { $0 + $1.count + 1 })
        body += Array(
            "{\"kind\":\"\(target.resource.listKind)\",\"apiVersion\":\"\(target.groupVersion)\",\"metadata\":".utf8)
        JSONValue.object(metadata).serialize(into: &body)
        body += Array(",\"items\":[".utf8)
        for (index, item) in items.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += item
        }
        body += Array("]}".utf8)
        return HTTPResponse(status: 200, headers: [("Content-Type", Responses.jsonType)], body: body)
    }

    private func render(
        _ objects: [JSONValue], single: Bool, request: HTTPRequest, target: RequestTarget, query: QueryParameters,
        listMetadata: JSONObject
    ) async -> HTTPResponse {
        switch Responses.representation(accept: request.header("accept"), query: query) {
        case .table(let includeObject) where !single:
            let bytes = await Responses.tableBytes(
                objects, resource: target.resource, listMetadata: listMetadata, includeObject: includeObject,
                now: now())
            return HTTPResponse(status: 200, headers: [("Content-Type", Responses.tableType)], body: bytes)
        case .table(let includeObject):
            var metadata = listMetadata
            if single, let version = objects.first?[path: "metadata", "resourceVersion"] {
                metadata["resourceVersion"] = version
            }
            let table = Responses.table(
                objects, resource: target.resource, listMetadata: metadata, includeObject: includeObject, now: now())
            return Responses.json(table, contentType: Responses.tableType)
        case .object:
            if single, let object = objects.first { return Responses.json(object) }
            let list: JSONValue = [
                "kind": .string(target.resource.listKind), "apiVersion": .string(target.groupVersion.description),
                "metadata": .object(listMetadata), "items": .array(objects),
            ]
            return Responses.json(list)
        }
    }

    /// `DELETE` on a collection: every object the selectors pick, one by one, then the list of what was deleted.
    private func deleteCollection(_ request: HTTPRequest, target: RequestTarget, query: QueryParameters)
        async throws(KubeError) -> HTTPResponse
    {
        let options = try Self.listOptions(query, resource: target.resource)
        let deleteOptions = try Bodies.deleteOptions(request, query: query)
        let result = try await registry.list(target, options: options)
        var deleted: [JSONValue] = []
        for object in result.items {
            guard let name = object[path: "metadata", "name"]?.stringValue else { continue }
            do {
                _ = try await registry.delete(target, name: name, options: deleteOptions)
                deleted.append(object)
            } catch let error where error.code == 404 {
                continue
            }
        }
        let list: JSONValue = [
            "kind": .string(target.resource.listKind), "apiVersion": .string(target.groupVersion.description),
            "metadata": ["resourceVersion": .string(String(result.revision))], "items": .array(deleted),
        ]
        return Responses.json(list)
    }
}

extension HTTPResponse {
    /// The request's warnings as `Warning` headers.
    func adding(_ warnings: WarningSink) -> HTTPResponse {
        var response = self
        response.headers += warnings.headers
        return response
    }
}

/// The `autoscaling/v1 Scale` view of a scalable object (`/scale`).
enum Scale {
    static func view(of object: JSONValue, resource: ResourceType) -> JSONValue {
        var metadata = JSONObject()
        for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let value = object[path: "metadata", field] { metadata[field] = value }
        }
        var status: JSONObject = ["replicas": object[path: "status", "replicas"] ?? 0]
        if let labels = object[path: "spec", "selector", "matchLabels"]?.objectValue, !labels.isEmpty {
            status["selector"] = .string(
                labels.map { "\($0.key)=\($0.value.stringValue ?? "")" }.sorted().joined(separator: ","))
        }
        return [
            "kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": .object(metadata),
            "spec": ["replicas": object[path: "spec", "replicas"] ?? 0], "status": .object(status),
        ]
    }

    static func apply(_ scale: JSONValue, to object: JSONValue, resource: ResourceType) throws(KubeError) -> JSONValue {
        guard let replicas = scale[path: "spec", "replicas"]?.intValue, replicas >= 0 else {
            throw .badRequest("Scale.spec.replicas must be a non-negative integer")
        }
        var result = object
        result[path: "spec", "replicas"] = .int(replicas)
        if let pinned = scale[path: "metadata", "resourceVersion"] {
            result[path: "metadata", "resourceVersion"] = pinned
        }
        return result
    }
}
