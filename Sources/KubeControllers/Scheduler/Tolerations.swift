import Foundation
import KubeAPI
import KubeServer

/// A node taint, as the scheduler and the taint manager read them.
struct Taint: Equatable, Sendable {
    var key: String
    var value: String
    var effect: String
    var timeAdded: Date?

    init(key: String, value: String = "", effect: String, timeAdded: Date? = nil) {
        self.key = key
        self.value = value
        self.effect = effect
        self.timeAdded = timeAdded
    }

    init(_ json: JSONValue) {
        key = json["key"]?.stringValue ?? ""
        value = json["value"]?.stringValue ?? ""
        effect = json["effect"]?.stringValue ?? ""
        timeAdded = json["timeAdded"]?.stringValue.flatMap(APITime.parse)
    }

    static func of(node: JSONValue) -> [Taint] {
        (node[path: "spec", "taints"]?.arrayValue ?? []).map(Taint.init)
    }

    static let notReady = "node.kubernetes.io/not-ready"
    static let unreachable = "node.kubernetes.io/unreachable"
    static let unschedulable = "node.kubernetes.io/unschedulable"
}

/// A pod toleration (core/v1 `Toleration`), with `ToleratesTaint`'s matching rules.
struct Toleration: Sendable {
    var key: String
    var `operator`: String
    var value: String
    var effect: String
    /// Seconds a NoExecute taint is tolerated; nil is forever.
    var seconds: Int64?

    init(_ json: JSONValue) {
        key = json["key"]?.stringValue ?? ""
        `operator` = json["operator"]?.stringValue ?? "Equal"
        value = json["value"]?.stringValue ?? ""
        effect = json["effect"]?.stringValue ?? ""
        seconds = json["tolerationSeconds"]?.intValue
    }

    static func of(pod: JSONValue) -> [Toleration] {
        (pod[path: "spec", "tolerations"]?.arrayValue ?? []).map(Toleration.init)
    }

    /// An empty effect matches every effect; `Exists` with an empty key matches every taint.
    func tolerates(_ taint: Taint) -> Bool {
        if !effect.isEmpty, effect != taint.effect { return false }
        if !key.isEmpty, key != taint.key { return false }
        switch `operator` {
        case "Exists": return true
        case "Equal", "": return value == taint.value
        default: return false
        }
    }
}

extension Array where Element == Toleration {
    func tolerate(_ taint: Taint) -> Bool { contains { $0.tolerates(taint) } }
}
