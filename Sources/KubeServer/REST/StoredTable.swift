import Foundation
import GRPCWire
import KubeAPI

/// A Table of a whole collection written from the stored bytes (kubectl's `get` of many objects): each object is
/// parsed without its `metadata.managedFields` (a deep tree of small objects, most of the parsing work and none
/// of the printing), printed, and its row carries the stored `metadata` bytes as they are (managed fields
/// included, as kube-apiserver's `PartialObjectMetadata` rows do). Objects whose bytes do not scan as expected go
/// the ordinary way.
enum StoredTable {
    static func bytes(
        _ items: [[UInt8]], resource: ResourceType, listMetadata: JSONObject, includeObject: String, now: Date
    ) async -> [UInt8] {
        let empty = Responses.table(
            [], resource: resource, listMetadata: listMetadata, includeObject: includeObject, now: now)
        let printer =
            resource.definition.flatMap {
                TablePrinter.customResourcePrinter(definition: $0, version: resource.version)
            }
            ?? TablePrinter.printer(group: resource.group, resource: resource.plural)
        let rows =
            (try? await ParallelMap.map(items) { item in
                row(item, printer: printer, resource: resource, includeObject: includeObject, now: now)
            }) ?? []
        return Responses.joined(rows, into: empty)
    }

    private static func row(
        _ item: [UInt8], printer: ResourcePrinter, resource: ResourceType, includeObject: String, now: Date
    ) -> [UInt8] {
        guard let metadata = JSONScan.member("metadata", of: item, in: 0..<item.count) else {
            return fallbackRow(item, resource: resource, includeObject: includeObject, now: now)
        }
        var printable = item
        if let managed = JSONScan.member("managedFields", of: item, in: metadata) {
            printable = Array(item[..<managed.lowerBound]) + Array("[]".utf8) + Array(item[managed.upperBound...])
        }
        guard let object = try? JSONValue.parse(printable) else {
            return fallbackRow(item, resource: resource, includeObject: includeObject, now: now)
        }
        let content = printer.row(for: object, now: now)
        var row = Array("{\"cells\":".utf8)
        JSONValue.array(content.cells).serialize(into: &row)
        if !content.conditions.isEmpty {
            row += Array(",\"conditions\":".utf8)
            JSONValue.array(content.conditions).serialize(into: &row)
        }
        switch includeObject {
        case "None":
            break
        case "Object":
            row += Array(",\"object\":".utf8) + item
        default:
            row += Array(
                ",\"object\":{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\",\"metadata\":".utf8)
            row += item[metadata]
            row.append(UInt8(ascii: "}"))
        }
        row.append(UInt8(ascii: "}"))
        return row
    }

    private static func fallbackRow(_ item: [UInt8], resource: ResourceType, includeObject: String, now: Date)
        -> [UInt8]
    {
        guard let object = try? JSONValue.parse(item),
            let row = Responses.table(
                [object], resource: resource, listMetadata: JSONObject(), includeObject: includeObject,
                includeColumns: false, now: now)["rows"]?.arrayValue?.first
        else { return Array("{\"cells\":[]}".utf8) }
        return row.serialized()
    }
}

/// Finding a member's value in JSON bytes without parsing them: enough to cut a stored object apart.
enum JSONScan {
    /// The byte range of the value of member `key` of the object spanning `range` (which starts with `{`).
    static func member(_ key: String, of bytes: [UInt8], in range: Range<Int>) -> Range<Int>? {
        let wanted = Array(key.utf8)
        var index = range.lowerBound
        guard index < range.upperBound, bytes[index] == UInt8(ascii: "{") else { return nil }
        index += 1
        while index < range.upperBound {
            index = skipSpace(bytes, index)
            guard index < range.upperBound else { return nil }
            if bytes[index] == UInt8(ascii: "}") { return nil }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "\""), let keyEnd = skipString(bytes, index) else { return nil }
            let name = bytes[(index + 1)..<(keyEnd - 1)]
            index = skipSpace(bytes, keyEnd)
            guard index < range.upperBound, bytes[index] == UInt8(ascii: ":") else { return nil }
            let valueStart = skipSpace(bytes, index + 1)
            guard let valueEnd = skipValue(bytes, valueStart) else { return nil }
            if name.elementsEqual(wanted) { return valueStart..<valueEnd }
            index = valueEnd
        }
        return nil
    }

    private static func skipSpace(_ bytes: [UInt8], _ start: Int) -> Int {
        var index = start
        while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        return index
    }

    /// The index after the string starting at `start` (a `"`).
    private static func skipString(_ bytes: [UInt8], _ start: Int) -> Int? {
        var index = start + 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index + 1
            default: index += 1
            }
        }
        return nil
    }

    /// The index after the value starting at `start`.
    private static func skipValue(_ bytes: [UInt8], _ start: Int) -> Int? {
        guard start < bytes.count else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return skipString(bytes, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var index = start
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard let end = skipString(bytes, index) else { return nil }
                    index = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return index + 1 }
                default:
                    break
                }
                index += 1
            }
            return nil
        default:
            var index = start
            while index < bytes.count,
                ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(
                    bytes[index])
            {
                index += 1
            }
            return index
        }
    }
}
