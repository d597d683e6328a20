import Foundation
import GRPCWire
import KubeAPI

/// Encoding answers: JSON objects, Status errors, Tables, with kube-apiserver's content types.
enum Responses {
    static let jsonType = "application/json"
    static let tableType = "application/json;as=Table;v=v1;g=meta.k8s.io"

    static func json(_ value: JSONValue, status: Int = 200, contentType: String = jsonType) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: value.serialized())
    }

    static func error(_ error: KubeError) -> HTTPResponse {
        var response = json(error.status, status: error.code)
        if let seconds = error.retryAfterSeconds { response.headers.append(("Retry-After", String(seconds))) }
        return response
    }

    /// What the client's `Accept` asks for: a Table (kubectl get), or the object itself.
    enum Representation { case object, table(includeObject: String) }

    /// client-go's Table Accept: `application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;…`.
    static func representation(accept: String?, query: QueryParameters) -> Representation {
        guard let accept else { return .object }
        for part in accept.split(separator: ",") {
            let parameters = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parameters.first == "application/json", parameters.contains("as=Table"),
                parameters.contains("g=meta.k8s.io")
            else { continue }
            return .table(includeObject: query["includeObject"] ?? "Metadata")
        }
        return .object
    }

    /// A Table of `objects` (kube-apiserver's `asTable`): columns from the kind's printer, one row per object,
    /// each row carrying the object's metadata (`PartialObjectMetadata`) or the object, as asked.
    static func table(
        _ objects: [JSONValue], resource: ResourceType, listMetadata: JSONObject, includeObject: String,
        includeColumns: Bool = true, now: Date
    ) -> JSONValue {
        let printer =
            resource.definition.flatMap {
                TablePrinter.customResourcePrinter(definition: $0, version: resource.version)
            }
            ?? TablePrinter.printer(group: resource.group, resource: resource.plural)
        var table: JSONObject = ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": .object(listMetadata)]
        table["columnDefinitions"] = includeColumns ? .array(printer.columnDefinitions.map(\.jsonValue)) : .null
        table["rows"] = .array(
            objects.map { object in
                let row = printer.row(for: object, now: now)
                var result: JSONObject = ["cells": .array(row.cells)]
                if !row.conditions.isEmpty { result["conditions"] = .array(row.conditions) }
                switch includeObject {
                case "None": break
                case "Object": result["object"] = object
                default: result["object"] = partialMetadata(object)
                }
                return .object(result)
            })
        return .object(table)
    }

    /// The same Table as bytes, its rows rendered and encoded on every core (a 10,000-pod Table is mostly this).
    static func tableBytes(
        _ objects: [JSONValue], resource: ResourceType, listMetadata: JSONObject, includeObject: String, now: Date
    ) async -> [UInt8] {
        let empty = table([], resource: resource, listMetadata: listMetadata, includeObject: includeObject, now: now)
        let rows =
            (try? await ParallelMap.map(objects) { object -> [UInt8] in
                guard
                    let row = table(
                        [object], resource: resource, listMetadata: listMetadata, includeObject: includeObject,
                        includeColumns: false, now: now)["rows"]?.arrayValue?.first
                else { return [] }
                return row.serialized()
            }) ?? []
        return joined(rows, into: empty)
    }

    /// An empty Table (`{…,"rows":[]}`, `rows` last) with encoded rows put between its brackets.
    static func joined(_ rows: [[UInt8]], into empty: JSONValue) -> [UInt8] {
        var bytes = empty.serialized()
        guard bytes.count >= 3, bytes.suffix(3) == Array("[]}".utf8) else { return bytes }
        bytes.removeLast(2)
        bytes.reserveCapacity(rows.reduce(bytes.count + 2) { $0 + $1.count + 1 })
        for (index, row) in rows.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += row
        }
        bytes += Array("]}".utf8)
        return bytes
    }

    /// A list's `metadata`: the revision it was read at, and where the next page starts.
    static func listMetadata(_ result: ObjectRegistry.ListResult) -> JSONObject {
        var metadata: JSONObject = ["resourceVersion": .string(String(result.revision))]
        if let token = result.continueToken { metadata["continue"] = .string(token) }
        if let remaining = result.remainingItemCount, remaining > 0 { metadata["remainingItemCount"] = .int(remaining) }
        return metadata
    }

    static func partialMetadata(_ object: JSONValue) -> JSONValue {
        [
            "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": object["metadata"] ?? .object(JSONObject()),
        ]
    }
}
