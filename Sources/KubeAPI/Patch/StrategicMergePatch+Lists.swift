/// Lists in a strategic merge patch: merging by key or as sets, the `$patch` list elements, and apimachinery's
/// ordering of the result (its `normalizeElementOrder`, `mergeSortedSlice` and Go's `sort.SliceStable`, so that
/// even unusual inputs come out in the order kube-apiserver gives them).
extension StrategicMergePatch {
    /// Whether a list's elements are objects, which decides between merging by key and merging as a set.
    enum ElementType { case map, other }

    /// `$setElementOrder/<list>`: merges that list now and puts it in the order given (the list's own patch, if
    /// any, is consumed with it).
    static func mergeOrderedLists(
        _ original: inout JSONObject, _ patch: inout JSONObject, schema: KubeSchemaNode?
    ) throws(StrategicMergePatchError) {
        for directiveKey in patch.keys where directiveKey.hasPrefix(setElementOrderPrefix) {
            guard let orderValue = patch.removeValue(forKey: directiveKey) else { continue }
            guard case .array(let order) = orderValue else {
                throw .badArgumentType(expected: .array([]), actual: orderValue)
            }
            let key = try listName(in: directiveKey, prefix: setElementOrderPrefix)
            let originalValue = original[key]
            let patchValue = patch[key]
            let originalList = try list(originalValue)
            let patchList = try list(patchValue)
            let (itemSchema, meta) = lookupSlice(schema, key)
            let strategy = try strategyOtherThanRetainKeys(meta.strategies)
            try validateOrder(of: patchList, against: order, mergeKey: meta.mergeKey)

            let merged: [JSONValue]
            switch (originalValue != nil, patchValue != nil) {
            case (true, false): merged = originalList
            case (false, true): merged = removingDirectives(.array(patchList))?.arrayValue ?? []
            case (true, true):
                merged = try mergeListField(
                    originalList, patchList, itemSchema: itemSchema, strategy: strategy, mergeKey: meta.mergeKey,
                    isDeleteList: false)
            case (false, false): continue
            }
            let (patchItems, serverOnlyItems) = try partition(merged, by: order, mergeKey: meta.mergeKey)
            let elementType = try elementType(of: [originalList, patchList])
            original[key] = .array(
                try normalizeElementOrder(
                    patchItems, serverOnlyItems, patchOrder: order, serverOrder: originalList, mergeKey: meta.mergeKey,
                    elementType: elementType))
            patch[key] = nil
        }
    }

    /// A field's list merged per its strategy: `merge` (or a `$deleteFromPrimitiveList`) merges, else the patch wins.
    static func mergeListField(
        _ original: [JSONValue], _ patch: [JSONValue], itemSchema: KubeSchemaNode?, strategy: String, mergeKey: String,
        isDeleteList: Bool
    ) throws(StrategicMergePatchError) -> [JSONValue] {
        guard strategy == "merge" || isDeleteList else { return patch }
        return try mergeList(original, patch, itemSchema: itemSchema, mergeKey: mergeKey, isDeleteList: isDeleteList)
    }

    static func mergeList(
        _ original: [JSONValue], _ patch: [JSONValue], itemSchema: KubeSchemaNode?, mergeKey: String,
        isDeleteList: Bool
    ) throws(StrategicMergePatchError) -> [JSONValue] {
        if original.isEmpty && patch.isEmpty { return original }
        let elementType = try elementType(of: [original, patch])
        var original = original
        var patch = patch
        let merged: [JSONValue]
        if elementType != .map {
            if isDeleteList { return original.filter { !patch.contains($0) } }
            merged = deduplicatingScalars(original + patch)
        } else {
            guard !mergeKey.isEmpty else {
                let elementKind = itemSchema == nil ? "interface" : itemSchema?.kind == .map ? "map" : "struct"
                throw .noMergeKeyDeclared(elementKind: elementKind)
            }
            (original, patch) = try applyingListDirectives(original, patch, mergeKey: mergeKey)
            merged = try mergingByKey(original, patch, mergeKey: mergeKey, itemSchema: itemSchema)
        }
        let (patchItems, serverOnlyItems) = try partition(merged, by: patch, mergeKey: mergeKey)
        return try normalizeElementOrder(
            patchItems, serverOnlyItems, patchOrder: patch, serverOrder: original, mergeKey: mergeKey,
            elementType: elementType)
    }

    /// The `$patch` elements of a keyed list: `delete` removes every element with that key from the original,
    /// `replace` makes the rest of the patch the whole list. Returns the original and the patch left to merge.
    static func applyingListDirectives(
        _ original: [JSONValue], _ patch: [JSONValue], mergeKey: String
    ) throws(StrategicMergePatchError) -> ([JSONValue], [JSONValue]) {
        var original = original
        var plainElements: [JSONValue] = []
        var replace = false
        for element in patch {
            guard case .object(let map) = element, let directive = map[directiveMarker] else {
                plainElements.append(element)
                continue
            }
            switch directive {
            case .string("delete"):
                guard let keyValue = map[mergeKey] else { throw .noMergeKey(element, mergeKey) }
                while let index = try indexOfMap(in: original, mergeKey: mergeKey, value: keyValue) {
                    original.remove(at: index)
                }
            case .string("replace"): replace = true
            case .string("merge"): throw .mergeDirectiveInList
            default: throw .unknownPatchType(directive, in: map)
            }
        }
        return replace ? (plainElements, []) : (original, plainElements)
    }

    /// Patch elements merged into the original element with the same key, or added at the end.
    static func mergingByKey(
        _ original: [JSONValue], _ patch: [JSONValue], mergeKey: String, itemSchema: KubeSchemaNode?
    ) throws(StrategicMergePatchError) -> [JSONValue] {
        var original = original
        for element in patch {
            guard case .object(let map) = element, let keyValue = map[mergeKey] else {
                throw .noMergeKey(element, mergeKey)
            }
            if let index = try indexOfMap(in: original, mergeKey: mergeKey, value: keyValue),
                case .object(let originalMap) = original[index]
            {
                original[index] = .object(try mergeMap(originalMap, map, schema: itemSchema))
            } else {
                original.append(element)
            }
        }
        return original
    }

    /// The first element whose `mergeKey` is `value`; every element before it must be an object.
    static func indexOfMap(
        in list: [JSONValue], mergeKey: String, value: JSONValue
    ) throws(StrategicMergePatchError) -> Int? {
        for (index, element) in list.enumerated() {
            guard case .object(let map) = element else { throw .notAMap(at: index) }
            if let candidate = map[mergeKey], candidate == value { return index }
        }
        return nil
    }

    /// apimachinery's `deduplicateScalars`, including the order it leaves (a duplicate's slot takes the last element).
    static func deduplicatingScalars(_ values: [JSONValue]) -> [JSONValue] {
        var values = values
        var last = values.count - 1
        var i = 0
        while i < last {
            var j = i + 1
            while j <= last {
                if values[i] == values[j] {
                    values[j] = values[last]
                    values.removeLast()
                    last -= 1
                    j -= 1
                }
                j += 1
            }
            i += 1
        }
        return values
    }

    /// Elements present in `order` (by merge key, or by value for primitives) and the others, each in list order.
    static func partition(
        _ list: [JSONValue], by order: [JSONValue], mergeKey: String
    ) throws(StrategicMergePatchError) -> (present: [JSONValue], absent: [JSONValue]) {
        var present: [JSONValue] = []
        var absent: [JSONValue] = []
        if mergeKey.isEmpty {
            let members = Set(order)
            for element in list {
                if members.contains(element) { present.append(element) } else { absent.append(element) }
            }
            return (present, absent)
        }
        for element in list {
            guard case .object(let map) = element else {
                throw .badArgumentType(expected: .object([:]), actual: element)
            }
            guard let keyValue = map[mergeKey] else { throw .noMergeKey(element, mergeKey) }
            if try indexOfMap(in: order, mergeKey: mergeKey, value: keyValue) != nil {
                present.append(element)
            } else {
                absent.append(element)
            }
        }
        return (present, absent)
    }

    /// Go's `sliceElementType` over several lists: all elements must be of one type, and not lists.
    static func elementType(of lists: [[JSONValue]]) throws(StrategicMergePatchError) -> ElementType {
        var first: JSONValue?
        for list in lists {
            for element in list {
                guard let previous = first else {
                    if case .array = element { throw .listOfLists }
                    first = element
                    continue
                }
                if !sameGoType(previous, element) { throw .elementTypesDiffer(lists) }
            }
        }
        guard let first else { throw .noElements }
        if case .object = first { return .map }
        return .other
    }

    /// `$setElementOrder`'s consistency check: the patch's elements (deletions aside) appear in the order list, in
    /// the same relative order.
    static func validateOrder(
        of patchList: [JSONValue], against order: [JSONValue], mergeKey: String
    ) throws(StrategicMergePatchError) {
        if order.isEmpty || patchList.isEmpty { return }
        let elements = mergeKey.isEmpty ? patchList : try splittingDeletions(patchList).kept
        var patchIndex = 0
        var orderIndex = 0
        while patchIndex < elements.count && orderIndex < order.count {
            if case .object(let map) = elements[patchIndex], map[directiveMarker] != nil {
                patchIndex += 1
                continue
            }
            if try mergeKeyValuesEqual(elements[patchIndex], order[orderIndex], mergeKey: mergeKey) { patchIndex += 1 }
            orderIndex += 1
        }
        if patchIndex < elements.count && orderIndex >= order.count {
            throw .orderMismatch(patch: patchList, order: order)
        }
    }

    static func mergeKeyValuesEqual(
        _ left: JSONValue, _ right: JSONValue, mergeKey: String
    ) throws(StrategicMergePatchError) -> Bool {
        if mergeKey.isEmpty { return left == right }
        guard case .object(let leftMap) = left else { throw .badArgumentType(expected: .object([:]), actual: left) }
        guard case .object(let rightMap) = right else { throw .badArgumentType(expected: .object([:]), actual: right) }
        guard let leftValue = leftMap[mergeKey] else { throw .noMergeKey(left, mergeKey) }
        guard let rightValue = rightMap[mergeKey] else { throw .noMergeKey(right, mergeKey) }
        return leftValue == rightValue
    }

    /// A keyed list split into its elements and its `$patch: delete` elements.
    static func splittingDeletions(
        _ list: [JSONValue]
    ) throws(StrategicMergePatchError) -> (kept: [JSONValue], deleted: [JSONValue]) {
        var kept: [JSONValue] = []
        var deleted: [JSONValue] = []
        for element in list {
            guard case .object(let map) = element else {
                throw .badArgumentType(expected: .object([:]), actual: element)
            }
            if map[directiveMarker] == .string("delete") { deleted.append(element) } else { kept.append(element) }
        }
        return (kept, deleted)
    }

    static func list(_ value: JSONValue?) throws(StrategicMergePatchError) -> [JSONValue] {
        guard let value else { return [] }
        guard case .array(let list) = value else { throw .badArgumentType(expected: .array([]), actual: value) }
        return list
    }
}
