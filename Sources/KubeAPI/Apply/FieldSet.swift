/// A set of field paths, as structured-merge-diff keeps one (`fieldpath/set.go`): a tree whose every level holds
/// the elements that are themselves in the set (`members`) and the elements with paths below them (`children`),
/// each kept sorted. A path can be both a member and a prefix of others: in FieldsV1 that is the `.` mark, and it
/// says the node itself (a list element, a map) is owned, not only what is inside it.
///
/// The operations are SMD's, with its exact semantics: `subtracting` removes paths one by one (a member of the
/// other set does not remove the paths below it), `subtractingRecursively` removes whole subtrees.
public struct FieldSet: Sendable, Equatable, CustomStringConvertible {
    /// Elements whose path (this level's prefix plus the element) is in the set; sorted, distinct.
    var members: [FieldPathElement] = []
    /// Elements with paths below them; sorted by element, distinct.
    var children: [FieldSetChild] = []

    public init() {}

    public init(paths: [ManagedFieldPath]) {
        for path in paths { insert(path) }
    }

    /// A set of paths made of field names only: `FieldSet(fieldNames: [["status"], ["metadata", "labels"]])`.
    public init(fieldNames: [[String]]) {
        self.init(paths: fieldNames.map { $0.map(FieldPathElement.field) })
    }

    /// Whether no path is in the set (children left empty by an operation do not count).
    public var isEmpty: Bool { members.isEmpty && children.allSatisfy { $0.set.isEmpty } }

    /// The paths in the set, in SMD's iteration order: a level's members, then its children's paths.
    public var paths: [ManagedFieldPath] {
        var result: [ManagedFieldPath] = []
        appendPaths(prefix: [], to: &result)
        return result
    }

    /// One path a line, as `Set.String()` prints them.
    public var description: String { paths.map(FieldPathText.pathText).joined(separator: "\n") }

    public func contains(_ path: ManagedFieldPath) -> Bool {
        guard let last = path.last else { return false }
        var level = self
        for element in path.dropLast() {
            guard let child = level.child(element) else { return false }
            level = child
        }
        return Self.search(level.members, last).found
    }

    public mutating func insert(_ path: ManagedFieldPath) {
        guard let first = path.first else { return }
        if path.count == 1 {
            let (index, found) = Self.search(members, first)
            if !found { members.insert(first, at: index) }
            return
        }
        let (index, found) = Self.searchChildren(children, first)
        if !found { children.insert(FieldSetChild(element: first, set: FieldSet()), at: index) }
        children[index].set.insert(Array(path.dropFirst()))
    }

    /// The paths below `element`, without it: SMD's `WithPrefix`.
    public func withPrefix(_ element: FieldPathElement) -> FieldSet { child(element) ?? FieldSet() }

    public func union(_ other: FieldSet) -> FieldSet {
        var result = FieldSet()
        result.members = Self.mergeSorted(members, other.members, keepLeft: true, keepRight: true, keepBoth: true)
        var (i, j) = (0, 0)
        while i < children.count || j < other.children.count {
            let order =
                i == children.count
                ? 1
                : j == other.children.count
                    ? -1 : FieldPathElement.order(children[i].element, other.children[j].element)
            if order < 0 {
                result.children.append(children[i])
                i += 1
            } else if order > 0 {
                result.children.append(other.children[j])
                j += 1
            } else {
                result.children.append(
                    FieldSetChild(element: children[i].element, set: children[i].set.union(other.children[j].set)))
                i += 1
                j += 1
            }
        }
        return result
    }

    public func intersection(_ other: FieldSet) -> FieldSet {
        var result = FieldSet()
        result.members = Self.mergeSorted(members, other.members, keepLeft: false, keepRight: false, keepBoth: true)
        for child in children {
            guard let otherChild = other.child(child.element) else { continue }
            let common = child.set.intersection(otherChild)
            if !common.isEmpty { result.children.append(FieldSetChild(element: child.element, set: common)) }
        }
        return result
    }

    /// SMD's `Difference`: each path of `other` removed on its own.
    public func subtracting(_ other: FieldSet) -> FieldSet {
        var result = FieldSet()
        result.members = Self.mergeSorted(members, other.members, keepLeft: true, keepRight: false, keepBoth: false)
        for child in children {
            guard let otherChild = other.child(child.element) else {
                result.children.append(child)
                continue
            }
            let rest = child.set.subtracting(otherChild)
            if !rest.isEmpty { result.children.append(FieldSetChild(element: child.element, set: rest)) }
        }
        return result
    }

    /// SMD's `RecursiveDifference`: a member of `other` removes that path and everything below it.
    public func subtractingRecursively(_ other: FieldSet) -> FieldSet {
        var result = FieldSet()
        result.members = Self.mergeSorted(members, other.members, keepLeft: true, keepRight: false, keepBoth: false)
        for child in children where !Self.search(other.members, child.element).found {
            guard let otherChild = other.child(child.element) else {
                result.children.append(child)
                continue
            }
            let rest = child.set.subtractingRecursively(otherChild)
            if !rest.isEmpty { result.children.append(FieldSetChild(element: child.element, set: rest)) }
        }
        return result
    }

    /// The members that have nothing below them: SMD's `Leaves`.
    public var leaves: FieldSet {
        var result = FieldSet()
        result.members = members.filter { Self.searchChildren(children, $0).found == false }
        result.children = children.map { FieldSetChild(element: $0.element, set: $0.set.leaves) }
        return result
    }

    func child(_ element: FieldPathElement) -> FieldSet? {
        let (index, found) = Self.searchChildren(children, element)
        return found ? children[index].set : nil
    }

    private func appendPaths(prefix: ManagedFieldPath, to result: inout [ManagedFieldPath]) {
        for member in members { result.append(prefix + [member]) }
        for child in children { child.set.appendPaths(prefix: prefix + [child.element], to: &result) }
    }

    static func search(_ elements: [FieldPathElement], _ element: FieldPathElement) -> (index: Int, found: Bool) {
        var (low, high) = (0, elements.count)
        while low < high {
            let middle = (low + high) / 2
            let order = FieldPathElement.order(elements[middle], element)
            if order == 0 { return (middle, true) }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }

    static func searchChildren(_ children: [FieldSetChild], _ element: FieldPathElement) -> (index: Int, found: Bool) {
        var (low, high) = (0, children.count)
        while low < high {
            let middle = (low + high) / 2
            let order = FieldPathElement.order(children[middle].element, element)
            if order == 0 { return (middle, true) }
            if order < 0 { low = middle + 1 } else { high = middle }
        }
        return (low, false)
    }

    /// Two sorted element lists walked together, keeping what is only left, only right, or in both.
    private static func mergeSorted(
        _ left: [FieldPathElement], _ right: [FieldPathElement], keepLeft: Bool, keepRight: Bool, keepBoth: Bool
    ) -> [FieldPathElement] {
        var result: [FieldPathElement] = []
        var (i, j) = (0, 0)
        while i < left.count || j < right.count {
            let order = i == left.count ? 1 : j == right.count ? -1 : FieldPathElement.order(left[i], right[j])
            if order < 0 {
                if keepLeft { result.append(left[i]) }
                i += 1
            } else if order > 0 {
                if keepRight { result.append(right[j]) }
                j += 1
            } else {
                if keepBoth { result.append(left[i]) }
                i += 1
                j += 1
            }
        }
        return result
    }
}

/// One child of a `FieldSet` level: an element and the paths below it.
struct FieldSetChild: Sendable, Equatable {
    var element: FieldPathElement
    var set: FieldSet
}
