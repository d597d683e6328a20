/// FieldsV1, the JSON form of a field set in `metadata.managedFields[].fieldsV1` (structured-merge-diff
/// `fieldpath/serialize.go`, `serialize-pe.go`):
///
///     {"f:metadata":{"f:labels":{".":{},"f:app":{}}},
///      "f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{}}}}}
///
/// Each key is a path element: `f:<field name>` (the name as it is), `k:<JSON object of the key fields, sorted by
/// name>`, `v:<JSON value>`, `i:<index>`. A member with nothing below it is `{}`; a member that also has paths
/// below it holds `".":{}` first. Keys are written in the set's order (fields, keys, values, indexes), which is
/// what makes the encoding byte-exact. Reading skips element types it does not know (as SMD does, for forward
/// compatibility) and takes a node with no entries (or only unknown ones) as a member.
extension ManagedFields {
    /// The FieldsV1 object for `set`, keys in SMD's order.
    public static func encode(_ set: FieldSet) -> JSONValue {
        .object(encodeContents(set, includeSelf: false))
    }

    /// The field set a FieldsV1 object describes.
    public static func decode(_ fieldsV1: JSONValue) throws(FieldsV1Error) -> FieldSet {
        switch fieldsV1 {
        case .null: return FieldSet()
        case .object(let object): return try decodeContents(object, depth: 0).children ?? FieldSet()
        default: throw FieldsV1Error("FieldsV1 is not a JSON object")
        }
    }

    /// The text of one element as a FieldsV1 key: `f:name`, `k:{"name":"c"}`, `v:"a"`, `i:0`.
    public static func encodedKey(_ element: FieldPathElement) -> String {
        switch element {
        case .field(let name): return "f:" + name
        case .key(let fields):
            var bytes = Array("k:{".utf8)
            for (offset, field) in fields.enumerated() {
                if offset > 0 { bytes.append(UInt8(ascii: ",")) }
                JSONValue.string(field.name).serialize(into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                SortedJSON.sortingKeys(field.value).serialize(into: &bytes)
            }
            bytes.append(UInt8(ascii: "}"))
            return String(decoding: bytes, as: UTF8.self)
        case .value(let value):
            return "v:" + String(decoding: SortedJSON.sortingKeys(value).serialized(), as: UTF8.self)
        case .index(let index): return "i:" + String(index)
        }
    }

    private static func encodeContents(_ set: FieldSet, includeSelf: Bool) -> JSONObject {
        var entries: [(key: String, value: JSONValue)] = []
        if includeSelf && !(set.members.isEmpty && set.children.isEmpty) {
            entries.append((".", .object(JSONObject())))
        }
        var (memberIndex, childIndex) = (0, 0)
        while memberIndex < set.members.count || childIndex < set.children.count {
            let order =
                memberIndex == set.members.count
                ? 1
                : childIndex == set.children.count
                    ? -1 : FieldPathElement.order(set.members[memberIndex], set.children[childIndex].element)
            if order < 0 {
                entries.append((encodedKey(set.members[memberIndex]), .object(JSONObject())))
                memberIndex += 1
            } else {
                let child = set.children[childIndex]
                let isMember = order == 0
                entries.append((encodedKey(child.element), .object(encodeContents(child.set, includeSelf: isMember))))
                if isMember { memberIndex += 1 }
                childIndex += 1
            }
        }
        return JSONObject(uniqueEntries: entries)
    }

    /// SMD's `readIterV1`: the children of one node (nil when it has none) and whether the node is a member.
    private static func decodeContents(
        _ object: JSONObject, depth: Int
    ) throws(FieldsV1Error) -> (children: FieldSet?, isMember: Bool) {
        guard depth < JSONValue.maximumNestingDepth else { throw FieldsV1Error("FieldsV1 nests too deeply") }
        var children: FieldSet?
        var isMember = false
        for (key, value) in object {
            if key == "." {
                isMember = true
                continue
            }
            guard let element = try decodeKey(key) else { continue }
            let childObject: JSONObject
            switch value {
            case .object(let object): childObject = object
            case .null: childObject = JSONObject()
            default: throw FieldsV1Error("the value of \(key) is not a JSON object")
            }
            let (grandchildren, childIsMember) = try decodeContents(childObject, depth: depth + 1)
            var level = children ?? FieldSet()
            if childIsMember {
                let (index, found) = FieldSet.search(level.members, element)
                if !found { level.members.insert(element, at: index) }
            }
            if let grandchildren {
                let (index, found) = FieldSet.searchChildren(level.children, element)
                if found {
                    level.children[index].set = grandchildren
                } else {
                    level.children.insert(FieldSetChild(element: element, set: grandchildren), at: index)
                }
            }
            children = level
        }
        return (children, children == nil ? true : isMember)
    }

    /// SMD's `DeserializePathElement`; nil for an element type it does not know.
    static func decodeKey(_ key: String) throws(FieldsV1Error) -> FieldPathElement? {
        let bytes = Array(key.utf8)
        guard bytes.count >= 2 else { throw FieldsV1Error("key must be 2 characters long: \(key)") }
        guard bytes[1] == UInt8(ascii: ":") else { throw FieldsV1Error("missing colon: \(key)") }
        let rest = String(decoding: bytes[2...], as: UTF8.self)
        switch bytes[0] {
        case UInt8(ascii: "f"):
            return .field(rest)
        case UInt8(ascii: "v"):
            return .value(try parseJSON(rest, key))
        case UInt8(ascii: "k"):
            guard case .object(let object) = try parseJSON(rest, key) else {
                throw FieldsV1Error("the key fields of \(key) are not a JSON object")
            }
            let fields = object.map { FieldPathKeyField(name: $0.key, value: $0.value) }
            return .key(ManagedFields.sortedKeyFields(fields))
        case UInt8(ascii: "i"):
            guard let index = Int(rest) else { throw FieldsV1Error("invalid index in \(key)") }
            return .index(index)
        default:
            return nil
        }
    }

    private static func parseJSON(_ text: String, _ key: String) throws(FieldsV1Error) -> JSONValue {
        do {
            return try JSONValue.parse(text)
        } catch {
            throw FieldsV1Error("parsing key as path element \(key): \(error)")
        }
    }

    /// Key fields in SMD's order: by name, bytewise (a stable sort, as `FieldList.Sort`).
    static func sortedKeyFields(_ fields: [FieldPathKeyField]) -> [FieldPathKeyField] {
        fields.enumerated().sorted { left, right in
            let order = FieldPathText.compareBytes(left.element.name, right.element.name)
            return order != 0 ? order < 0 : left.offset < right.offset
        }.map(\.element)
    }
}

/// FieldsV1 that does not decode: what is wrong with it.
public struct FieldsV1Error: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// JSON with object keys sorted bytewise, as Go writes a `map[string]interface{}` (FieldsV1 keys hold values
/// written that way, and so does the last-applied annotation).
enum SortedJSON {
    static func sortingKeys(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            let entries = object.entries
                .sorted { FieldPathText.compareBytes($0.key, $1.key) < 0 }
                .map { (key: $0.key, value: sortingKeys($0.value)) }
            return .object(JSONObject(uniqueEntries: entries))
        case .array(let elements): return .array(elements.map(sortingKeys))
        default: return value
        }
    }
}
