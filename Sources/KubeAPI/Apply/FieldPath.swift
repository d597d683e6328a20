/// Field paths as structured-merge-diff (sigs.k8s.io/structured-merge-diff, `fieldpath/element.go`, `path.go`)
/// names the parts of an object: a struct field or map key, the element of an associative list picked by its key
/// fields, the element of a set picked by its value, or the element of an atomic list picked by its index.
///
/// Elements have SMD's total order (fields, then keys, then values, then indexes; names compared bytewise, values
/// with `value.Compare`, where an integer and a float compare as numbers). Sets keep their elements in that order,
/// and FieldsV1 is written in it.
public enum FieldPathElement: Sendable, CustomStringConvertible {
    /// A struct field or map key: `f:name` in FieldsV1, `.name` in a path.
    case field(String)
    /// An associative list's element by its key fields, sorted by name: `k:{"name":"c"}`, `[name="c"]`.
    case key([FieldPathKeyField])
    /// A set's element by its value: `v:"a"`, `[="a"]`.
    case value(JSONValue)
    /// An atomic list's element by position: `i:0`, `[0]` (atomic lists are leaves, so rarely seen).
    case index(Int)

    /// The element as `Path.String()` prints it in conflict messages: `.spec`, `[name="c"]`, `[="a"]`, `[0]`.
    public var description: String {
        switch self {
        case .field(let name): return "." + name
        case .key(let fields):
            return "[" + fields.map { "\($0.name)=\(FieldPathText.goValueText($0.value))" }.joined(separator: ",") + "]"
        case .value(let value): return "[=\(FieldPathText.goValueText(value))]"
        case .index(let index): return "[\(index)]"
        }
    }

    /// SMD's `PathElement.Compare`: -1, 0 or 1.
    static func order(_ left: FieldPathElement, _ right: FieldPathElement) -> Int {
        switch (left, right) {
        case (.field(let a), .field(let b)): return FieldPathText.compareBytes(a, b)
        case (.field, _): return -1
        case (_, .field): return 1
        case (.key(let a), .key(let b)): return compareKeys(a, b)
        case (.key, _): return -1
        case (_, .key): return 1
        case (.value(let a), .value(let b)): return compareValues(a, b)
        case (.value, _): return -1
        case (_, .value): return 1
        case (.index(let a), .index(let b)): return a < b ? -1 : (a == b ? 0 : 1)
        }
    }

    private static func compareKeys(_ left: [FieldPathKeyField], _ right: [FieldPathKeyField]) -> Int {
        for index in 0..<max(left.count, right.count) {
            if index >= left.count { return -1 }
            if index >= right.count { return 1 }
            let names = FieldPathText.compareBytes(left[index].name, right[index].name)
            if names != 0 { return names }
            let values = compareValues(left[index].value, right[index].value)
            if values != 0 { return values }
        }
        return 0
    }

    /// SMD's `value.Compare`: numbers (integers and floats compare as numbers) before integers, then strings,
    /// booleans, lists, maps and null.
    static func compareValues(_ left: JSONValue, _ right: JSONValue) -> Int {
        func rank(_ value: JSONValue) -> Int {
            switch value {
            case .double: 0
            case .int: 1
            case .string: 2
            case .bool: 3
            case .array: 4
            case .object: 5
            case .null: 6
            }
        }
        switch (left, right) {
        case (.double(let a), .double(let b)): return compareNumbers(a, b)
        case (.double(let a), .int(let b)): return compareNumbers(a, Double(b))
        case (.int(let a), .double(let b)): return compareNumbers(Double(a), b)
        case (.int(let a), .int(let b)): return a < b ? -1 : (a == b ? 0 : 1)
        case (.string(let a), .string(let b)): return FieldPathText.compareBytes(a, b)
        case (.bool(let a), .bool(let b)): return a == b ? 0 : (a ? 1 : -1)
        case (.array(let a), .array(let b)):
            for index in 0..<max(a.count, b.count) {
                if index >= a.count { return -1 }
                if index >= b.count { return 1 }
                let element = compareValues(a[index], b[index])
                if element != 0 { return element }
            }
            return 0
        case (.object(let a), .object(let b)): return compareObjects(a, b)
        case (.null, .null): return 0
        default:
            let (a, b) = (rank(left), rank(right))
            return a < b ? -1 : 1
        }
    }

    private static func compareNumbers(_ left: Double, _ right: Double) -> Int {
        left < right ? -1 : (left == right ? 0 : 1)
    }

    /// `value.MapCompare`: keys in lexical order, a key only one side has decides (the side lacking it is greater).
    private static func compareObjects(_ left: JSONObject, _ right: JSONObject) -> Int {
        let keys = Set(left.keys).union(right.keys).sorted { FieldPathText.compareBytes($0, $1) < 0 }
        for key in keys {
            guard let leftValue = left[key] else { return 1 }
            guard let rightValue = right[key] else { return -1 }
            let result = compareValues(leftValue, rightValue)
            if result != 0 { return result }
        }
        return 0
    }
}

extension FieldPathElement: Hashable, Comparable {
    /// Equal as SMD's `PathElement.Equals` sees it (an integer key equals the same number as a float).
    public static func == (left: FieldPathElement, right: FieldPathElement) -> Bool { order(left, right) == 0 }
    public static func < (left: FieldPathElement, right: FieldPathElement) -> Bool { order(left, right) < 0 }

    /// Consistent with `==`: numbers hash as doubles, objects by size only (their equality ignores key order).
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .field(let name):
            hasher.combine(0)
            hasher.combine(name)
        case .key(let fields):
            hasher.combine(1)
            for field in fields {
                hasher.combine(field.name)
                Self.hashValue(field.value, into: &hasher)
            }
        case .value(let value):
            hasher.combine(2)
            Self.hashValue(value, into: &hasher)
        case .index(let index):
            hasher.combine(3)
            hasher.combine(index)
        }
    }

    private static func hashValue(_ value: JSONValue, into hasher: inout Hasher) {
        switch value {
        case .null: hasher.combine(0)
        case .bool(let bool): hasher.combine(bool)
        case .int(let int): hasher.combine(Double(int))
        case .double(let double): hasher.combine(double)
        case .string(let string): hasher.combine(string)
        case .array(let elements):
            hasher.combine(elements.count)
            for element in elements { hashValue(element, into: &hasher) }
        case .object(let object): hasher.combine(object.count)
        }
    }
}

/// One key field of an associative list element: `name` and its value.
public struct FieldPathKeyField: Sendable, Equatable {
    public var name: String
    public var value: JSONValue

    public init(name: String, value: JSONValue) {
        self.name = name
        self.value = value
    }
}

/// A path from the object's root: `[.field("spec"), .field("replicas")]`.
public typealias ManagedFieldPath = [FieldPathElement]

/// Text helpers matching Go: byte order for strings, `fmt`'s `%q` and `%v` for values in paths.
enum FieldPathText {
    /// Go's `strings.Compare`: bytewise on UTF-8.
    static func compareBytes(_ left: String, _ right: String) -> Int {
        if left == right { return 0 }
        return left.utf8.lexicographicallyPrecedes(right.utf8) ? -1 : 1
    }

    /// `.spec.template.spec.containers[name="c"].image`, as `fieldpath.Path.String()` prints it.
    static func pathText(_ path: ManagedFieldPath) -> String {
        path.map(\.description).joined()
    }

    /// `value.ToString`: strings quoted as Go's `%q`, numbers and booleans as `%v`, `null`.
    static func goValueText(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let bool): return bool ? "true" : "false"
        case .int(let int): return String(int)
        case .double(let double):
            // Go prints `%v` of a float64 like JSON but with a padded exponent; keys are rarely floats.
            return String(decoding: JSONValue.double(double).serialized(), as: UTF8.self)
        case .string(let string): return goQuoted(string)
        case .array(let elements): return "[" + elements.map(goValueText).joined(separator: ",") + "]"
        case .object(let object): return object.map { "\($0.key)=\(goValueText($0.value))" }.joined()
        }
    }

    /// Go's `strconv.Quote`, as `%q` prints keys and names in SMD's messages.
    static func goQuoted(_ string: String) -> String { GoFormat.quoted(string) }
}
