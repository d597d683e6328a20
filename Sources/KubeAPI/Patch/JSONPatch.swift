// JSON patch (RFC 6902) as kube-apiserver applies `application/json-patch+json`: through evanphx/json-patch v4,
// whose behaviour clients meet, including where it strays from the RFC:
// - `replace` of a missing object member adds it, and `replace` of the whole document ("") with a scalar is
//   ignored;
// - array indexes are Go's `strconv.Atoi` (a sign and leading zeros pass) and may count from the end (-1 is the
//   last element; for `add`, -1 appends);
// - `copy` of a missing member copies null; `copy` may add at most 3 MiB in all (kube-apiserver's
//   JSONPatchMaxCopyBytes); a patch may hold at most 10,000 operations (maxJSONPatchOperations);
// - a missing `value` is null.
// A pointer must start with "/" (Go also takes `a/b`, as `/b`).

/// RFC 6902 JSON patches applied to a document.
public enum JSONPatch {
    /// kube-apiserver's `maxJSONPatchOperations`.
    public static let maximumOperations = 10_000
    /// kube-apiserver's `JSONPatchMaxCopyBytes`: how much all `copy` operations of one patch may add, in JSON bytes.
    public static let copiedBytesMaximum = 3 * 1024 * 1024

    /// The document with the operations of `patch` (a JSON array of operations) applied in order.
    public static func apply(_ patch: JSONValue, to document: JSONValue) throws(JSONPatchError) -> JSONValue {
        let operations = try decode(patch)
        var document = document
        var copiedBytes = 0
        for operation in operations {
            switch operation.kind {
            case "add": try add(operation, to: &document)
            case "remove": try remove(operation, from: &document)
            case "replace": try replace(operation, in: &document)
            case "move": try move(operation, in: &document)
            case "test": try test(operation, against: &document)
            case "copy": try copy(operation, in: &document, copiedBytes: &copiedBytes)
            default: throw .failed("Unexpected kind: \(operation.kind)")
            }
        }
        return document
    }

    /// `DecodePatch` (Go's json.Unmarshal into `[]map[string]*json.RawMessage`) and kube-apiserver's count limit.
    private static func decode(_ patch: JSONValue) throws(JSONPatchError) -> [Operation] {
        let elements: [JSONValue]
        switch patch {
        case .array(let array): elements = array
        case .null: elements = []
        default: throw JSONPatchError(.malformedPatch, unmarshalMessage(patch, into: "jsonpatch.Patch"))
        }
        var operations: [Operation] = []
        operations.reserveCapacity(elements.count)
        for element in elements {
            switch element {
            case .object(let fields): operations.append(Operation(fields: fields))
            case .null: operations.append(Operation(fields: JSONObject()))
            default: throw JSONPatchError(.malformedPatch, unmarshalMessage(element, into: "jsonpatch.Operation"))
            }
        }
        if operations.count > maximumOperations {
            throw JSONPatchError(
                .tooManyOperations,
                "The allowed maximum operations in a JSON patch is \(maximumOperations), got \(operations.count)")
        }
        return operations
    }

    /// Go's `UnmarshalTypeError` text for a value of the wrong JSON type.
    static func unmarshalMessage(_ value: JSONValue, into type: String) -> String {
        let kind =
            switch value {
            case .object: "object"
            case .array: "array"
            case .string: "string"
            case .int, .double: "number"
            case .bool: "bool"
            case .null: "null"
            }
        return "json: cannot unmarshal \(kind) into Go value of type \(type)"
    }

    private static func add(_ operation: Operation, to document: inout JSONValue) throws(JSONPatchError) {
        guard let path = try? operation.path() else {
            throw .failed("add operation failed to decode path: \(JSONPatchError.missingValue)")
        }
        let value = operation.value ?? .null
        let applied: Void? = try Pointer.withParent(of: path, in: &document) { parent, key throws(JSONPatchError) in
            do throws(JSONPatchError) { try Pointer.add(value, at: key, to: &parent) } catch {
                throw error.wrapped("error in add for path: '\(path)'")
            }
        }
        if applied == nil {
            throw .failed(
                "add operation does not apply: doc is missing path: \"\(path)\": \(JSONPatchError.missingValue)")
        }
    }

    private static func remove(_ operation: Operation, from document: inout JSONValue) throws(JSONPatchError) {
        guard let path = try? operation.path() else {
            throw .failed("remove operation failed to decode path: \(JSONPatchError.missingValue)")
        }
        let applied: Void? = try Pointer.withParent(of: path, in: &document) { parent, key throws(JSONPatchError) in
            do throws(JSONPatchError) { _ = try Pointer.remove(at: key, from: &parent) } catch {
                throw error.wrapped("error in remove for path: '\(path)'")
            }
        }
        if applied == nil {
            throw .failed(
                "remove operation does not apply: doc is missing path: \"\(path)\": \(JSONPatchError.missingValue)")
        }
    }

    private static func replace(_ operation: Operation, in document: inout JSONValue) throws(JSONPatchError) {
        let path: String
        do throws(JSONPatchError) { path = try operation.path() } catch {
            throw error.wrapped("replace operation failed to decode path")
        }
        let value = operation.value ?? .null
        if path.isEmpty {
            // Go replaces the whole document only with an object or an array, and ignores anything else.
            switch value {
            case .object, .array: document = value
            default: break
            }
            return
        }
        let applied: Void? = try Pointer.withParent(of: path, in: &document) { parent, key throws(JSONPatchError) in
            do throws(JSONPatchError) { _ = try Pointer.get(key, in: parent) } catch {
                throw .failed(
                    "replace operation does not apply: doc is missing key: \(path): \(JSONPatchError.missingValue)")
            }
            try Pointer.set(value, at: key, in: &parent)
        }
        if applied == nil {
            throw .failed(
                "replace operation does not apply: doc is missing path: \(path): \(JSONPatchError.missingValue)")
        }
    }

    private static func move(_ operation: Operation, in document: inout JSONValue) throws(JSONPatchError) {
        let from: String
        do throws(JSONPatchError) { from = try operation.from() } catch {
            throw error.wrapped("move operation failed to decode from")
        }
        let moved = try Pointer.withParent(of: from, in: &document) { parent, key throws(JSONPatchError) in
            do throws(JSONPatchError) {
                _ = try Pointer.get(key, in: parent)
                return try Pointer.remove(at: key, from: &parent)
            } catch {
                throw error.wrapped("error in move for path: '\(key)'")
            }
        }
        guard let moved else {
            throw .failed(
                "move operation does not apply: doc is missing from path: \(from): \(JSONPatchError.missingValue)")
        }
        let path: String
        do throws(JSONPatchError) { path = try operation.path() } catch {
            throw error.wrapped("move operation failed to decode path")
        }
        let applied: Void? = try Pointer.withParent(of: path, in: &document) { parent, key throws(JSONPatchError) in
            do throws(JSONPatchError) { try Pointer.add(moved ?? .null, at: key, to: &parent) } catch {
                throw error.wrapped("error in move for path: '\(path)'")
            }
        }
        if applied == nil {
            throw .failed(
                "move operation does not apply: doc is missing destination path: \(path): \(JSONPatchError.missingValue)"
            )
        }
    }

    /// Takes the document `inout` only to reach into it without copying; it is left as it was.
    private static func test(_ operation: Operation, against document: inout JSONValue) throws(JSONPatchError) {
        let path: String
        do throws(JSONPatchError) { path = try operation.path() } catch {
            throw error.wrapped("test operation failed to decode path")
        }
        let failure = JSONPatchError.failed("testing value \(path) failed: \(JSONPatchError.testFailed)")
        let expected = operation.value ?? .null
        if path.isEmpty {
            guard document == expected else { throw failure }
            return
        }
        let actual = try Pointer.withParent(of: path, in: &document) { parent, key throws(JSONPatchError) in
            do throws(JSONPatchError) { return try Pointer.get(key, in: parent) } catch {
                throw error.wrapped("error in test for path: '\(path)'")
            }
        }
        guard let actual else {
            throw .failed("test operation does not apply: is missing path: \(path): \(JSONPatchError.missingValue)")
        }
        // A missing member and a null one are alike to Go (both a nil node).
        guard (actual ?? .null) == expected else { throw failure }
    }

    private static func copy(_ operation: Operation, in document: inout JSONValue, copiedBytes: inout Int)
        throws(JSONPatchError)
    {
        let from: String
        do throws(JSONPatchError) { from = try operation.from() } catch {
            throw error.wrapped("copy operation failed to decode from")
        }
        let found = try Pointer.withParent(of: from, in: &document) { parent, key throws(JSONPatchError) in
            do throws(JSONPatchError) { return try Pointer.get(key, in: parent) } catch {
                throw error.wrapped("error in copy for from: '\(from)'")
            }
        }
        guard let found else {
            throw .failed(
                "copy operation does not apply: doc is missing from path: \(from): \(JSONPatchError.missingValue)")
        }
        guard let path = try? operation.path() else {
            throw .failed("copy operation failed to decode path: \(JSONPatchError.missingValue)")
        }
        let applied: Void? = try Pointer.withParent(of: path, in: &document) { parent, key throws(JSONPatchError) in
            // Go counts the copied value's JSON; a missing or null source copies nothing and adds a null.
            copiedBytes += found.map { $0 == .null ? 0 : $0.serialized().count } ?? 0
            if copiedBytes > copiedBytesMaximum {
                throw .failed(
                    "Unable to complete the copy, the accumulated size increase of copy is \(copiedBytes), "
                        + "exceeding the limit \(copiedBytesMaximum)")
            }
            do throws(JSONPatchError) { try Pointer.add(found ?? .null, at: key, to: &parent) } catch {
                throw error.wrapped("error while adding value during copy")
            }
        }
        if applied == nil {
            throw .failed(
                "copy operation does not apply: doc is missing destination path: \(path): \(JSONPatchError.missingValue)"
            )
        }
    }
}

/// One operation object of a patch, read field by field as evanphx/json-patch reads it.
private struct Operation {
    let fields: JSONObject

    /// The `op` member; anything but a string is "unknown".
    var kind: String { fields["op"]?.stringValue ?? "unknown" }

    /// The `value` member; nil when absent.
    var value: JSONValue? { fields["value"] }

    func path() throws(JSONPatchError) -> String {
        try stringField("path", missing: "operation missing path field")
    }

    func from() throws(JSONPatchError) -> String {
        try stringField("from", missing: "operation, missing from field")
    }

    private func stringField(_ name: String, missing: String) throws(JSONPatchError) -> String {
        switch fields[name] {
        case nil, .null?: throw .failed("\(missing): \(JSONPatchError.missingValue)")
        case .string(let string)?: return string
        case let other?: throw .failed(JSONPatch.unmarshalMessage(other, into: "string"))
        }
    }
}
