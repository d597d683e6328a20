/// `metadata.managedFields`: who owns which fields. Each entry names a manager and how it wrote (`Apply`, or
/// `Update` for create, update and non-apply patches), with the field set it owns:
///
///     {"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1","time":"2026-01-02T03:04:05Z",
///      "fieldsType":"FieldsV1","fieldsV1":{…},"subresource":"status"}
///
/// A manager is identified as apimachinery's `BuildManagerIdentifier` does: manager name, operation,
/// subresource, and for `Update` the apiVersion too (one `Update` entry per manager and version; one `Apply`
/// entry per manager whatever the version). Entries are written sorted as `sortEncodedManagedFields` sorts them:
/// `Apply` before `Update`, then by time (seconds), manager, apiVersion and subresource.
public enum ManagedFields {
    /// The field set `object` sets, as server-side apply records it for an applier: every leaf, every associative
    /// list element, every map entry that is empty, null or not a struct field (`typed.ToFieldSet`).
    public static func fieldSet(of object: JSONValue, schema: KubeSchemaNode?) -> FieldSet {
        ApplyWalks.fieldSet(of: object, type: ApplyType(schema))
    }

    /// Paths no manager owns, whatever it writes (apimachinery's `stripMetaManager`): the object's identity and
    /// the fields the server sets.
    public static let serverOwnedFields = FieldSet(fieldNames: [
        ["apiVersion"], ["kind"], ["metadata"], ["metadata", "name"], ["metadata", "namespace"],
        ["metadata", "creationTimestamp"], ["metadata", "selfLink"], ["metadata", "uid"], ["metadata", "clusterName"],
        ["metadata", "generation"], ["metadata", "managedFields"], ["metadata", "resourceVersion"],
    ])

    /// How many `Update` managers an object keeps; the oldest beyond this are merged into `ancient-changes`.
    static let updateManagersMaximum = 10
}

/// Who wrote: apimachinery's manager identifier, the key of a managed-fields entry.
struct ManagerIdentity: Hashable, Sendable {
    var manager: String
    var operation: String
    /// Part of the identity for `Update` only.
    var apiVersion: String
    var subresource: String

    init(manager: String, operation: String, apiVersion: String, subresource: String) {
        self.manager = manager
        self.operation = operation
        self.apiVersion = operation == "Apply" ? "" : apiVersion
        self.subresource = subresource
    }

    /// The identifier's JSON text (`{"manager":"kubectl","operation":"Apply"}`), which upstream sorts managers by.
    var key: String {
        var object = JSONObject()
        if !manager.isEmpty { object["manager"] = .string(manager) }
        if !operation.isEmpty { object["operation"] = .string(operation) }
        if !apiVersion.isEmpty { object["apiVersion"] = .string(apiVersion) }
        if !subresource.isEmpty { object["subresource"] = .string(subresource) }
        return String(decoding: JSONValue.object(object).serialized(), as: UTF8.self)
    }

    /// How conflict messages name the manager (`printManager`): `"kubectl"`, `"x" with subresource "status"`,
    /// `"kubectl-client-side-apply" using apps/v1`.
    var printed: String {
        var text = FieldPathText.goQuoted(manager)
        if !subresource.isEmpty { text += " with subresource \(FieldPathText.goQuoted(subresource))" }
        if operation == "Update" { text += " using \(apiVersion)" }
        return text
    }
}

/// One manager's fields: the set, the apiVersion it was written in, whether by apply, and when.
struct ManagerFields: Sendable {
    var fields: FieldSet
    var apiVersion: String
    var applied: Bool
    var time: String?
}

/// The decoded `metadata.managedFields` of an object.
struct ManagedFieldsState: Sendable {
    var managers: [ManagerIdentity: ManagerFields] = [:]

    var isEmpty: Bool { managers.isEmpty }

    /// apimachinery's `DecodeManagedFields`, with its checks; a later entry for the same manager replaces an
    /// earlier one.
    init(decoding entries: [JSONValue]) throws(FieldsV1Error) {
        for (index, entry) in entries.enumerated() {
            guard case .object(let object) = entry else {
                throw FieldsV1Error("managed fields entry \(index) is not an object")
            }
            let operation = object["operation"]?.stringValue ?? ""
            guard operation == "Apply" || operation == "Update" else {
                throw FieldsV1Error("operation must be `Apply` or `Update`")
            }
            let apiVersion = object["apiVersion"]?.stringValue ?? ""
            guard !apiVersion.isEmpty else { throw FieldsV1Error("apiVersion must not be empty") }
            switch object["fieldsType"]?.stringValue ?? "" {
            case "FieldsV1": break
            case "": throw FieldsV1Error("missing fieldsType in managed fields entry \(index)")
            case let other:
                throw FieldsV1Error(
                    "invalid fieldsType \(FieldPathText.goQuoted(other)) in managed fields entry \(index)")
            }
            let identity = ManagerIdentity(
                manager: object["manager"]?.stringValue ?? "", operation: operation, apiVersion: apiVersion,
                subresource: object["subresource"]?.stringValue ?? "")
            let fields = try ManagedFields.decode(object["fieldsV1"] ?? .null)
            managers[identity] = ManagerFields(
                fields: fields, apiVersion: apiVersion, applied: operation == "Apply", time: object["time"]?.stringValue
            )
        }
    }

    init() {}

    /// The entries, sorted as upstream sorts them.
    func encoded() -> [JSONValue] {
        let sorted = managers.sorted { left, right in
            let (p, q) = (left, right)
            let (pOperation, qOperation) = (
                p.value.applied ? "Apply" : p.key.operation, q.value.applied ? "Apply" : q.key.operation
            )
            if pOperation != qOperation { return FieldPathText.compareBytes(pOperation, qOperation) < 0 }
            let (pSeconds, qSeconds) = (RFC3339.seconds(p.value.time), RFC3339.seconds(q.value.time))
            if pSeconds != qSeconds { return pSeconds < qSeconds }
            if p.key.manager != q.key.manager { return FieldPathText.compareBytes(p.key.manager, q.key.manager) < 0 }
            if p.value.apiVersion != q.value.apiVersion {
                return FieldPathText.compareBytes(p.value.apiVersion, q.value.apiVersion) < 0
            }
            return FieldPathText.compareBytes(p.key.subresource, q.key.subresource) < 0
        }
        return sorted.map { identity, fields in
            var entry: [(key: String, value: JSONValue)] = []
            if !identity.manager.isEmpty { entry.append(("manager", .string(identity.manager))) }
            entry.append(("operation", .string(fields.applied ? "Apply" : identity.operation)))
            entry.append(("apiVersion", .string(fields.apiVersion)))
            if let time = fields.time { entry.append(("time", .string(time))) }
            entry.append(("fieldsType", "FieldsV1"))
            entry.append(("fieldsV1", ManagedFields.encode(fields.fields)))
            if !identity.subresource.isEmpty { entry.append(("subresource", .string(identity.subresource))) }
            return .object(JSONObject(uniqueEntries: entry))
        }
    }

    /// apimachinery's `capManagersManager`: beyond the maximum, the oldest `Update` managers of each apiVersion are
    /// merged into one `ancient-changes` entry for that version.
    mutating func capUpdateManagers(maximum: Int = ManagedFields.updateManagersMaximum) {
        var updaters = managers.filter { !$0.value.applied }.map(\.key)
        guard updaters.count > maximum else { return }
        updaters.sort { left, right in
            let (leftSeconds, rightSeconds) = (
                RFC3339.seconds(managers[left]?.time), RFC3339.seconds(managers[right]?.time)
            )
            if leftSeconds != rightSeconds { return leftSeconds < rightSeconds }
            return FieldPathText.compareBytes(left.key, right.key) < 0
        }
        var firstOfVersion: [String: ManagerIdentity] = [:]
        var remaining = updaters.count
        for identity in updaters where remaining > maximum {
            guard let fields = managers[identity] else { continue }
            let bucket = ManagerIdentity(
                manager: "ancient-changes", operation: "Update", apiVersion: fields.apiVersion, subresource: "")
            guard let first = firstOfVersion[fields.apiVersion] else {
                firstOfVersion[fields.apiVersion] = identity
                continue
            }
            if managers[bucket] == nil, let firstFields = managers.removeValue(forKey: first) {
                managers[bucket] = firstFields
            }
            let bucketFields = managers[bucket]?.fields ?? FieldSet()
            managers[bucket] = ManagerFields(
                fields: fields.fields.union(bucketFields), apiVersion: fields.apiVersion, applied: fields.applied,
                time: fields.time)
            managers[identity] = nil
            remaining -= 1
        }
    }

    /// Drops managers that own nothing.
    mutating func removeEmpty() {
        managers = managers.filter { !$0.value.fields.isEmpty }
    }
}

/// RFC 3339 timestamps as metav1.Time writes them, read to whole seconds for ordering entries.
enum RFC3339 {
    /// Seconds since 1970 of `2026-01-02T03:04:05Z` (fraction ignored, offsets honoured); 0 for nil or bad text,
    /// as upstream orders an entry without a time.
    static func seconds(_ text: String?) -> Int64 {
        guard let text else { return 0 }
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T") else { return 0 }
        func number(_ start: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[start..<start + count] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), (1...12).contains(month)
        else { return 0 }
        var index = 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                index += 1
            }
        }
        var offset: Int64 = 0
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"),
            index + 6 <= bytes.count, let offsetHours = number(index + 1, 2), let offsetMinutes = number(index + 4, 2)
        {
            offset = (offsetHours * 60 + offsetMinutes) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        }
        // Days from the civil date (Howard Hinnant's algorithm).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + hour * 3_600 + minute * 60 + second - offset
    }
}
