import Foundation

/// Printers for custom resources, built from a CRD version's `additionalPrinterColumns` the way the
/// apiextensions-apiserver's table convertor builds them: Name first, then the columns in order. A version with no
/// columns gets one `Age` column (type `date`, `.metadata.creationTimestamp`); otherwise no Age is added.
enum CustomResourcePrinter {
    static let defaultColumns: [JSONValue] = [
        [
            "name": "Age", "type": "date", "description": .string(ColumnText.age),
            "jsonPath": ".metadata.creationTimestamp",
        ]
    ]

    /// The printer for `columns` (CRD `CustomResourceColumnDefinition` objects, v1 `jsonPath` or v1beta1
    /// `JSONPath`). Like the upstream convertor, columns stop at the first path that does not parse.
    static func printer(columns columnDefinitions: [JSONValue]) -> ResourcePrinter {
        let definitions = columnDefinitions.isEmpty ? defaultColumns : columnDefinitions
        var columns: [TableColumn] = [.nameColumn]
        var paths: [ColumnJSONPath] = []
        for definition in definitions.map(PrintedObject.init) {
            let pathText = definition["jsonPath"].optionalString ?? definition["JSONPath"].string
            guard let path = ColumnJSONPath(pathText) else { break }
            let description = definition["description"].string
            columns.append(
                TableColumn(
                    name: definition["name"].string, type: definition["type"].string,
                    format: definition["format"].string,
                    description: description.isEmpty
                        ? "Custom resource definition column (in JSONPath format): \(pathText)" : description,
                    priority: Int32(clamping: definition["priority"].int)))
            paths.append(path)
        }
        let columnPaths = Array(zip(columns.dropFirst(), paths))
        return ResourcePrinter(columnDefinitions: columns) { object, now in
            var cells: [JSONValue] = [.string(PrintedObject(object).name)]
            for (column, path) in columnPaths {
                guard let value = path.evaluate(object).first else {
                    cells.append(.null)
                    continue
                }
                cells.append(cell(type: column.type, value: value, now: now))
            }
            return cells
        }
    }

    /// The printer for one served version of a CRD object, or nil when the CRD does not list that version.
    static func printer(definition: JSONValue, version: String) -> ResourcePrinter? {
        let spec = PrintedObject(definition)["spec"]
        guard let versionEntry = spec["versions"].array.first(where: { $0["name"].string == version }) else {
            return nil
        }
        // v1beta1 CRDs could declare the columns once for all versions.
        var columns = versionEntry["additionalPrinterColumns"].value.arrayValue ?? []
        if columns.isEmpty { columns = spec["additionalPrinterColumns"].value.arrayValue ?? [] }
        return printer(columns: columns)
    }

    /// `cellForJSONValue`, with `string` columns printed as client-go's JSONPath prints them.
    static func cell(type: String, value: JSONValue, now: Date) -> JSONValue {
        switch (type, value) {
        case ("string", _): return .string(GoText.print(value))
        case ("integer", .int): return value
        case ("integer", .double(let double)):
            return double.isFinite && abs(double) < 9.2e18 ? .int(Int64(double)) : .null
        case ("number", .int(let int)): return .double(Double(int))
        case ("number", .double): return value
        case ("boolean", .bool): return value
        case ("date", .string(let text)):
            if text.isEmpty || text == "null" { return "<unknown>" }
            guard let date = KubeTimestamp.parse(text) else { return "<invalid>" }
            if KubeTimestamp.isZero(date) { return "<unknown>" }
            return .string(HumanDuration.formatShort(now.timeIntervalSince(date)))
        default: return .null
        }
    }
}
