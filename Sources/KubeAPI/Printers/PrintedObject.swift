import Foundation

/// Read-only access to an object being printed. Missing or mistyped fields read as Go's zero values ("" / 0 /
/// empty), because the upstream printers run on typed structs where absent fields are zero.
struct PrintedObject {
    let value: JSONValue

    init(_ value: JSONValue) { self.value = value }
    init(_ value: JSONValue?) { self.value = value ?? .null }

    subscript(path: String...) -> PrintedObject { PrintedObject(value.value(at: path[...])) }

    var isPresent: Bool { !value.isNull }
    var string: String { value.stringValue ?? "" }
    var optionalString: String? { value.stringValue }
    var int: Int64 { value.intValue ?? 0 }
    var optionalInt: Int64? { value.intValue }
    var optionalBool: Bool? { value.boolValue }
    var bool: Bool { value.boolValue ?? false }
    var array: [PrintedObject] { (value.arrayValue ?? []).map(PrintedObject.init) }
    var entries: [(key: String, value: JSONValue)] { value.objectValue?.entries ?? [] }
    /// Members of an object or elements of an array (Go's `len` of a map or slice).
    var count: Int { value.objectValue?.count ?? value.arrayValue?.count ?? 0 }
    /// The parsed timestamp; nil when absent, unparseable or Go's zero time (all print as "<unknown>").
    var timestamp: Date? {
        guard let date = value.stringValue.flatMap(KubeTimestamp.parse), !KubeTimestamp.isZero(date) else {
            return nil
        }
        return date
    }

    var name: String { self["metadata", "name"].string }
    var creationTimestamp: Date? { self["metadata", "creationTimestamp"].timestamp }
    var isBeingDeleted: Bool { self["metadata", "deletionTimestamp"].isPresent }

    func age(now: Date) -> String { HumanDuration.age(of: creationTimestamp, now: now) }

    /// The first element of `conditions` with the given `type`.
    func condition(_ type: String) -> PrintedObject? {
        array.first { $0["type"].string == type }
    }
}

/// Label and selector strings as apimachinery prints them.
enum LabelText {
    /// `labels.FormatLabels`: `a=1,b=2` sorted by key, or "<none>".
    static func formatLabels(_ labels: PrintedObject) -> String {
        let text = labels.entries
            .sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.stringValue ?? "")" }
            .joined(separator: ",")
        return text.isEmpty ? "<none>" : text
    }

    /// `metav1.LabelSelectorAsSelector(s).String()`: requirements sorted by key (`app=web,tier in (a,b)`); "" for a
    /// missing or empty selector; nil when an operator is not one of In, NotIn, Exists, DoesNotExist.
    static func selectorString(_ selector: PrintedObject) -> String? {
        var requirements: [(key: String, text: String)] = []
        for (key, value) in selector["matchLabels"].entries {
            requirements.append((key, "\(key)=\(value.stringValue ?? "")"))
        }
        for expression in selector["matchExpressions"].array {
            let key = expression["key"].string
            let values = expression["values"].array.map(\.string).sorted()
            let text: String
            switch expression["operator"].string {
            case "In": text = "\(key) in (\(values.joined(separator: ",")))"
            case "NotIn": text = "\(key) notin (\(values.joined(separator: ",")))"
            case "Exists": text = key
            case "DoesNotExist": text = "!\(key)"
            default: return nil
            }
            requirements.append((key, text))
        }
        return sortedByKey(requirements).map(\.text).joined(separator: ",")
    }

    /// `metav1.FormatLabelSelector`: the selector string, "<none>" when empty, "<error>" when invalid.
    static func formatLabelSelector(_ selector: PrintedObject) -> String {
        guard let text = selectorString(selector) else { return "<error>" }
        return text.isEmpty ? "<none>" : text
    }

    /// Container names and images joined by commas (`layoutContainerCells`).
    static func containerCells(_ containers: PrintedObject) -> (names: JSONValue, images: JSONValue) {
        let list = containers.array
        return (
            .string(list.map { $0["name"].string }.joined(separator: ",")),
            .string(list.map { $0["image"].string }.joined(separator: ","))
        )
    }

    private static func sortedByKey(_ items: [(key: String, text: String)]) -> [(key: String, text: String)] {
        items.enumerated()
            .sorted { $0.element.key != $1.element.key ? $0.element.key < $1.element.key : $0.offset < $1.offset }
            .map(\.element)
    }
}
