/// Server-side apply and the field ownership every write records, as kube-apiserver does them: structured-merge-diff
/// `merge/update.go` (`Updater.Apply`, `Updater.Update`) under apimachinery's field manager chain
/// (`pkg/util/managedfields/internal`), outermost first:
/// - last-applied (`lastappliedmanager.go`, `lastappliedupdater.go`): for the manager `kubectl`, conflicts on
///   fields whose live value still matches the `kubectl.kubernetes.io/last-applied-configuration` annotation are
///   forced (moving from client-side to server-side apply), and an existing annotation is rewritten;
/// - before-first-apply (`skipnonapplied.go`): an object without managed fields gets them, as if the manager
///   `before-first-apply` had written all it holds, before the first apply; an ordinary update of such an
///   existing object records nothing;
/// - at most 10 `Update` managers (`capmanagers.go`); identities (`buildmanagerinfo.go`); an update's fields are
///   merged into its manager's entry and stamped with the time (`managedfieldsupdater.go`); the server-owned
///   fields are never owned (`stripmeta.go`);
/// - reset fields (the strategy's `GetResetFields`, e.g. `status` for a main resource, `spec` for `/status`) are
///   neither owned nor a cause of conflicts.
/// One schema serves every apiVersion: entries of other versions are treated as if written in this one.
public enum ServerSideApply {
    public static let lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
    /// apimachinery's `TotalAnnotationSizeLimitB`: a rewritten last-applied annotation that would pass it is dropped.
    static let annotationsBytesMaximum = 256 * 1024

    /// Applies `applied` (the manager's whole intent) to `live` (nil: the object is being created): merges it as
    /// SMD does (associative lists by key), refuses changes to fields other managers own unless `force` (they then
    /// lose them), removes what this manager applied before and no longer applies unless another manager owns it,
    /// and records the manager's `Apply` entry. `apiVersion` is the group/version applied (`apps/v1`); `now` an
    /// RFC 3339 time; `schema` the kind's schema (nil: untyped, objects granular and lists atomic).
    public static func apply(
        _ applied: JSONValue, to live: JSONValue?, manager: String, apiVersion: String, subresource: String? = nil,
        force: Bool, schema: KubeSchemaNode?, resetFields: FieldSet = FieldSet(), now: String
    ) throws(ApplyError) -> ApplyResult {
        guard case .object = applied else {
            throw ApplyError(code: .badRequest, message: "error decoding patch: not a JSON object", causes: [])
        }
        if let managedFields = applied[path: "metadata", "managedFields"], managedFields != .null {
            throw ApplyError(code: .badRequest, message: "metadata.managedFields must be nil", causes: [])
        }
        let type = ApplyType(schema)
        var problems: [ApplyValueError] = []
        ApplyWalks.validate(applied, type: type, path: "", errors: &problems)
        if !problems.isEmpty {
            let detail =
                problems.count == 1
                ? problems[0].text : (["errors:"] + problems.map { "  " + $0.text }).joined(separator: "\n")
            throw ApplyError(
                code: .invalidObject,
                message: "failed to create typed patch object (\(objectDescription(applied))): \(detail)", causes: [])
        }
        let writer = Writer(
            type: type, apiVersion: apiVersion, subresource: subresource ?? "", resetFields: resetFields, now: now)
        let liveObject = live.map(withoutManagedFields) ?? .object(JSONObject())
        // Entries that do not decode count as none (upstream refuses the apply; Kelson only stores ones it wrote).
        let managed =
            (try? ManagedFieldsState(decoding: live?[path: "metadata", "managedFields"]?.arrayValue ?? []))
            ?? ManagedFieldsState()
        let identity = ManagerIdentity(
            manager: manager.isEmpty ? "unknown" : manager, operation: "Apply", apiVersion: "",
            subresource: subresource ?? "")

        var outcome: Writer.ApplyOutcome
        do {
            outcome = try writer.apply(
                applied, to: liveObject, isNew: live == nil, identity: identity, managed: managed, force: force)
        } catch let conflicts {
            guard manager == "kubectl", let allowed = writer.allowedConflictsFromLastApplied(live) else {
                throw ApplyError.conflicts(conflicts.list)
            }
            let remaining = conflicts.list.filter { !allowed.contains($0.path) }
            guard remaining.isEmpty else { throw ApplyError.conflicts(remaining) }
            do {
                outcome = try writer.apply(
                    applied, to: liveObject, isNew: live == nil, identity: identity,
                    managed: managed, force: true)
            } catch {
                throw ApplyError.conflicts(error.list)
            }
        }
        if manager == "kubectl" {
            outcome.object = rewritingLastApplied(outcome.object, applied: applied)
        }
        let entries = outcome.managed.encoded()
        return ApplyResult(
            object: settingManagedFields(entries, in: outcome.object), managedFields: entries,
            objectChanged: outcome.objectChanged)
    }

    /// Records an ordinary write (create, update, a patch other than apply; `old` nil for a create) by `manager`:
    /// the fields whose values it changed become its own (taken from other managers), in an `Update` entry for
    /// `apiVersion` (and `subresource`, e.g. `status`). Returns the object's new `metadata.managedFields`; empty
    /// means the object has none. Entries sent in `new` are honoured as upstream honours them (`[]` clears).
    public static func update(
        old: JSONValue?, new: JSONValue, manager: String, apiVersion: String, subresource: String? = nil,
        schema: KubeSchemaNode?, resetFields: FieldSet = FieldSet(), now: String
    ) -> [JSONValue] {
        let subresource = subresource ?? ""
        let liveEntries = old?[path: "metadata", "managedFields"]?.arrayValue ?? []
        var managed = (try? ManagedFieldsState(decoding: liveEntries)) ?? ManagedFieldsState()
        if subresource.isEmpty, let sent = new[path: "metadata", "managedFields"]?.arrayValue {
            // `decodeLiveOrNew`: `[]` or `[{}]` resets; other entries replace the live ones if they decode.
            if sent.isEmpty || (sent.count == 1 && sent[0] == .object(JSONObject())) {
                managed = ManagedFieldsState()
            } else if let decoded = try? ManagedFieldsState(decoding: sent), !decoded.isEmpty {
                managed = decoded
            }
        }
        // `skipNonApplied`: an existing object nobody tracked stays untracked until an apply.
        if managed.isEmpty, let old, old[path: "metadata", "uid"]?.stringValue?.isEmpty == false { return [] }
        let writer = Writer(
            type: ApplyType(schema), apiVersion: apiVersion, subresource: subresource, resetFields: resetFields,
            now: now)
        let identity = ManagerIdentity(
            manager: manager.isEmpty ? "unknown" : manager, operation: "Update", apiVersion: apiVersion,
            subresource: subresource)
        let oldObject = old.map(withoutManagedFields) ?? writer.emptyObject
        writer.recordUpdate(from: oldObject, to: withoutManagedFields(new), identity: identity, managed: &managed)
        return managed.encoded()
    }

    /// `namespace/name; apps/v1, Kind=Deployment`, as upstream names an object in errors.
    static func objectDescription(_ object: JSONValue) -> String {
        let namespace = object[path: "metadata", "namespace"]?.stringValue ?? ""
        let name = object[path: "metadata", "name"]?.stringValue ?? ""
        let apiVersion = object["apiVersion"]?.stringValue ?? ""
        let kind = object["kind"]?.stringValue ?? ""
        let parts = apiVersion.split(separator: "/", maxSplits: 1).map(String.init)
        let groupVersionKind = KubeGroupVersionKind(
            group: parts.count == 2 ? parts[0] : "", version: parts.last ?? "", kind: kind)
        return "\(namespace)/\(name); \(groupVersionKind)"
    }

    static func withoutManagedFields(_ object: JSONValue) -> JSONValue {
        guard object[path: "metadata", "managedFields"] != nil else { return object }
        var result = object
        result[path: "metadata", "managedFields"] = nil
        return result
    }

    /// `object` with `metadata.managedFields` set to `entries`, or without it when there are none.
    public static func settingManagedFields(_ entries: [JSONValue], in object: JSONValue) -> JSONValue {
        var result = object
        if entries.isEmpty {
            if result[path: "metadata", "managedFields"] != nil { result[path: "metadata", "managedFields"] = nil }
        } else {
            result[path: "metadata", "managedFields"] = .array(entries)
        }
        return result
    }

    /// `lastAppliedUpdater`: where the result still has a last-applied annotation, it now holds the applied
    /// object (without that annotation) as Go's JSON encoder writes it, keys sorted and a newline at the end.
    static func rewritingLastApplied(_ object: JSONValue, applied: JSONValue) -> JSONValue {
        guard case .object(var annotations) = object[path: "metadata", "annotations"] ?? .null,
            annotations[lastAppliedAnnotation]?.stringValue?.isEmpty == false
        else { return object }
        var configuration = applied
        if case .object(var appliedAnnotations) = configuration[path: "metadata", "annotations"] ?? .null {
            appliedAnnotations[lastAppliedAnnotation] = nil
            configuration[path: "metadata", "annotations"] = .object(appliedAnnotations)
        }
        var text = SortedJSON.sortingKeys(configuration).serialized()
        text.append(UInt8(ascii: "\n"))
        annotations[lastAppliedAnnotation] = .string(String(decoding: text, as: UTF8.self))
        let total = annotations.reduce(0) { $0 + $1.key.utf8.count + ($1.value.stringValue?.utf8.count ?? 0) }
        if total > annotationsBytesMaximum { annotations[lastAppliedAnnotation] = nil }
        var result = object
        result[path: "metadata", "annotations"] = .object(annotations)
        return result
    }
}

/// The outcome of an apply: the merged object (its `metadata.managedFields` set, or removed when empty), the
/// entries on their own, and whether anything but the entries changed.
public struct ApplyResult: Sendable {
    public var object: JSONValue
    public var managedFields: [JSONValue]
    public var objectChanged: Bool
}

/// Conflicts found by one attempt: each manager's fields that would change.
struct ManagerConflicts: Error {
    var byManager: [ManagerIdentity: FieldSet]

    /// Sorted by manager identifier, then in each set's order.
    var list: [(manager: ManagerIdentity, path: ManagedFieldPath)] {
        byManager.sorted { FieldPathText.compareBytes($0.key.key, $1.key.key) < 0 }.flatMap { manager, fields in
            fields.paths.map { (manager: manager, path: $0) }
        }
    }
}
