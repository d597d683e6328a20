/// Field validation (`fieldValidation=Strict|Warn|Ignore`): the fields of an object its schema does not know.
///
/// kube-apiserver finds them in two ways, worded differently (both read here from apimachinery and
/// sigs.k8s.io/json):
/// - A create or update body goes through the strict JSON decoder, which reports `unknown field "spec.foo"` and
///   `duplicate field "spec.replicas"` in document order, the path Go-quoted, map keys part of paths, at most 100,
///   each once. The request fails with 400 `BadRequest`:
///   `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo", …`.
/// - A strategic merge patch's result is converted from a map, which reports unknown fields sorted by their text,
///   paths unquoted and without map keys, after the patch's own duplicate fields. That fails with 422 `Invalid`
///   on the field `patch` (see apiserver's handlers/patch.go).
/// Under `Warn` each error's text is one `Warning: 299 - "<text>"` header instead and the request goes on; under
/// `Warn` and `Ignore` the object is stored without the unknown fields, as the typed decode leaves it (`prune`).
///
/// An object's `apiVersion` and `kind` are always known at the root (and in an `x-kubernetes-embedded-resource`,
/// with its `metadata`); `x-kubernetes-preserve-unknown-fields` and free-form values (RawExtension, JSON, …)
/// accept anything below them; a map accepts any key.
public enum UnknownFields {
    /// Which of kube-apiserver's decoders looks at the object: it decides order and wording.
    public enum Decoding: Hashable, Sendable {
        /// The strict JSON decoder: a create or update body, or the document a JSON merge patch produced.
        case jsonBody
        /// The unstructured converter: the result of a strategic merge patch.
        case patchedMap
    }

    /// The strict JSON decoder stops collecting errors at this many.
    public static let jsonBodyErrorsMaximum = 100

    /// The unknown fields of `value` (and the duplicate fields the parser found, as Go-style paths such as
    /// `spec.containers[0].name`), in kube-apiserver's order and words.
    public static func find(
        in value: JSONValue, schema: KubeSchemaNode, decoding: Decoding = .jsonBody, duplicatePaths: [String] = []
    ) -> [StrictFieldError] {
        var walker = Walker(decoding: decoding, duplicatePaths: duplicatePaths)
        walker.walk(value, schema: schema, path: "", isRoot: true)
        switch decoding {
        case .jsonBody:
            // Duplicates the walk did not reach (inside free-form or unknown values) come last.
            for path in duplicatePaths where !walker.reachedDuplicates.contains(path) {
                walker.record(.duplicateField, path)
            }
            return walker.errors
        case .patchedMap:
            let unknown = walker.errors.sorted { $0.message.utf8.lexicographicallyPrecedes($1.message.utf8) }
            return duplicatePaths.map { StrictFieldError(.duplicateField, path: $0, decoding: .jsonBody) } + unknown
        }
    }

    /// kube-apiserver's strict decoding error for `value`, or nil when it has no unknown or duplicate fields.
    public static func strictDecodingError(
        in value: JSONValue, schema: KubeSchemaNode, decoding: Decoding = .jsonBody, duplicatePaths: [String] = []
    ) -> StrictDecodingError? {
        let errors = find(in: value, schema: schema, decoding: decoding, duplicatePaths: duplicatePaths)
        return errors.isEmpty ? nil : StrictDecodingError(errors: errors)
    }

    /// `value` without the fields its schema does not know, as `fieldValidation=Ignore` (and the typed decode behind
    /// it) leaves an object; with `removingNulls`, also without known fields set to null, which the typed decode
    /// drops as well.
    public static func prune(_ value: JSONValue, schema: KubeSchemaNode, removingNulls: Bool = false) -> JSONValue {
        prune(value, schema: schema, removingNulls: removingNulls, isRoot: true)
    }

    private static func prune(_ value: JSONValue, schema: KubeSchemaNode, removingNulls: Bool, isRoot: Bool)
        -> JSONValue
    {
        switch (schema.kind, value) {
        case (.object, .object(let object)):
            var result = JSONObject()
            for (key, child) in object {
                if let property = schema.property(key) {
                    if removingNulls && child == .null { continue }
                    result[key] = prune(child, schema: property, removingNulls: removingNulls, isRoot: false)
                } else if schema.preservesUnknownFields || isAlwaysKnown(key, in: schema, isRoot: isRoot) {
                    result[key] = child
                }
            }
            return .object(result)
        case (.map, .object(let object)):
            guard let values = schema.mapValues else { return value }
            var result = JSONObject()
            for (key, child) in object {
                result[key] = prune(child, schema: values, removingNulls: removingNulls, isRoot: false)
            }
            return .object(result)
        case (.list, .array(let array)):
            guard let items = schema.items else { return value }
            return .array(array.map { prune($0, schema: items, removingNulls: removingNulls, isRoot: false) })
        default:
            return value
        }
    }

    /// `apiVersion` and `kind` at the root; those and `metadata` in an embedded resource.
    static func isAlwaysKnown(_ key: String, in schema: KubeSchemaNode, isRoot: Bool) -> Bool {
        if key == "apiVersion" || key == "kind" { return isRoot || schema.isEmbeddedResource }
        return key == "metadata" && schema.isEmbeddedResource
    }

    private struct Walker {
        let decoding: Decoding
        let duplicatePaths: Set<String>
        private(set) var errors: [StrictFieldError] = []
        private(set) var reachedDuplicates: Set<String> = []
        private var seen: Set<StrictFieldError> = []

        init(decoding: Decoding, duplicatePaths: [String]) {
            self.decoding = decoding
            self.duplicatePaths = Set(duplicatePaths)
        }

        mutating func record(_ kind: StrictFieldError.Kind, _ path: String) {
            if decoding == .jsonBody && errors.count >= UnknownFields.jsonBodyErrorsMaximum { return }
            // Duplicates are reported separately for `patchedMap`.
            if kind == .duplicateField && decoding == .patchedMap { return }
            let error = StrictFieldError(kind, path: path, decoding: decoding)
            if seen.insert(error).inserted { errors.append(error) }
        }

        mutating func walk(_ value: JSONValue, schema: KubeSchemaNode, path: String, isRoot: Bool) {
            switch (schema.kind, value) {
            case (.object, .object(let object)):
                for (key, child) in object {
                    let childPath = path.isEmpty ? key : path + "." + key
                    if let property = schema.property(key) {
                        walk(child, schema: property, path: childPath, isRoot: false)
                    } else if !schema.preservesUnknownFields && !isAlwaysKnown(key, in: schema, isRoot: isRoot) {
                        record(.unknownField, childPath)
                    }
                    noteDuplicate(childPath)
                }
            case (.map, .object(let object)):
                for (key, child) in object {
                    let keyPath = path.isEmpty ? key : path + "." + key
                    if let values = schema.mapValues {
                        // The converter leaves map keys out of its paths; the JSON decoder puts them in.
                        walk(child, schema: values, path: decoding == .jsonBody ? keyPath : path, isRoot: false)
                    }
                    noteDuplicate(keyPath)
                }
            case (.list, .array(let array)):
                guard let items = schema.items else { return }
                for (index, element) in array.enumerated() {
                    walk(element, schema: items, path: path + "[\(index)]", isRoot: false)
                }
            default:
                // Primitives, free-form values, and values of the wrong type (a decoding error, not a strict one).
                return
            }
        }

        private mutating func noteDuplicate(_ path: String) {
            guard duplicatePaths.contains(path) else { return }
            reachedDuplicates.insert(path)
            record(.duplicateField, path)
        }
    }
}

/// One field strict decoding objects to.
public struct StrictFieldError: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case unknownField
        case duplicateField
    }

    public let kind: Kind
    /// The field's path as Go prints it: `spec.containers[0].bar`.
    public let path: String
    /// `unknown field "spec.foo"`: the error's text, and under `fieldValidation=Warn` one warning's.
    public let message: String

    /// An error worded as `decoding` words it (the JSON decoder quotes paths as Go's `%q`, the converter does not).
    public init(_ kind: Kind, path: String, decoding: UnknownFields.Decoding) {
        self.kind = kind
        self.path = path
        let quotedPath = decoding == .jsonBody ? GoMessageText.quoted(path) : "\"\(path)\""
        message = (kind == .unknownField ? "unknown field " : "duplicate field ") + quotedPath
    }

    public var description: String { message }
}

/// kube-apiserver's `strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`.
public struct StrictDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    public let errors: [StrictFieldError]

    public init(errors: [StrictFieldError]) { self.errors = errors }

    public var message: String { "strict decoding error: " + errors.map(\.message).joined(separator: ", ") }

    /// The `Warning` header texts for `fieldValidation=Warn`, one per error.
    public var warnings: [String] { errors.map(\.message) }

    /// The 400 message of a create or update whose body names `kind` in `version`, decoded into `objectKind`:
    /// `Pod in version "v1" cannot be handled as a Pod: strict decoding error: …`.
    public func badRequestMessage(kind: String, version: String, objectKind: String) -> String {
        "\(kind) in version \(GoMessageText.quoted(version)) cannot be handled as a \(objectKind): \(message)"
    }

    public var description: String { message }
}
