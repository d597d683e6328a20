import Foundation

/// Events, served from core/v1 and events.k8s.io/v1 with the same columns (kube-apiserver prints both from the one
/// internal Event type). The events.k8s.io field names (`regarding`, `note`, `deprecated*`) map onto the core ones.
enum EventPrinter {
    static let columns: [TableColumn] = [
        TableColumn(name: "Last Seen", type: "string", description: "When the event was most recently seen."),
        TableColumn(name: "Type", type: "string", description: "Normal or Warning."),
        TableColumn(name: "Reason", type: "string", description: "Why the event happened, in CamelCase."),
        TableColumn(name: "Object", type: "string", description: "The object this event is about."),
        TableColumn(name: "Subobject", type: "string", description: "The part of the object involved.", priority: 1),
        TableColumn(name: "Source", type: "string", description: "The component reporting this event.", priority: 1),
        TableColumn(name: "Message", type: "string", description: "A human-readable description of the event."),
        TableColumn(name: "First Seen", type: "string", description: "When the event was first seen.", priority: 1),
        TableColumn(name: "Count", type: "string", description: "How many times the event occurred.", priority: 1),
        TableColumn(name: "Name", type: "string", format: "name", description: ColumnText.name, priority: 1),
    ]

    static let coreEvents = ResourcePrinter(columnDefinitions: columns) { object, now in
        cells(Fields(core: PrintedObject(object)), name: PrintedObject(object).name, now: now)
    }

    static let eventsAPIEvents = ResourcePrinter(columnDefinitions: columns) { object, now in
        cells(Fields(eventsAPI: PrintedObject(object)), name: PrintedObject(object).name, now: now)
    }

    /// The fields `printEvent` reads, under either API's names.
    struct Fields {
        var firstTimestamp: Date?
        var lastTimestamp: Date?
        var eventTime: Date?
        var count: Int64
        var series: PrintedObject
        var regarding: PrintedObject
        var source: PrintedObject
        var reportingController: String
        var reportingInstance: String
        var type: String
        var reason: String
        var message: String

        init(core event: PrintedObject) {
            firstTimestamp = event["firstTimestamp"].timestamp
            lastTimestamp = event["lastTimestamp"].timestamp
            eventTime = event["eventTime"].timestamp
            count = event["count"].int
            series = event["series"]
            regarding = event["involvedObject"]
            source = event["source"]
            reportingController = event["reportingComponent"].string
            reportingInstance = event["reportingInstance"].string
            type = event["type"].string
            reason = event["reason"].string
            message = event["message"].string
        }

        init(eventsAPI event: PrintedObject) {
            firstTimestamp = event["deprecatedFirstTimestamp"].timestamp
            lastTimestamp = event["deprecatedLastTimestamp"].timestamp
            eventTime = event["eventTime"].timestamp
            count = event["deprecatedCount"].int
            series = event["series"]
            regarding = event["regarding"]
            source = event["deprecatedSource"]
            reportingController = event["reportingController"].string
            reportingInstance = event["reportingInstance"].string
            type = event["type"].string
            reason = event["reason"].string
            message = event["note"].string
        }
    }

    static func cells(_ event: Fields, name: String, now: Date) -> [JSONValue] {
        var firstSeen = HumanDuration.age(of: event.firstTimestamp, now: now)
        if event.firstTimestamp == nil { firstSeen = HumanDuration.age(of: event.eventTime, now: now) }
        var lastSeen = event.lastTimestamp == nil ? firstSeen : HumanDuration.age(of: event.lastTimestamp, now: now)
        var count = event.count
        if event.series.isPresent {
            lastSeen = HumanDuration.age(of: event.series["lastObservedTime"].timestamp, now: now)
            count = event.series["count"].int
        } else if count == 0 {
            // Singleton events from the new API have no count.
            count = 1
        }
        let kind = event.regarding["kind"].string.lowercased()
        let objectName = event.regarding["name"].string
        let target = objectName.isEmpty ? kind : "\(kind)/\(objectName)"
        return [
            .string(lastSeen), .string(event.type), .string(event.reason), .string(target),
            .string(event.regarding["fieldPath"].string), .string(sourceText(event)),
            .string(event.message.trimmingCharacters(in: .whitespacesAndNewlines)), .string(firstSeen), .int(count),
            .string(name),
        ]
    }

    /// `component, host`, falling back to the reporting controller and instance.
    private static func sourceText(_ event: Fields) -> String {
        let component = event.source["component"].string
        let host = event.source["host"].string
        let shownComponent = component.isEmpty ? event.reportingController : component
        let shownHost = host.isEmpty ? event.reportingInstance : host
        return shownHost.isEmpty ? shownComponent : "\(shownComponent), \(shownHost)"
    }
}
