import Foundation

/// How a `meta.k8s.io/v1 Table` response is assembled (apiserver `endpoints/handlers/response.go` `asTable`).
public struct TableRenderOptions: Sendable, Equatable {
    /// The `includeObject` query parameter: what each row's `object` carries.
    public enum IncludeObject: String, Sendable, Equatable {
        /// `"object": null`.
        case none = "None"
        /// The default: a `PartialObjectMetadata` with the object's metadata (kubectl reads namespace and labels
        /// from it for `-A`, `--show-labels` and `-L`).
        case metadata = "Metadata"
        /// The whole object (kubectl asks for this with `--sort-by`).
        case object = "Object"
    }

    public var includeObject: IncludeObject
    /// False for the `noHeaders` table option and for every watch event after the first, which then carry
    /// `"columnDefinitions": null`.
    public var includeColumnDefinitions: Bool
    public var resourceVersion: String?
    public var continueToken: String?
    public var remainingItemCount: Int64?
    /// `meta.k8s.io/v1`, or `meta.k8s.io/v1beta1` when the client asked for that Table version.
    public var apiVersion: String

    public init(
        includeObject: IncludeObject = .metadata, includeColumnDefinitions: Bool = true,
        resourceVersion: String? = nil, continueToken: String? = nil, remainingItemCount: Int64? = nil,
        apiVersion: String = "meta.k8s.io/v1"
    ) {
        self.includeObject = includeObject
        self.includeColumnDefinitions = includeColumnDefinitions
        self.resourceVersion = resourceVersion
        self.continueToken = continueToken
        self.remainingItemCount = remainingItemCount
        self.apiVersion = apiVersion
    }
}

extension TablePrinter {
    /// A complete `Table` for `objects` (a list's items, or one object for a get or a watch event).
    public static func table(
        for objects: [JSONValue], printer: ResourcePrinter, now: Date,
        options: TableRenderOptions = TableRenderOptions()
    ) -> JSONValue {
        var metadata = JSONObject()
        if let resourceVersion = options.resourceVersion, !resourceVersion.isEmpty {
            metadata["resourceVersion"] = .string(resourceVersion)
        }
        if let continueToken = options.continueToken, !continueToken.isEmpty {
            metadata["continue"] = .string(continueToken)
        }
        if let remainingItemCount = options.remainingItemCount {
            metadata["remainingItemCount"] = .int(remainingItemCount)
        }

        let rows: [JSONValue] = objects.map { object in
            let content = printer.row(for: object, now: now)
            var row: JSONObject = ["cells": .array(content.cells)]
            if !content.conditions.isEmpty { row["conditions"] = .array(content.conditions) }
            row["object"] = rowObject(object, options: options)
            return .object(row)
        }
        let columns: JSONValue =
            options.includeColumnDefinitions ? .array(printer.columnDefinitions.map(\.jsonValue)) : .null
        return [
            "kind": "Table", "apiVersion": .string(options.apiVersion), "metadata": .object(metadata),
            "columnDefinitions": columns, "rows": .array(rows),
        ]
    }

    private static func rowObject(_ object: JSONValue, options: TableRenderOptions) -> JSONValue {
        switch options.includeObject {
        case .none: .null
        case .object: object
        case .metadata:
            [
                "kind": "PartialObjectMetadata", "apiVersion": .string(options.apiVersion),
                "metadata": object["metadata"] ?? .object(JSONObject()),
            ]
        }
    }
}
