// JSON merge patch (RFC 7386) as kube-apiserver applies `application/merge-patch+json`: through
// evanphx/json-patch v4's MergePatch. A `null` member deletes, objects merge recursively, anything else replaces.
// Two of its ways differ from the RFC's pseudo-code, and are kept because clients see them:
// - a value that lands where there was no object (a new key, a null, a scalar, a list) loses its null members
//   all the way down, inside lists of objects too (`[{"a":null}]` becomes `[{}]`);
// - a list or scalar that replaces an object is taken as written, nulls and all.
// kube-apiserver refuses a patch that is `null` or a scalar with 400 `Invalid JSON Patch`: see `validate`.

/// A merge patch kube-apiserver refuses.
public struct MergePatchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error text kube-apiserver answers with.
    public let message: String
    public var description: String { message }

    /// evanphx/json-patch's `ErrBadJSONPatch`, which kube-apiserver returns as a 400.
    public static let invalidPatch = MergePatchError(message: "Invalid JSON Patch")
}

/// RFC 7386 merge patches: applying one, and computing one between two documents.
public enum MergePatch {
    /// Refuses a patch that is `null` or a scalar, as kube-apiserver does; objects and arrays pass.
    public static func validate(_ patch: JSONValue) throws(MergePatchError) {
        switch patch {
        case .object, .array: return
        default: throw .invalidPatch
        }
    }

    /// The document with `patch` applied. A patch that is not an object replaces the document (call `validate`
    /// first to refuse the ones kube-apiserver refuses).
    public static func apply(_ patch: JSONValue, to document: JSONValue) -> JSONValue {
        guard case .object(let patchObject) = patch else { return removingNulls(patch) }
        guard case .object(var object) = document else { return removingNulls(patch) }
        merge(patchObject, into: &object)
        return .object(object)
    }

    /// A merge patch that turns `original` into `modified`: changed and added members, and `null` for removed
    /// ones. Lists are compared whole; when either side is not an object the patch is `modified` itself.
    public static func create(from original: JSONValue, to modified: JSONValue) -> JSONValue {
        guard case .object(let originalObject) = original, case .object(let modifiedObject) = modified else {
            return modified
        }
        return .object(difference(from: originalObject, to: modifiedObject))
    }

    private static func merge(_ patch: JSONObject, into object: inout JSONObject) {
        for (key, value) in patch {
            if value == .null {
                object.removeValue(forKey: key)
                continue
            }
            guard case .object(var currentObject)? = object[key] else {
                object[key] = removingNulls(value)
                continue
            }
            guard case .object(let valueObject) = value else {
                object[key] = value
                continue
            }
            // Drop the document's reference first, so the nested object is changed in place, not copied.
            object[key] = .null
            merge(valueObject, into: &currentObject)
            object[key] = .object(currentObject)
        }
    }

    /// The value without null object members, at any depth (null list elements stay).
    private static func removingNulls(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            var pruned = JSONObject()
            for (key, member) in object where member != .null { pruned[key] = removingNulls(member) }
            return .object(pruned)
        case .array(let elements):
            return .array(elements.map(removingNulls))
        default:
            return value
        }
    }

    private static func difference(from original: JSONObject, to modified: JSONObject) -> JSONObject {
        var patch = JSONObject()
        for (key, modifiedValue) in modified {
            guard let originalValue = original[key] else {
                patch[key] = modifiedValue
                continue
            }
            if case .object(let originalObject) = originalValue, case .object(let modifiedObject) = modifiedValue {
                let nested = difference(from: originalObject, to: modifiedObject)
                if !nested.isEmpty { patch[key] = .object(nested) }
            } else if !sameJSON(originalValue, modifiedValue) {
                patch[key] = modifiedValue
            }
        }
        for (key, _) in original where modified[key] == nil { patch[key] = .null }
        return patch
    }

    /// Equality as Go sees two decoded documents: every number a float64, so `1` equals `1.0`.
    private static func sameJSON(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.int(let int), .double(let double)), (.double(let double), .int(let int)): return Double(int) == double
        case (.array(let leftElements), .array(let rightElements)):
            return leftElements.count == rightElements.count
                && zip(leftElements, rightElements).allSatisfy { sameJSON($0, $1) }
        case (.object(let leftObject), .object(let rightObject)):
            return leftObject.count == rightObject.count
                && leftObject.allSatisfy { entry in rightObject[entry.key].map { sameJSON(entry.value, $0) } ?? false }
        default: return left == right
        }
    }
}
