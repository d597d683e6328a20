import Foundation

/// One column of a `meta.k8s.io/v1 Table`, as kube-apiserver describes it in `columnDefinitions`.
///
/// kubectl shows columns with `priority` 0 by default and adds the priority-1 ones for `-o wide`; the server always
/// sends every column (kube-apiserver renders tables with `Wide: true`).
public struct TableColumn: Sendable, Hashable {
    public var name: String
    /// An OpenAPI type name: "string", "integer", "number", "boolean" or "date".
    public var type: String
    /// "name" for the column that holds the object's name; empty otherwise.
    public var format: String
    public var description: String
    public var priority: Int32

    public init(name: String, type: String, format: String = "", description: String, priority: Int32 = 0) {
        self.name = name
        self.type = type
        self.format = format
        self.description = description
        self.priority = priority
    }

    /// The column as it appears in `columnDefinitions` (every field is always present, as Go encodes it).
    public var jsonValue: JSONValue {
        [
            "name": .string(name), "type": .string(type), "format": .string(format),
            "description": .string(description), "priority": .int(Int64(priority)),
        ]
    }
}

/// The cells of one table row, plus the row conditions kube-apiserver attaches (pods that finished carry a
/// `Completed` condition).
public struct TableRowContent: Sendable, Equatable {
    public var cells: [JSONValue]
    /// `TableRowCondition` objects (`type`, `status`, `reason`, `message`); usually empty.
    public var conditions: [JSONValue]

    public init(cells: [JSONValue], conditions: [JSONValue] = []) {
        self.cells = cells
        self.conditions = conditions
    }
}

/// Renders objects of one resource into table rows: the column definitions plus a function from an object to its
/// cells. Cells are JSON values (strings, integers, booleans or null) in column order.
public struct ResourcePrinter: Sendable {
    public let columnDefinitions: [TableColumn]
    private let render: @Sendable (JSONValue, Date) -> TableRowContent

    public init(columnDefinitions: [TableColumn], render: @escaping @Sendable (JSONValue, Date) -> TableRowContent) {
        self.columnDefinitions = columnDefinitions
        self.render = render
    }

    /// Convenience for printers whose rows never carry conditions.
    public init(columnDefinitions: [TableColumn], cells: @escaping @Sendable (JSONValue, Date) -> [JSONValue]) {
        self.init(columnDefinitions: columnDefinitions) { object, now in TableRowContent(cells: cells(object, now)) }
    }

    /// The row cells for `object`, with ages measured against `now`.
    public func cells(for object: JSONValue, now: Date) -> [JSONValue] { render(object, now).cells }

    /// The row cells and row conditions for `object`.
    public func row(for object: JSONValue, now: Date) -> TableRowContent { render(object, now) }
}

/// Column descriptions shared by most printers.
enum ColumnText {
    static let name = "Name must be unique within a namespace; it identifies the object."
    static let age = "CreationTimestamp is the server time when this object was created, shown as an age."
    static let containers = "Names of each container in the template."
    static let images = "Images referenced by each container in the template."
    static let selector = "The label selector that picks the objects this one manages or routes to."
}

extension TableColumn {
    static let nameColumn = TableColumn(name: "Name", type: "string", format: "name", description: ColumnText.name)
    static let ageColumn = TableColumn(name: "Age", type: "string", description: ColumnText.age)
    static let containersColumn = TableColumn(
        name: "Containers", type: "string", description: ColumnText.containers, priority: 1)
    static let imagesColumn = TableColumn(name: "Images", type: "string", description: ColumnText.images, priority: 1)
    static let selectorColumn = TableColumn(
        name: "Selector", type: "string", description: ColumnText.selector, priority: 1)
}
