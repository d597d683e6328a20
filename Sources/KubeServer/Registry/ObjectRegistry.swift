import Foundation
import KubeAPI

/// The generic registry: kube-apiserver's REST semantics for every kind, written once (as its
/// `registry/generic/registry/store.go`), over `ObjectStorage`. Objects are JSON values in the version the client
/// asked for; the store holds the stable form (`StoredForm`).
struct ObjectRegistry: Sendable {
    let storage: any ObjectStorage
    let now: @Sendable () -> Date
    /// Where Services' ClusterIPs and NodePorts come from (`ServiceAllocator`).
    var serviceNetwork = ServiceNetwork.standard

    var services: ServiceAllocator { ServiceAllocator(storage: storage, network: serviceNetwork, now: now) }

    /// Attempts at a read-modify-write before giving up on a key others keep changing.
    static let updateAttempts = 16
    static let generatedNameAttempts = 8

    // MARK: Reads

    func get(_ target: RequestTarget, name: String) async throws(KubeError) -> JSONValue {
        let resource = target.resource
        guard
            let stored = try await call({ () async throws(StorageFailure) in
                try await storage.get(resource.key(namespace: target.namespace, name: name))
            })
        else {
            throw .notFound(resource.plural, group: resource.group, name: name)
        }
        return try StoredForm.decode(stored, as: target.groupVersion, resource: resource)
    }

    struct ListOptions {
        var limit = 0
        var continueToken: String?
        var resourceVersion: String?
        var resourceVersionMatch: String?
        var labelSelector: LabelSelector?
        var fieldSelector: FieldSelector?
    }

    struct ListResult {
        var items: [JSONValue]
        var revision: Int64
        var continueToken: String?
        var remainingItemCount: Int64?
    }

    /// A list, paged with `limit` and `continue` as kube-apiserver pages (the token names the key to start from
    /// and the revision the first page was read at, so every page is read at one revision).
    func list(_ target: RequestTarget, options: ListOptions) async throws(KubeError) -> ListResult {
        let resource = target.resource
        let prefix = resource.keyPrefix(namespace: target.namespace)
        let (revision, startKey) = try Self.start(of: options, prefix: prefix)
        let filtering = options.labelSelector != nil || options.fieldSelector != nil
        var items: [JSONValue] = []
        var readRevision = revision
        var nextKey = startKey
        var more = false
        var remaining: Int64?
        // With a selector, keep reading pages until `limit` objects matched (kube-apiserver does the same).
        while true {
            let pageSize = options.limit > 0 ? max(options.limit - items.count, filtering ? 100 : 0) : 0
            let result = try await readPage(
                prefix: prefix, startKey: nextKey, limit: pageSize, revision: readRevision,
                continuing: options.continueToken?.isEmpty == false)
            // etcd answers with its current revision; a read at a past one stays at that one.
            if readRevision == 0 { readRevision = result.revision }
            var lastKey: String?
            let version = target.groupVersion
            let decoded: [JSONValue]
            do {
                decoded = try await ParallelMap.map(result.objects) { stored in
                    try StoredForm.decode(stored, as: version, resource: resource)
                }
            } catch let error as KubeError {
                throw error
            } catch {
                throw .internalError("\(error)")
            }
            for (stored, object) in zip(result.objects, decoded) {
                lastKey = stored.key
                if filtering, !matches(object, resource: resource, options: options) { continue }
                items.append(object)
                if options.limit > 0, items.count == options.limit { break }
            }
            let stoppedEarly = lastKey != result.objects.last?.key
            more = result.more || stoppedEarly
            if !more || (options.limit > 0 && items.count >= options.limit) || lastKey == nil {
                if more, let lastKey { nextKey = lastKey + "\u{0}" } else { nextKey = nil }
                if more, !filtering { remaining = result.count - Int64(result.objects.count) }
                break
            }
            nextKey = lastKey.map { $0 + "\u{0}" }
        }
        let token =
            more ? nextKey.map { ContinueToken.encode(revision: readRevision, startKey: $0, prefix: prefix) } : nil
        return ListResult(items: items, revision: readRevision, continueToken: token, remainingItemCount: remaining)
    }

    /// A list without selectors in the stable version, as the bytes of each object (`StoredForm.spliced`: no
    /// parsing), paged like `list`.
    func listEncoded(_ target: RequestTarget, options: ListOptions) async throws(KubeError)
        -> (items: [[UInt8]], result: ListResult)
    {
        let resource = target.resource
        let prefix = resource.keyPrefix(namespace: target.namespace)
        let (revision, startKey) = try Self.start(of: options, prefix: prefix)
        let page = try await readPage(
            prefix: prefix, startKey: startKey, limit: options.limit, revision: revision,
            continuing: options.continueToken?.isEmpty == false)
        var items: [[UInt8]] = []
        items.reserveCapacity(page.objects.count)
        for stored in page.objects {
            if let bytes = StoredForm.spliced(stored, resource: resource) {
                items.append(bytes)
            } else {
                items.append(try StoredForm.decode(stored, as: target.groupVersion, resource: resource).serialized())
            }
        }
        // etcd answers with its current revision; a read at a past one stays at that one.
        let readRevision = revision != 0 ? revision : page.revision
        var result = ListResult(items: [], revision: readRevision)
        if page.more, let last = page.objects.last {
            result.continueToken = ContinueToken.encode(
                revision: readRevision, startKey: last.key + "\u{0}", prefix: prefix)
            result.remainingItemCount = page.count - Int64(page.objects.count)
        }
        return (items, result)
    }

    /// Where a list starts: the continue token's key and revision, or a `resourceVersion` with
    /// `resourceVersionMatch=Exact` (a past revision); otherwise the latest (revision 0) from the prefix's start.
    private static func start(of options: ListOptions, prefix: String) throws(KubeError)
        -> (revision: Int64, startKey: String?)
    {
        if let token = options.continueToken, !token.isEmpty {
            let decoded = try ContinueToken.decode(token, prefix: prefix)
            return (decoded.revision, decoded.startKey)
        }
        if let version = options.resourceVersion, !version.isEmpty, version != "0" {
            guard let requested = Int64(version), requested > 0 else {
                throw .badRequest("invalid resource version: \(version)")
            }
            if options.resourceVersionMatch == "Exact" { return (requested, nil) }
        }
        return (0, nil)
    }

    /// One range read of a list; a continue token whose revision was compacted gets kube-apiserver's 410.
    private func readPage(prefix: String, startKey: String?, limit: Int, revision: Int64, continuing: Bool)
        async throws(KubeError) -> StoredList
    {
        do {
            return try await storage.list(prefix: prefix, startKey: startKey, limit: limit, revision: revision)
        } catch .compacted where continuing {
            throw .expired(Self.continueTooOld)
        } catch {
            throw Self.kubeError(error)
        }
    }

    static let continueTooOld =
        "The provided continue parameter is too old to display a consistent list result. You can start a new list "
        + "without the continue parameter, or use the continue token in this response to retrieve the remainder of "
        + "the results. Continuing with the provided token results in an inconsistent list - objects that were "
        + "created, modified, or deleted between the time the first chunk was returned and now may show up in the list."

    func matches(_ object: JSONValue, resource: ResourceType, options: ListOptions) -> Bool {
        if let selector = options.labelSelector {
            let labels = (object[path: "metadata", "labels"]?.objectValue ?? JSONObject()).reduce(
                into: [String: String]()
            ) {
                $0[$1.key] = $1.value.stringValue ?? ""
            }
            if !selector.matches(labels) { return false }
        }
        if let selector = options.fieldSelector {
            if !selector.matches(Strategy.selectableFields(of: object, resource: resource)) { return false }
        }
        return true
    }

    // MARK: Writes

    struct WriteOptions {
        var dryRun = false
    }

    /// Create: the server's metadata (uid, creation time, generation, a generated name), the kind's preparation and
    /// defaults, validation, then a create-if-absent in the store.
    func create(_ target: RequestTarget, object input: JSONValue, options: WriteOptions) async throws(KubeError)
        -> JSONValue
    {
        let resource = target.resource
        var object = input
        try ObjectChecks.checkType(object, target: target)
        try ObjectChecks.checkNamespace(&object, target: target)
        VersionViews.store(&object, from: target.groupVersion, resource: resource)
        if let version = object[path: "metadata", "resourceVersion"]?.stringValue, !version.isEmpty {
            throw .badRequest("resourceVersion should not be set on objects to be created")
        }
        var generatedFrom: String?
        if (object[path: "metadata", "name"]?.stringValue ?? "").isEmpty,
            let prefix = object[path: "metadata", "generateName"]?.stringValue, !prefix.isEmpty
        {
            object[path: "metadata", "name"] = .string(NameGenerator.generateName(base: prefix))
            generatedFrom = prefix
        }
        object[path: "metadata", "uid"] = .string(UUID().uuidString.lowercased())
        object[path: "metadata", "creationTimestamp"] = .string(APITime.format(now()))
        object[path: "metadata", "deletionTimestamp"] = nil
        object[path: "metadata", "deletionGracePeriodSeconds"] = nil
        Strategy.prepareForCreate(&object, resource: resource, now: APITime.format(now()))
        let isService = ServiceAllocator.applies(to: resource)
        if isService { try ServiceFields.prepareForCreate(&object) }
        try ObjectChecks.validate(object, resource: resource, old: nil)
        var name = object[path: "metadata", "name"]?.stringValue ?? ""
        // A Service's addresses and node ports are taken before it is written (released if it is not).
        var claims = ServiceAllocator.Claims()
        if isService { claims = try await services.allocate(&object, old: nil, dryRun: options.dryRun) }
        // (Brought to the stable form right after the checks of the body, above.)
        if options.dryRun {
            VersionViews.present(&object, as: target.groupVersion, resource: resource)
            return object
        }
        var revision: Int64 = 0
        do throws(KubeError) {
            // A generated name that is taken gets another (kube-apiserver's RetryGenerateName: 8 tries in all).
            for attempt in 1...Self.generatedNameAttempts {
                do throws(StorageFailure) {
                    revision = try await storage.create(
                        resource.key(namespace: target.namespace, name: name), value: StoredForm.encode(object))
                    break
                } catch .alreadyExists {
                    guard let prefix = generatedFrom, attempt < Self.generatedNameAttempts else {
                        throw .alreadyExists(resource.plural, group: resource.group, name: name)
                    }
                    name = NameGenerator.generateName(base: prefix)
                    object[path: "metadata", "name"] = .string(name)
                    if !claims.keys.isEmpty { await services.rename(&claims, to: object) }
                } catch {
                    throw Self.kubeError(error)
                }
            }
        } catch {
            await services.undo(claims)
            throw error
        }
        object[path: "metadata", "resourceVersion"] = .string(String(revision))
        VersionViews.present(&object, as: target.groupVersion, resource: resource)
        return object
    }

    /// How an update builds the new object from what is stored (nil: the object does not exist).
    typealias Transform = @Sendable (_ current: JSONValue?) throws(KubeError) -> JSONValue

    /// A read-modify-write (kube-apiserver's `GuaranteedUpdate`): read, transform, compare-and-swap on the mod
    /// revision; when another writer got in between, start over from what it wrote, unless the client pinned a
    /// `resourceVersion` (then 409 Conflict). Returns the stored object and whether it was created.
    func update(
        _ target: RequestTarget, name: String, subresource: String?, options: WriteOptions,
        allowCreate: Bool = false, transform: Transform
    ) async throws(KubeError) -> (object: JSONValue, created: Bool) {
        let resource = target.resource
        let key = resource.key(namespace: target.namespace, name: name)
        var stored = try await call({ () async throws(StorageFailure) in try await storage.get(key) })
        for _ in 0..<Self.updateAttempts {
            guard let current = stored else {
                guard allowCreate else { throw .notFound(resource.plural, group: resource.group, name: name) }
                let object = try transform(nil)
                do throws(KubeError) {
                    return (try await create(target, object: object, options: options), true)
                } catch let error where error.reason == "AlreadyExists" {
                    stored = try await call({ () async throws(StorageFailure) in try await storage.get(key) })
                    continue
                }
            }
            let old = try StoredForm.decode(current, as: target.groupVersion, resource: resource)
            var object = try transform(old)
            try ObjectChecks.checkType(object, target: target)
            try ObjectChecks.checkNamespace(&object, target: target)
            VersionViews.store(&object, from: target.groupVersion, resource: resource)
            if let pinned = object[path: "metadata", "resourceVersion"]?.stringValue, !pinned.isEmpty,
                pinned != String(current.modRevision)
            {
                throw .conflict(
                    resource.plural, group: resource.group, name: name, detail: KubeError.optimisticLockMessage)
            }
            if object[path: "metadata", "name"]?.stringValue != name {
                throw .badRequest(
                    "the name of the object (\(object[path: "metadata", "name"]?.stringValue ?? "")) does not match the name on the URL (\(name))"
                )
            }
            // The stored object in the stable form too, to compare with.
            var stableOld = old
            VersionViews.store(&stableOld, from: target.groupVersion, resource: resource)
            try prepareUpdate(&object, old: stableOld, resource: resource, subresource: subresource)
            let isService = ServiceAllocator.applies(to: resource) && subresource == nil
            if isService { try ServiceFields.prepareForUpdate(&object, old: stableOld) }
            try ObjectChecks.validate(object, resource: resource, old: stableOld)
            // Nothing changed: answer with what is stored, as kube-apiserver skips no-op writes.
            var comparable = object
            comparable[path: "metadata", "resourceVersion"] = old[path: "metadata", "resourceVersion"]
            if comparable == stableOld { return (old, false) }
            // A Service's new addresses and node ports are taken before it is written (released if it is not).
            var claims = ServiceAllocator.Claims()
            if isService { claims = try await services.allocate(&object, old: stableOld, dryRun: options.dryRun) }
            if options.dryRun {
                VersionViews.present(&object, as: target.groupVersion, resource: resource)
                return (object, false)
            }
            // The last finalizer removed from an object being deleted: it goes now.
            let finalizers = Self.allFinalizers(of: object, resource: resource)
            let deleting = object[path: "metadata", "deletionTimestamp"] != nil
            do throws(StorageFailure) {
                // (In the stable form since the transform, above.)
                if deleting, finalizers.isEmpty {
                    let revision = try await storage.delete(key, expectedModRevision: current.modRevision)
                    object[path: "metadata", "resourceVersion"] = .string(String(revision))
                    if ServiceAllocator.applies(to: resource) {
                        await services.releaseAll(of: stableOld)
                        await services.releaseAll(of: object)
                    }
                } else {
                    let revision = try await storage.update(
                        key, value: StoredForm.encode(object), expectedModRevision: current.modRevision)
                    object[path: "metadata", "resourceVersion"] = .string(String(revision))
                    if isService { await services.releaseDropped(old: stableOld, new: object) }
                }
                VersionViews.present(&object, as: target.groupVersion, resource: resource)
                return (object, false)
            } catch .conflict(let latest) {
                await services.undo(claims)
                stored = latest
            } catch .notFound {
                await services.undo(claims)
                stored = nil
            } catch {
                await services.undo(claims)
                throw Self.kubeError(error)
            }
        }
        throw .conflict(resource.plural, group: resource.group, name: name, detail: KubeError.optimisticLockMessage)
    }

    /// What an update may not change: identity, creation time, deletion once begun; the generation moves when the
    /// spec does; the kind's own rules (status kept, or only status taken for `/status`).
    private func prepareUpdate(_ object: inout JSONValue, old: JSONValue, resource: ResourceType, subresource: String?)
        throws(KubeError)
    {
        if subresource == "status" {
            Strategy.prepareForStatusUpdate(&object, old: old)
        } else if subresource == "finalize" {
            // `namespaces/{name}/finalize`: only the namespace's own finalizers change (the namespace controller
            // removes `kubernetes` once the namespace is empty).
            var result = old
            result[path: "spec", "finalizers"] = object[path: "spec", "finalizers"]
            result[path: "metadata", "resourceVersion"] = object[path: "metadata", "resourceVersion"]
            object = result
        } else if subresource == "binding" {
            // A binding writes spec.nodeName and the PodScheduled condition together; it built the whole object.
        } else {
            Strategy.prepareForUpdate(&object, old: old, resource: resource, now: APITime.format(now()))
        }
        for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
            object[path: "metadata", field] = old[path: "metadata", field]
        }
        if old[path: "metadata", "deletionTimestamp"] != nil {
            let oldFinalizers = Set((old[path: "metadata", "finalizers"]?.arrayValue ?? []).compactMap(\.stringValue))
            let newFinalizers = (object[path: "metadata", "finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
            if newFinalizers.contains(where: { !oldFinalizers.contains($0) }) {
                let name = old[path: "metadata", "name"]?.stringValue ?? ""
                throw .invalid(
                    kind: resource.kind, group: resource.group, name: name,
                    causes: [
                        (
                            "metadata.finalizers", "FieldValueForbidden",
                            "Forbidden: no new finalizers can be added if the object is being deleted"
                        )
                    ],
                    summary:
                        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers \(newFinalizers.filter { !oldFinalizers.contains($0) })"
                )
            }
        }
        if resource.tracksGeneration, subresource != "status", Strategy.specChanged(object, old) {
            object[path: "metadata", "generation"] = .int((old[path: "metadata", "generation"]?.intValue ?? 0) + 1)
        }
    }

    // MARK: Deletion

    struct DeleteOptions {
        var propagationPolicy: String?
        var gracePeriodSeconds: Int64?
        var preconditionUID: String?
        var preconditionResourceVersion: String?
        var dryRun = false
    }

    /// Delete: with finalizers (or a policy that adds one, or a pod that must stop first) the object only gets
    /// its `deletionTimestamp` and stays; otherwise it goes. Answers the object while it lingers, else a Success
    /// status naming it.
    func delete(_ target: RequestTarget, name: String, options: DeleteOptions) async throws(KubeError) -> JSONValue {
        let resource = target.resource
        let key = resource.key(namespace: target.namespace, name: name)
        for _ in 0..<Self.updateAttempts {
            guard let current = try await call({ () async throws(StorageFailure) in try await storage.get(key) }) else {
                throw .notFound(resource.plural, group: resource.group, name: name)
            }
            var object = try StoredForm.decode(current, as: resource.groupVersion, resource: resource)
            let uid = object[path: "metadata", "uid"]?.stringValue ?? ""
            if let expected = options.preconditionUID, expected != uid {
                throw .conflict(
                    resource.plural, group: resource.group, name: name,
                    detail: "Precondition failed: UID in precondition: \(expected), UID in object meta: \(uid)")
            }
            if let expected = options.preconditionResourceVersion, expected != String(current.modRevision) {
                throw .conflict(
                    resource.plural, group: resource.group, name: name,
                    detail:
                        "Precondition failed: ResourceVersion in precondition: \(expected), ResourceVersion in object meta: \(current.modRevision)"
                )
            }
            var finalizers = (object[path: "metadata", "finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
            switch options.propagationPolicy {
            case "Orphan"?: if !finalizers.contains("orphan") { finalizers.append("orphan") }
            case "Foreground"?:
                if !finalizers.contains("foregroundDeletion") { finalizers.append("foregroundDeletion") }
            default: break
            }
            let graceful = Self.isGraceful(object, resource: resource, options: options)
            // A namespace lingers until its own finalizers (`spec.finalizers`) are gone too.
            let lingers =
                !finalizers.isEmpty || graceful != nil || !Self.allFinalizers(of: object, resource: resource).isEmpty
            do throws(StorageFailure) {
                if lingers {
                    if object[path: "metadata", "deletionTimestamp"] == nil {
                        object[path: "metadata", "deletionTimestamp"] = .string(
                            APITime.format(now().addingTimeInterval(Double(graceful ?? 0))))
                        object[path: "metadata", "deletionGracePeriodSeconds"] = .int(graceful ?? 0)
                    }
                    object[path: "metadata", "finalizers"] =
                        finalizers.isEmpty ? nil : .array(finalizers.map { .string($0) })
                    if resource.group.isEmpty, resource.kind == "Namespace" {
                        object[path: "status", "phase"] = "Terminating"
                    }
                    if options.dryRun { return present(object, target) }
                    let revision = try await storage.update(
                        key, value: StoredForm.encode(object), expectedModRevision: current.modRevision)
                    object[path: "metadata", "resourceVersion"] = .string(String(revision))
                    return present(object, target)
                }
                if !options.dryRun {
                    _ = try await storage.delete(key, expectedModRevision: current.modRevision)
                    // After the Service is gone, never before: its addresses are free again.
                    if ServiceAllocator.applies(to: resource) { await services.releaseAll(of: object) }
                }
                return Self.success(name: name, resource: resource, uid: uid)
            } catch .conflict {
                continue
            } catch .notFound {
                throw .notFound(resource.plural, group: resource.group, name: name)
            } catch {
                throw Self.kubeError(error)
            }
        }
        throw .conflict(resource.plural, group: resource.group, name: name, detail: KubeError.optimisticLockMessage)
    }

    /// Every finalizer that keeps `object` while it is deleted: `metadata.finalizers`, and for a namespace also
    /// `spec.finalizers` (`kubernetes`, removed by the namespace controller through `/finalize`).
    static func allFinalizers(of object: JSONValue, resource: ResourceType) -> [JSONValue] {
        var finalizers = object[path: "metadata", "finalizers"]?.arrayValue ?? []
        if resource.group.isEmpty, resource.kind == "Namespace" {
            finalizers += object[path: "spec", "finalizers"]?.arrayValue ?? []
        }
        return finalizers
    }

    /// A pod bound to a node and still running stops gracefully (its node agent deletes it once its processes are
    /// gone); an unbound or finished pod, or a grace period of 0, goes at once (`CheckGracefulDelete`).
    static func isGraceful(_ object: JSONValue, resource: ResourceType, options: DeleteOptions) -> Int64? {
        guard resource.group.isEmpty, resource.kind == "Pod" else { return nil }
        if let grace = options.gracePeriodSeconds, grace == 0 { return nil }
        guard let node = object[path: "spec", "nodeName"]?.stringValue, !node.isEmpty else { return nil }
        let phase = object[path: "status", "phase"]?.stringValue
        if phase == "Succeeded" || phase == "Failed" { return nil }
        return options.gracePeriodSeconds ?? object[path: "spec", "terminationGracePeriodSeconds"]?.intValue ?? 30
    }

    static func success(name: String, resource: ResourceType, uid: String) -> JSONValue {
        var details: JSONObject = ["name": .string(name)]
        if !resource.group.isEmpty { details["group"] = .string(resource.group) }
        details["kind"] = .string(resource.plural)
        details["uid"] = .string(uid)
        return [
            "kind": "Status", "apiVersion": "v1", "metadata": .object(JSONObject()), "status": "Success",
            "details": .object(details),
        ]
    }

    private func present(_ object: JSONValue, _ target: RequestTarget) -> JSONValue {
        var object = object
        VersionViews.present(&object, as: target.groupVersion, resource: target.resource)
        return object
    }

    // MARK: Errors

    func call<Value>(_ body: () async throws(StorageFailure) -> Value) async throws(KubeError) -> Value {
        do {
            return try await body()
        } catch {
            throw Self.kubeError(error)
        }
    }

    static func kubeError(_ failure: StorageFailure) -> KubeError {
        switch failure {
        case .compacted:
            return .expired("The resourceVersion for the provided list is too old.")
        case .futureRevision:
            return KubeError(code: 504, reason: "Timeout", message: "Too large resource version")
        case .tooManyRequests:
            return .tooManyRequests(retryAfterSeconds: 1)
        case .alreadyExists, .notFound, .conflict:
            return .internalError("unexpected storage answer \(failure)")
        case .unavailable(let detail):
            return .internalError(detail)
        }
    }
}
