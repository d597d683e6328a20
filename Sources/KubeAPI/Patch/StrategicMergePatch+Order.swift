/// The order of a merged list, as apimachinery decides it: the patch's elements sorted by the patch's (or
/// `$setElementOrder`'s) order, the live list's other elements by the live order, then the two interleaved so that
/// each keeps its relative order. Elements new to the live list come before live elements still to place, so an
/// element added by a patch without `$setElementOrder` lands first.
extension StrategicMergePatch {
    static func normalizeElementOrder(
        _ patchItems: [JSONValue], _ serverOnlyItems: [JSONValue], patchOrder: [JSONValue], serverOrder: [JSONValue],
        mergeKey: String, elementType: ElementType
    ) throws(StrategicMergePatchError) -> [JSONValue] {
        let patchItems = try sortedByOrder(patchItems, order: patchOrder, mergeKey: mergeKey, elementType: elementType)
        let serverOnlyItems = try sortedByOrder(
            serverOnlyItems, order: serverOrder, mergeKey: mergeKey, elementType: elementType)
        return interleaved(
            serverOnlyItems, patchItems, serverOrder: serverOrder, mergeKey: mergeKey, elementType: elementType)
    }

    /// apimachinery's `normalizeSliceOrder`: a stable sort by position in `order`; `$patch: delete` elements last.
    static func sortedByOrder(
        _ items: [JSONValue], order: [JSONValue], mergeKey: String, elementType: ElementType
    ) throws(StrategicMergePatchError) -> [JSONValue] {
        var items = items
        var deletions: [JSONValue] = []
        if elementType == .map {
            for element in items + order {
                guard case .object(let map) = element else {
                    throw .badArgumentType(expected: .object([:]), actual: element)
                }
                if map[mergeKey] == nil { throw .noMergeKey(element, mergeKey) }
            }
            (items, deletions) = try splittingDeletions(items)
        }
        let positions = Positions(order, mergeKey: mergeKey, elementType: elementType)
        // Upstream's comparison answers "less" whenever either element is missing from the order; keeping its
        // exact sort keeps the exact result in those cases too.
        goStableSort(&items) { left, right in
            if let leftPosition = positions[left], let rightPosition = positions[right] {
                return leftPosition < rightPosition
            }
            return true
        }
        return items + deletions
    }

    /// apimachinery's `mergeSortedSlice`: takes from `left` (live-only elements) while its next element sits
    /// before `right`'s next in the live order, else from `right` (patch elements).
    static func interleaved(
        _ left: [JSONValue], _ right: [JSONValue], serverOrder: [JSONValue], mergeKey: String, elementType: ElementType
    ) -> [JSONValue] {
        let positions = Positions(serverOrder, mergeKey: mergeKey, elementType: elementType)
        var result: [JSONValue] = []
        result.reserveCapacity(left.count + right.count)
        var leftIndex = 0
        var rightIndex = 0
        while leftIndex < left.count || rightIndex < right.count {
            guard leftIndex < left.count else {
                result.append(right[rightIndex])
                rightIndex += 1
                continue
            }
            guard rightIndex < right.count else {
                result.append(left[leftIndex])
                leftIndex += 1
                continue
            }
            if let leftPosition = positions[left[leftIndex]], let rightPosition = positions[right[rightIndex]],
                leftPosition < rightPosition
            {
                result.append(left[leftIndex])
                leftIndex += 1
            } else {
                result.append(right[rightIndex])
                rightIndex += 1
            }
        }
        return result
    }

    /// The first position of each element (by merge key for objects, by value otherwise) in an order list.
    struct Positions {
        private var first: [JSONValue: Int] = [:]
        private let mergeKey: String
        private let elementType: ElementType

        init(_ order: [JSONValue], mergeKey: String, elementType: ElementType) {
            self.mergeKey = mergeKey
            self.elementType = elementType
            for (position, element) in order.enumerated() where first[identity(of: element)] == nil {
                first[identity(of: element)] = position
            }
        }

        /// What upstream compares: the merge key's value (null when absent or not an object), or the element.
        private func identity(of element: JSONValue) -> JSONValue {
            guard elementType == .map else { return element }
            return element.objectValue?[mergeKey] ?? .null
        }

        subscript(element: JSONValue) -> Int? { first[identity(of: element)] }
    }

    /// Go's `sort.SliceStable` step for step (insertion sort in blocks of 20, then SymMerge), so that a comparison
    /// that is not a strict order still yields Go's result.
    static func goStableSort(_ data: inout [JSONValue], less: (JSONValue, JSONValue) -> Bool) {
        let count = data.count
        var blockSize = 20
        var start = 0
        var end = blockSize
        while end <= count {
            insertionSort(&data, start, end, less)
            start = end
            end += blockSize
        }
        insertionSort(&data, start, count, less)
        while blockSize < count {
            start = 0
            end = 2 * blockSize
            while end <= count {
                symMerge(&data, start, start + blockSize, end, less)
                start = end
                end += 2 * blockSize
            }
            let middle = start + blockSize
            if middle < count { symMerge(&data, start, middle, count, less) }
            blockSize *= 2
        }
    }

    private static func insertionSort(
        _ data: inout [JSONValue], _ start: Int, _ end: Int, _ less: (JSONValue, JSONValue) -> Bool
    ) {
        guard start + 1 < end else { return }
        for i in (start + 1)..<end {
            var j = i
            while j > start && less(data[j], data[j - 1]) {
                data.swapAt(j, j - 1)
                j -= 1
            }
        }
    }

    /// Merges the sorted runs `data[a..<m]` and `data[m..<b]` (Kim and Kutzner's SymMerge, as Go writes it).
    private static func symMerge(
        _ data: inout [JSONValue], _ a: Int, _ m: Int, _ b: Int, _ less: (JSONValue, JSONValue) -> Bool
    ) {
        if m - a == 1 {
            var i = m
            var j = b
            while i < j {
                let h = (i + j) >> 1
                if less(data[h], data[a]) { i = h + 1 } else { j = h }
            }
            var k = a
            while k < i - 1 {
                data.swapAt(k, k + 1)
                k += 1
            }
            return
        }
        if b - m == 1 {
            var i = a
            var j = m
            while i < j {
                let h = (i + j) >> 1
                if !less(data[m], data[h]) { i = h + 1 } else { j = h }
            }
            var k = m
            while k > i {
                data.swapAt(k, k - 1)
                k -= 1
            }
            return
        }
        let middle = (a + b) >> 1
        let n = middle + m
        var start: Int
        var r: Int
        if m > middle {
            start = n - b
            r = middle
        } else {
            start = a
            r = m
        }
        let p = n - 1
        while start < r {
            let c = (start + r) >> 1
            if !less(data[p - c], data[c]) { start = c + 1 } else { r = c }
        }
        let end = n - start
        if start < m && m < end { rotate(&data, start, m, end) }
        if a < start && start < middle { symMerge(&data, a, start, middle, less) }
        if middle < end && end < b { symMerge(&data, middle, end, b, less) }
    }

    /// Swaps the blocks `data[a..<m]` and `data[m..<b]`.
    private static func rotate(_ data: inout [JSONValue], _ a: Int, _ m: Int, _ b: Int) {
        var i = m - a
        var j = b - m
        while i != j {
            if i > j {
                swapRange(&data, m - i, m, j)
                i -= j
            } else {
                swapRange(&data, m - i, m + j - i, i)
                j -= i
            }
        }
        swapRange(&data, m - i, m, i)
    }

    private static func swapRange(_ data: inout [JSONValue], _ a: Int, _ b: Int, _ count: Int) {
        for offset in 0..<count { data.swapAt(a + offset, b + offset) }
    }
}
