/// Merging an applied object into the live one and comparing two objects, as structured-merge-diff does
/// (`typed/merge.go` with its keep-the-applied-value rule, `typed/compare.go`).
extension ApplyWalks {
    /// What changed between two objects, path by path. Granular nodes count as added or removed when they appear
    /// or vanish; leaves (scalars, atomic lists and maps) also as modified.
    struct Comparison {
        var added = FieldSet()
        var modified = FieldSet()
        var removed = FieldSet()

        func excluding(_ fields: FieldSet) -> Comparison {
            guard !fields.isEmpty else { return self }
            return Comparison(
                added: added.subtractingRecursively(fields), modified: modified.subtractingRecursively(fields),
                removed: removed.subtractingRecursively(fields))
        }
    }

    /// `rhs` merged over `lhs`: the applied value wins at every leaf; granular maps merge key by key; associative
    /// lists merge element by element, ordered as SMD orders them. nil when neither side has anything.
    static func merge(_ lhs: JSONValue?, _ rhs: JSONValue?, type: ApplyType) -> JSONValue? {
        guard let value = rhs ?? lhs else { return nil }
        let atom = type.atom(for: value)
        if let lhs, let rhs, !sameForm(type.atom(for: lhs), atom) { return rhs }
        switch atom {
        case .leaf:
            return value
        case .map(let mapType):
            let left = entries(lhs)
            let right = entries(rhs)
            if left.isEmpty && right.isEmpty { return value }
            let rightByKey = Dictionary(right.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            let leftKeys = Set(left.map(\.key))
            var merged: [(key: String, value: JSONValue)] = []
            for (key, leftValue) in left {
                if let result = merge(leftValue, rightByKey[key], type: mapType.child(key).type) {
                    merged.append((key, result))
                }
            }
            for (key, rightValue) in right where !leftKeys.contains(key) {
                if let result = merge(nil, rightValue, type: mapType.child(key).type) { merged.append((key, result)) }
            }
            return merged.isEmpty ? nil : .object(JSONObject(uniqueEntries: merged))
        case .list(let shape):
            let left = lhs?.arrayValue ?? []
            let right = rhs?.arrayValue ?? []
            if left.isEmpty && right.isEmpty { return value }
            let merged = mergeList(left, right, shape: shape)
            return merged.isEmpty ? nil : .array(merged)
        }
    }

    /// SMD's `visitListItems` for merging: the applied elements in their order, live-only elements kept where
    /// they were relative to the elements both sides have.
    private static func mergeList(_ lhs: [JSONValue], _ rhs: [JSONValue], shape: ApplyListShape) -> [JSONValue] {
        var rhsElements: [FieldPathElement] = []
        var observedRHS: [FieldPathElement: JSONValue] = [:]
        for item in rhs {
            guard let element = try? shape.pathElement(for: item).get(), observedRHS[element] == nil else { continue }
            observedRHS[element] = item
            rhsElements.append(element)
        }
        // The live side may hold duplicates: one merged against the applied element stands for all of them.
        var lhsElements: [(element: FieldPathElement, item: JSONValue)] = []
        var observedLHS: [FieldPathElement: JSONValue] = [:]
        for item in lhs {
            guard let element = try? shape.pathElement(for: item).get() else { continue }
            observedLHS[element] = observedLHS[element] == nil ? item : .null
            lhsElements.append((element, item))
        }
        var sharedOrder = rhsElements.filter { observedLHS[$0] != nil }[...]
        var nextShared = sharedOrder.popFirst()
        var mergedRHS = Set<FieldPathElement>()
        var out: [JSONValue] = []
        func mergeItem(_ element: FieldPathElement, _ left: JSONValue?, _ right: JSONValue?) {
            if let result = merge(left, right, type: shape.element) { out.append(result) }
        }
        var (leftIndex, rightIndex) = (0, 0)
        while leftIndex < lhsElements.count || rightIndex < rhsElements.count {
            if leftIndex < lhsElements.count && rightIndex < rhsElements.count {
                let element = lhsElements[leftIndex].element
                if element == rhsElements[rightIndex] {
                    mergedRHS.insert(element)
                    mergeItem(element, observedLHS[element], observedRHS[element])
                    leftIndex += 1
                    rightIndex += 1
                    nextShared = sharedOrder.popFirst()
                    continue
                }
                if observedRHS[element] != nil, let shared = nextShared, shared != element {
                    leftIndex += 1
                    continue
                }
            }
            if leftIndex < lhsElements.count {
                let (element, item) = lhsElements[leftIndex]
                if observedRHS[element] == nil {
                    mergeItem(element, item, nil)
                    leftIndex += 1
                    continue
                } else if mergedRHS.contains(element) {
                    leftIndex += 1
                }
            }
            if rightIndex < rhsElements.count {
                let element = rhsElements[rightIndex]
                mergedRHS.insert(element)
                mergeItem(element, observedLHS[element], observedRHS[element])
                rightIndex += 1
                if let shared = nextShared, shared == element { nextShared = sharedOrder.popFirst() }
            }
        }
        return out
    }

    /// What changed from `lhs` to `rhs` (either may be absent), added to `comparison`.
    static func compare(
        _ lhs: JSONValue?, _ rhs: JSONValue?, type: ApplyType, path: inout ManagedFieldPath,
        into comparison: inout Comparison
    ) {
        guard let value = rhs ?? lhs else { return }
        let atom = type.atom(for: value)
        var isLeaf = false
        func compareLeaf() {
            isLeaf = true
            if lhs == nil {
                comparison.added.insert(path)
            } else if rhs == nil {
                comparison.removed.insert(path)
            } else if let lhs, let rhs, !valuesEqual(lhs, rhs) {
                comparison.modified.insert(path)
            }
        }
        if let lhs, rhs != nil, !sameForm(type.atom(for: lhs), atom) {
            compareLeaf()
            return
        }
        switch atom {
        case .leaf:
            compareLeaf()
        case .map(let mapType):
            let left = entries(lhs)
            let right = entries(rhs)
            if left.isEmpty && right.isEmpty {
                compareLeaf()
                break
            }
            let rightByKey = Dictionary(right.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            let leftKeys = Set(left.map(\.key))
            for (key, leftValue) in left {
                path.append(.field(key))
                compare(leftValue, rightByKey[key], type: mapType.child(key).type, path: &path, into: &comparison)
                path.removeLast()
            }
            for (key, rightValue) in right where !leftKeys.contains(key) {
                path.append(.field(key))
                compare(nil, rightValue, type: mapType.child(key).type, path: &path, into: &comparison)
                path.removeLast()
            }
        case .list(let shape):
            let left = lhs?.arrayValue ?? []
            let right = rhs?.arrayValue ?? []
            if left.isEmpty && right.isEmpty {
                compareLeaf()
                break
            }
            compareList(left, right, shape: shape, path: &path, into: &comparison)
        }
        if !isLeaf {
            if lhs == nil {
                comparison.added.insert(path)
            } else if rhs == nil {
                comparison.removed.insert(path)
            }
        }
    }

    /// SMD's `visitListItems` for comparing, duplicates included: an element duplicated on a side is compared whole.
    private static func compareList(
        _ lhs: [JSONValue], _ rhs: [JSONValue], shape: ApplyListShape, path: inout ManagedFieldPath,
        into comparison: inout Comparison
    ) {
        var allElements: [FieldPathElement] = []
        var leftValues: [FieldPathElement: [JSONValue]] = [:]
        var rightValues: [FieldPathElement: [JSONValue]] = [:]
        for item in lhs {
            guard let element = try? shape.pathElement(for: item).get() else { continue }
            if leftValues[element] == nil { allElements.append(element) }
            leftValues[element, default: []].append(item)
        }
        for item in rhs {
            guard let element = try? shape.pathElement(for: item).get() else { continue }
            if rightValues[element] == nil && leftValues[element] == nil { allElements.append(element) }
            rightValues[element, default: []].append(item)
        }
        for element in allElements {
            let left = leftValues[element] ?? []
            let right = rightValues[element] ?? []
            path.append(element)
            defer { path.removeLast() }
            switch (left.count, right.count) {
            case (0...1, 0...1):
                compare(left.first, right.first, type: shape.element, path: &path, into: &comparison)
            case (2..., 2...):
                let same = left.count == right.count && zip(left, right).allSatisfy { valuesEqual($0, $1) }
                if !same { comparison.modified.insert(path) }
            case (2..., _):
                if let first = right.first { compare(nil, first, type: shape.element, path: &path, into: &comparison) }
                comparison.removed.insert(path)
            default:
                if let first = left.first { compare(first, nil, type: shape.element, path: &path, into: &comparison) }
                comparison.added.insert(path)
            }
        }
    }

    /// Whether two values walk the same way (SMD merges and compares them field by field only then).
    private static func sameForm(_ left: ApplyAtom, _ right: ApplyAtom) -> Bool {
        switch (left, right) {
        case (.leaf, .leaf), (.map, .map), (.list, .list): true
        default: false
        }
    }

    /// An object's entries; none for null, absence or anything else.
    private static func entries(_ value: JSONValue?) -> [(key: String, value: JSONValue)] {
        value?.objectValue?.entries ?? []
    }
}
