/// structured-merge-diff's walks over a value along its type, on JSONValue: the field set a value sets
/// (`typed/tofieldset.go`), checking an applied object (`validate.go`), removing paths (`remove.go`) and naming
/// struct fields as members (`fieldpath.Set.EnsureNamedFieldsAreMembers`). Merging and comparing are in
/// ApplyWalks+Merge.swift.
///
/// Where SMD would fail on a value its type does not fit (a string where a struct belongs, an element without
/// its key), these walks treat the value as a leaf or skip the element: the request's own validation reports it.
enum ApplyWalks {
    /// At most this many problems are reported for one applied object.
    static let validationErrorsMaximum = 32
    static let objectMetaDefinition = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

    /// The paths `value` sets: every leaf, every associative list element, and every map entry that is empty,
    /// null, or not a declared struct field. SMD's `ToFieldSet`; duplicate list elements are owned whole.
    static func fieldSet(of value: JSONValue, type: ApplyType) -> FieldSet {
        var set = FieldSet()
        var path: ManagedFieldPath = []
        addFields(of: value, type: type, path: &path, to: &set)
        return set
    }

    private static func addFields(
        of value: JSONValue, type: ApplyType, path: inout ManagedFieldPath, to set: inout FieldSet
    ) {
        switch type.atom(for: value) {
        case .leaf:
            set.insert(path)
        case .map(let mapType):
            guard case .object(let object) = value else { return }
            for (key, child) in object {
                let (childType, declared) = mapType.child(key)
                path.append(.field(key))
                addFields(of: child, type: childType, path: &path, to: &set)
                if child == .null || child.objectValue?.isEmpty == true || !declared { set.insert(path) }
                path.removeLast()
            }
        case .list(let shape):
            guard case .array(let items) = value else { return }
            let elements = items.map { try? shape.pathElement(for: $0).get() }
            var counts: [FieldPathElement: Int] = [:]
            for case let element? in elements { counts[element, default: 0] += 1 }
            var ownedWhole = Set<FieldPathElement>()
            for (item, element) in zip(items, elements) {
                guard let element else { continue }
                path.append(element)
                if counts[element, default: 0] > 1 {
                    if ownedWhole.insert(element).inserted { set.insert(path) }
                } else {
                    addFields(of: item, type: shape.element, path: &path, to: &set)
                    set.insert(path)
                }
                path.removeLast()
            }
        }
    }

    /// What SMD's typed conversion of an applied object reports: associative list elements without usable keys
    /// and duplicate elements (`.spec.containers: duplicate entries for key [name="c"]`).
    static func validate(_ value: JSONValue, type: ApplyType, path: String, errors: inout [ApplyValueError]) {
        guard errors.count < validationErrorsMaximum else { return }
        switch type.atom(for: value) {
        case .leaf:
            return
        case .map(let mapType):
            guard case .object(let object) = value else { return }
            for (key, child) in object {
                validate(child, type: mapType.child(key).type, path: path + "." + key, errors: &errors)
            }
        case .list(let shape):
            guard case .array(let items) = value else { return }
            var seen = Set<FieldPathElement>()
            for (index, item) in items.enumerated() {
                switch shape.pathElement(for: item) {
                case .failure(let error):
                    errors.append(ApplyValueError(path: path, message: "element \(index): \(error.message)"))
                    return
                case .success(let element):
                    if !seen.insert(element).inserted {
                        errors.append(ApplyValueError(path: path, message: "duplicate entries for key \(element)"))
                    }
                    validate(item, type: shape.element, path: path + element.description, errors: &errors)
                }
            }
        }
    }

    /// `value` without the paths in `toRemove` (a member removes everything below it too). SMD's `RemoveItems`,
    /// which leaves null where a map or list lost its last entry; with `dropsEmptied` such an entry goes instead,
    /// as it does once Kubernetes decodes the result into its Go type.
    static func removing(_ toRemove: FieldSet, from value: JSONValue, type: ApplyType, dropsEmptied: Bool) -> JSONValue
    {
        switch type.atom(for: value) {
        case .leaf:
            return value
        case .map(let mapType):
            guard case .object(let object) = value, !object.isEmpty else { return value }
            var kept: [(key: String, value: JSONValue)] = []
            for (key, child) in object {
                let element = FieldPathElement.field(key)
                if FieldSet.search(toRemove.members, element).found { continue }
                var result = child
                if let below = toRemove.child(element), !below.isEmpty {
                    result = removing(below, from: child, type: mapType.child(key).type, dropsEmptied: dropsEmptied)
                    if dropsEmptied && result == .null && child != .null { continue }
                }
                kept.append((key, result))
            }
            return kept.isEmpty ? .null : .object(JSONObject(uniqueEntries: kept))
        case .list(let shape):
            guard case .array(let items) = value, !items.isEmpty else { return value }
            var kept: [JSONValue] = []
            for item in items {
                guard let element = try? shape.pathElement(for: item).get() else {
                    kept.append(item)
                    continue
                }
                if FieldSet.search(toRemove.members, element).found { continue }
                var result = item
                if let below = toRemove.child(element), !below.isEmpty {
                    result = removing(below, from: item, type: shape.element, dropsEmptied: dropsEmptied)
                    if dropsEmptied && result == .null && item != .null { continue }
                }
                kept.append(result)
            }
            return kept.isEmpty ? .null : .array(kept)
        }
    }

    /// `set` with every struct field that has paths below it made a member too, so that removing the set removes
    /// those fields whole. SMD's `EnsureNamedFieldsAreMembers`.
    static func ensuringNamedFieldsAreMembers(_ set: FieldSet, type: ApplyType?) -> FieldSet {
        var result = FieldSet()
        result.members = set.members
        for child in set.children {
            guard case .field(let name) = child.element, let type, type.declaresField(name) else { continue }
            let (index, found) = FieldSet.search(result.members, child.element)
            if !found { result.members.insert(child.element, at: index) }
        }
        result.children = set.children.map {
            FieldSetChild(
                element: $0.element, set: ensuringNamedFieldsAreMembers($0.set, type: type?.child(of: $0.element)))
        }
        return result
    }

    /// `value` as Kubernetes holds it once decoded into its Go type, as far as comparing needs: struct fields
    /// that are Go structs (not pointers; the OpenAPI gives them `default: {}`) are present, required lists and
    /// maps are present (null), and so is ObjectMeta's `creationTimestamp` (null). Whether a granular node was there before decides whether a writer that
    /// creates it owns the node itself (the `.` mark).
    static func zeroFilled(_ value: JSONValue, type: ApplyType, depth: Int = 0) -> JSONValue {
        guard depth < 64, case .typed(let node) = type else { return value }
        switch (node.kind, value) {
        case (.object, .object(let object)):
            var result = object
            let required = Set(node.required)
            for name in node.propertyNames {
                guard let field = node.property(name) else { continue }
                if let child = object[name] {
                    result[name] = zeroFilled(child, type: .typed(field), depth: depth + 1)
                } else if field.kind == .object, field.defaultValue == .object(JSONObject()) {
                    result[name] = zeroFilled(.object(JSONObject()), type: .typed(field), depth: depth + 1)
                } else if required.contains(name), field.kind == .list || field.kind == .map {
                    result[name] = .null
                }
            }
            // ObjectMeta's creationTimestamp is a Go struct too, written as null when zero.
            if node.definitionName == objectMetaDefinition, object["creationTimestamp"] == nil {
                result["creationTimestamp"] = .null
            }
            return .object(result)
        case (.list, .array(let items)):
            guard let itemType = node.items else { return value }
            return .array(items.map { zeroFilled($0, type: .typed(itemType), depth: depth + 1) })
        case (.map, .object(let object)):
            guard let values = node.mapValues else { return value }
            let entries = object.map {
                (key: $0.key, value: zeroFilled($0.value, type: .typed(values), depth: depth + 1))
            }
            return .object(JSONObject(uniqueEntries: entries))
        default:
            return value
        }
    }

    /// SMD's `value.Equals`: an integer equals the same number as a float; object key order does not matter.
    static func valuesEqual(_ left: JSONValue, _ right: JSONValue) -> Bool {
        switch (left, right) {
        case (.int(let a), .double(let b)): return Double(a) == b
        case (.double(let a), .int(let b)): return a == Double(b)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { valuesEqual($0, $1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            let byKey = Dictionary(b.entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            return a.allSatisfy { entry in byKey[entry.key].map { valuesEqual(entry.value, $0) } ?? false }
        default: return left == right
        }
    }
}
