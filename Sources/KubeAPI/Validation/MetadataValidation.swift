// ObjectMeta validation on create and update, in kube-apiserver's order and words:
// k8s.io/apimachinery pkg/api/validation/objectmeta.go (ValidateObjectMetaAccessor, ...Update, annotations, owner
// references, finalizers), pkg/apis/meta/v1/validation (labels, managed fields), and for built-in kinds the extra
// finalizer rule of kubernetes pkg/apis/core/validation (a finalizer without a domain must be a standard one).
// Input is the `metadata` member as decoded JSON. Wrong JSON types (a number where a string belongs) are the
// decoder's to report, as in kube-apiserver, where they fail decoding before validation runs; here such members are
// read as absent.

/// How one kind's metadata is validated: its scope, its name rule, and whether the built-in finalizer rule applies.
public struct ObjectMetaValidation: Sendable, Hashable {
    /// Whether the kind lives in namespaces (then `metadata.namespace` is required, else forbidden).
    public var namespaced: Bool
    /// The rule `metadata.name` and `generateName` follow.
    public var nameRule: NameRule
    /// Built-in kinds (core validation's ValidateObjectMeta) refuse a finalizer without a `/` unless it is one of
    /// `MetadataValidation.standardFinalizers`; custom resources do not.
    public var requiresQualifiedFinalizers: Bool
    /// Where the metadata sits (`metadata`; a template's is `spec.template.metadata`).
    public var path: FieldPath

    /// The rules for one kind.
    public init(
        namespaced: Bool, nameRule: NameRule, requiresQualifiedFinalizers: Bool = true,
        path: FieldPath = FieldPath("metadata")
    ) {
        self.namespaced = namespaced
        self.nameRule = nameRule
        self.requiresQualifiedFinalizers = requiresQualifiedFinalizers
        self.path = path
    }

    /// The errors of a new object's metadata; call it after generating the name from `generateName`.
    public func validateCreate(_ metadata: JSONValue?) -> [FieldError] {
        let meta = MetaView(metadata)
        var errors: [FieldError] = []
        if !meta.generateName.isEmpty {
            for message in nameRule.validate(meta.generateName, prefix: true) {
                errors.append(.invalid(path.child("generateName"), meta.generateName, message))
            }
        }
        if meta.name.isEmpty {
            errors.append(.required(path.child("name"), "name or generateName is required"))
        } else {
            for message in nameRule.validate(meta.name, prefix: false) {
                errors.append(.invalid(path.child("name"), meta.name, message))
            }
        }
        if namespaced {
            if meta.namespace.isEmpty {
                errors.append(.required(path.child("namespace")))
            } else {
                for message in NameRule.dnsLabel.validate(meta.namespace, prefix: false) {
                    errors.append(.invalid(path.child("namespace"), meta.namespace, message))
                }
            }
        } else if !meta.namespace.isEmpty {
            errors.append(.forbidden(path.child("namespace"), "not allowed on this type"))
        }
        errors += validateGeneration(meta)
        errors += MetadataValidation.validateLabels(metadata?["labels"], path: path.child("labels"))
        errors += MetadataValidation.validateAnnotations(metadata?["annotations"], path: path.child("annotations"))
        errors += MetadataValidation.validateOwnerReferences(
            metadata?["ownerReferences"], path: path.child("ownerReferences"))
        errors += MetadataValidation.validateFinalizers(metadata?["finalizers"], path: path.child("finalizers"))
        errors += MetadataValidation.validateManagedFields(
            metadata?["managedFields"], path: path.child("managedFields"))
        errors += qualifiedFinalizerErrors(meta)
        return errors
    }

    /// The errors of an update's metadata against the stored object's.
    public func validateUpdate(_ metadata: JSONValue?, old oldMetadata: JSONValue?) -> [FieldError] {
        let meta = MetaView(metadata)
        let old = MetaView(oldMetadata)
        var errors: [FieldError] = []
        if !(old.member("deletionTimestamp") ?? .null).isNull {
            let oldFinalizers = Set(old.finalizers)
            let added = Set(meta.finalizers.filter { !oldFinalizers.contains($0) }).sorted(by: GoFormat.precedes)
            if !added.isEmpty {
                let list = "[]string{" + added.map(GoFormat.quoted).joined(separator: ", ") + "}"
                errors.append(
                    .forbidden(
                        path.child("finalizers"),
                        "no new finalizers can be added if the object is being deleted, found new finalizers \(list)"))
            }
        }
        if meta.resourceVersion.isEmpty {
            errors.append(.invalid(path.child("resourceVersion"), "", "must be specified for an update"))
        }
        errors += validateGeneration(meta)
        if meta.generation < old.generation {
            errors.append(.invalid(path.child("generation"), json: .int(meta.generation), "must not be decremented"))
        }
        if meta.name != old.name { errors.append(.invalid(path.child("name"), meta.name, "field is immutable")) }
        if meta.namespace != old.namespace {
            errors.append(.invalid(path.child("namespace"), meta.namespace, "field is immutable"))
        }
        if meta.string("uid") != old.string("uid") {
            errors.append(.invalid(path.child("uid"), json: .string(meta.string("uid")), "field is immutable"))
        }
        for member in ["creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"] {
            let value = meta.member(member) ?? .null
            if value != (old.member(member) ?? .null) {
                errors.append(.invalid(path.child(member), json: value, "field is immutable"))
            }
        }
        errors += MetadataValidation.validateLabels(metadata?["labels"], path: path.child("labels"))
        errors += MetadataValidation.validateAnnotations(metadata?["annotations"], path: path.child("annotations"))
        errors += MetadataValidation.validateOwnerReferences(
            metadata?["ownerReferences"], path: path.child("ownerReferences"))
        errors += MetadataValidation.validateManagedFields(
            metadata?["managedFields"], path: path.child("managedFields"))
        errors += qualifiedFinalizerErrors(meta)
        return errors
    }

    private func validateGeneration(_ meta: MetaView) -> [FieldError] {
        guard meta.generation < 0 else { return [] }
        return [.invalid(path.child("generation"), json: .int(meta.generation), "must be greater than or equal to 0")]
    }

    private func qualifiedFinalizerErrors(_ meta: MetaView) -> [FieldError] {
        guard requiresQualifiedFinalizers else { return [] }
        var errors: [FieldError] = []
        for (index, finalizer) in meta.finalizers.enumerated()
        where !finalizer.contains("/") && !MetadataValidation.standardFinalizers.contains(finalizer) {
            errors.append(
                .invalid(
                    path.child("finalizers").index(index), finalizer,
                    "name is neither a standard finalizer name nor is it fully qualified"))
        }
        return errors
    }
}

/// The parts of ObjectMeta validation, each usable alone (a pod template's labels, a selector's matchLabels).
public enum MetadataValidation {
    /// The most bytes all annotation keys and values may take together (256 KiB).
    public static let totalAnnotationSizeLimitBytes = 256 * 1024
    /// Finalizers allowed without a domain prefix on built-in kinds.
    public static let standardFinalizers: Set<String> = ["kubernetes", "orphan", "foregroundDeletion"]
    public static let fieldManagerMaximumLength = 128
    public static let subresourceNameMaximumLength = 256

    /// `ValidateLabels`: keys are qualified names, values label values; every error is on the map's path.
    public static func validateLabels(_ labels: JSONValue?, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for (key, value) in stringEntries(labels) {
            for message in NameValidation.isQualifiedName(key) { errors.append(.invalid(path, key, message)) }
            for message in NameValidation.isValidLabelValue(value) { errors.append(.invalid(path, value, message)) }
        }
        return errors
    }

    /// `ValidateAnnotations`: keys are qualified names ignoring case; keys and values at most 256 KiB together.
    public static func validateAnnotations(_ annotations: JSONValue?, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var totalBytes = 0
        for (key, value) in stringEntries(annotations) {
            for message in NameValidation.isQualifiedName(key.lowercased()) {
                errors.append(.invalid(path, key, message))
            }
            totalBytes += key.utf8.count + value.utf8.count
        }
        if totalBytes > totalAnnotationSizeLimitBytes {
            errors.append(.tooLong(path, maximumBytes: totalAnnotationSizeLimitBytes))
        }
        return errors
    }

    /// `ValidateOwnerReferences`: each reference complete, no Event owners, at most one controller.
    public static func validateOwnerReferences(_ references: JSONValue?, path: FieldPath) -> [FieldError] {
        let elements = references?.arrayValue ?? []
        var errors: [FieldError] = []
        var firstController: String?
        for (index, element) in elements.enumerated() {
            let reference = OwnerReference(element)
            errors += validateOwnerReference(reference, path: path.index(index))
            guard reference.controller == true else { continue }
            let controller = reference.kind + "/" + reference.name
            if let firstController {
                errors.append(
                    .invalid(
                        path, json: .array(elements.map { OwnerReference($0).json }),
                        "Only one reference can have Controller set to true. Found \"true\" in references for "
                            + "\(firstController) and \(controller)"))
            } else {
                firstController = controller
            }
        }
        return errors
    }

    /// `ValidateFinalizers`: each a qualified name (errors on the list's path), not both orphan and foreground.
    public static func validateFinalizers(_ finalizers: JSONValue?, path: FieldPath) -> [FieldError] {
        let names = (finalizers?.arrayValue ?? []).compactMap(\.stringValue)
        var errors: [FieldError] = []
        for name in names {
            for message in NameValidation.isQualifiedName(name) { errors.append(.invalid(path, name, message)) }
        }
        if names.contains("orphan") && names.contains("foregroundDeletion") {
            errors.append(
                .invalid(
                    path, json: .array(names.map(JSONValue.string)),
                    "finalizer orphan and foregroundDeletion cannot be both set"))
        }
        return errors
    }

    /// `ValidateManagedFields`: operation Apply or Update, fieldsType FieldsV1, a printable manager of at most
    /// 128 bytes, a subresource of at most 256.
    public static func validateManagedFields(_ entries: JSONValue?, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for (index, entry) in (entries?.arrayValue ?? []).enumerated() {
            let entryPath = path.index(index)
            let operation = entry["operation"]?.stringValue ?? ""
            switch operation {
            case "": errors.append(.required(entryPath.child("operation"), "must not be empty"))
            case "Apply", "Update": break
            default:
                errors.append(
                    .notSupported(
                        entryPath.child("operation"), .json(.string(operation)), supported: ["Apply", "Update"]))
            }
            let fieldsType = entry["fieldsType"]?.stringValue ?? ""
            if !fieldsType.isEmpty && fieldsType != "FieldsV1" {
                errors.append(.invalid(entryPath.child("fieldsType"), fieldsType, "must be `FieldsV1`"))
            }
            errors += validateFieldManager(entry["manager"]?.stringValue ?? "", path: entryPath.child("manager"))
            if (entry["subresource"]?.stringValue ?? "").utf8.count > subresourceNameMaximumLength {
                errors.append(.tooLong(entryPath.child("subresource"), maximumBytes: subresourceNameMaximumLength))
            }
        }
        return errors
    }

    /// `ValidateFieldManager`: at most 128 bytes, printable characters only.
    public static func validateFieldManager(_ manager: String, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if manager.utf8.count > fieldManagerMaximumLength {
            errors.append(.tooLong(path, maximumBytes: fieldManagerMaximumLength))
        }
        var position = 0
        for scalar in manager.unicodeScalars {
            if !GoFormat.isPrintable(scalar) {
                let code = String(scalar.value, radix: 16, uppercase: true)
                let padded = String(repeating: "0", count: max(0, 4 - code.count)) + code
                errors.append(.invalid(path, manager, "invalid character U+\(padded) (at position \(position))"))
            }
            position += String(scalar).utf8.count
        }
        return errors
    }

    private static func validateOwnerReference(_ reference: OwnerReference, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        // schema.ParseGroupVersion: "" and "/" are empty; one slash splits group from version; more is an error.
        var group = ""
        var version = ""
        var parsed = true
        if reference.apiVersion != "/" {
            let parts = reference.apiVersion.split(separator: "/", omittingEmptySubsequences: false)
            switch parts.count {
            case 1: version = String(parts[0])
            case 2: (group, version) = (String(parts[0]), String(parts[1]))
            default: parsed = false
            }
        }
        if reference.apiVersion.isEmpty {
            errors.append(.required(path.child("apiVersion"), "must not be empty"))
        } else if !parsed || version.isEmpty {
            errors.append(
                .invalid(path.child("apiVersion"), reference.apiVersion, "must be <group>/<version> or <version>"))
        }
        for (member, value) in [("kind", reference.kind), ("name", reference.name), ("uid", reference.uid)]
        where value.isEmpty {
            errors.append(.required(path.child(member), "must not be empty"))
        }
        if parsed && group.isEmpty && version == "v1" && reference.kind == "Event" {
            errors.append(.invalid(path, json: reference.json, "/v1, Kind=Event is disallowed from being an owner"))
        }
        return errors
    }

    /// The string members of a JSON object, in document order (Go walks its maps in random order).
    static func stringEntries(_ value: JSONValue?) -> [(String, String)] {
        guard let object = value?.objectValue else { return [] }
        return object.entries.compactMap { entry in entry.value.stringValue.map { (entry.key, $0) } }
    }
}

/// metav1.OwnerReference as Go would marshal it in a message: its members in struct order.
private struct OwnerReference {
    var apiVersion, kind, name, uid: String
    var controller, blockOwnerDeletion: Bool?

    init(_ value: JSONValue) {
        apiVersion = value["apiVersion"]?.stringValue ?? ""
        kind = value["kind"]?.stringValue ?? ""
        name = value["name"]?.stringValue ?? ""
        uid = value["uid"]?.stringValue ?? ""
        controller = value["controller"]?.boolValue
        blockOwnerDeletion = value["blockOwnerDeletion"]?.boolValue
    }

    var json: JSONValue {
        var object: JSONObject = [
            "apiVersion": .string(apiVersion), "kind": .string(kind), "name": .string(name), "uid": .string(uid),
        ]
        if let controller { object["controller"] = .bool(controller) }
        if let blockOwnerDeletion { object["blockOwnerDeletion"] = .bool(blockOwnerDeletion) }
        return .object(object)
    }
}

/// The metadata members validation reads, absent ones as Go's zero values.
private struct MetaView {
    let object: JSONObject

    init(_ metadata: JSONValue?) { object = metadata?.objectValue ?? JSONObject() }

    func member(_ key: String) -> JSONValue? { object[key] }
    func string(_ key: String) -> String { object[key]?.stringValue ?? "" }
    var name: String { string("name") }
    var generateName: String { string("generateName") }
    var namespace: String { string("namespace") }
    var resourceVersion: String { string("resourceVersion") }
    var generation: Int64 { object["generation"]?.intValue ?? 0 }
    var finalizers: [String] { (object["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue) }
}
