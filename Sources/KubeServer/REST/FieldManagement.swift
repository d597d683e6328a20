import Foundation
import GRPCWire
import KubeAPI

/// `metadata.managedFields` as kube-apiserver keeps them: every write records which manager (`?fieldManager=`, else
/// the client's user agent) set which fields, and server-side apply (`application/apply-patch+yaml`) merges by
/// field ownership, refuses to take fields another manager owns unless `force=true` (409 with
/// `FieldManagerConflict` causes), and removes fields its manager stopped applying.
struct FieldManagement: Sendable {
    let manager: String
    let apiVersion: String
    let subresource: String?
    let resource: ResourceType
    let now: String

    init(request: HTTPRequest, query: QueryParameters, target: RequestTarget, now: String) {
        // kube-apiserver's default manager: the user agent up to its first "/" (`kubectl`, `OpenAPI-Generator`).
        let agent = request.header("user-agent").flatMap { $0.split(separator: "/").first.map(String.init) }
        manager = query["fieldManager"] ?? agent ?? "unknown"
        apiVersion = target.groupVersion.description
        subresource = target.subresource
        resource = target.resource
        self.now = now
    }

    var schema: KubeSchemaNode? { resource.schemaName.flatMap { KubeSchemaCatalogue.shared.definition(named: $0) } }

    /// What a write through this endpoint may not own: the status on the main resource, the rest on `/status`.
    var resetFields: FieldSet {
        guard resource.hasStatus else { return FieldSet() }
        return subresource == "status" ? FieldSet(fieldNames: [["spec"]]) : FieldSet(fieldNames: [["status"]])
    }

    /// An ordinary write (create, update, patch): the fields it changed become the manager's.
    func updated(old: JSONValue?, new: JSONValue) -> JSONValue {
        let entries = ServerSideApply.update(
            old: old, new: new, manager: manager, apiVersion: apiVersion, subresource: subresource, schema: schema,
            resetFields: resetFields, now: now)
        return ServerSideApply.settingManagedFields(entries, in: new)
    }

    /// Server-side apply of `applied` onto `live` (nil: the object is created).
    func applied(_ applied: JSONValue, live: JSONValue?, force: Bool, explicitManager: Bool) throws(KubeError)
        -> JSONValue
    {
        guard explicitManager else {
            throw KubeError(
                code: 422, reason: "Invalid",
                message:
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
            )
        }
        do {
            let result = try ServerSideApply.apply(
                applied, to: live, manager: manager, apiVersion: apiVersion, subresource: subresource, force: force,
                schema: schema, resetFields: resetFields, now: now)
            return result.object
        } catch {
            var kubeError = error.kubeError
            if error.isConflict {
                let name =
                    live?[path: "metadata", "name"]?.stringValue ?? applied[path: "metadata", "name"]?.stringValue
                kubeError.name = name
                kubeError.group = resource.group.isEmpty ? nil : resource.group
                kubeError.kind = resource.plural
            }
            throw kubeError
        }
    }
}
