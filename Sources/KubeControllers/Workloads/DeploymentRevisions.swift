import Foundation
import KubeAPI

/// What ties a Deployment to its ReplicaSets: the `pod-template-hash` of a template, revisions, surge and
/// unavailability arithmetic (upstream's deployment util, rewritten).
enum DeploymentRevisions {
    static let hashLabel = "pod-template-hash"
    static let revisionAnnotation = "deployment.kubernetes.io/revision"
    static let desiredAnnotation = "deployment.kubernetes.io/desired-replicas"
    static let maxAnnotation = "deployment.kubernetes.io/max-replicas"
    static let changeCauseAnnotation = "kubernetes.io/change-cause"

    /// FNV-1a (32 bits) of the template in a canonical form (keys sorted, so the order a client wrote them in
    /// does not matter) and the collision count, spelled with upstream's `SafeEncodeString` alphabet (no vowels,
    /// no look-alikes), as pod-template-hash values look.
    static func templateHash(_ template: JSONValue, collisionCount: Int64?) -> String {
        var hasher = FNV1a()
        hasher.feed(canonical(withoutHash(template)).utf8)
        if let collisionCount { hasher.feed(String(collisionCount).utf8) }
        let alphabet = NameGenerator.alphabet
        return String(String(hasher.value).utf8.map { alphabet[Int($0) % alphabet.count] })
    }

    static func withoutHash(_ template: JSONValue) -> JSONValue {
        var template = template
        if var labels = template[path: "metadata", "labels"]?.objectValue {
            _ = labels.removeValue(forKey: hashLabel)
            template[path: "metadata", "labels"] = labels.isEmpty ? nil : .object(labels)
        }
        return template
    }

    /// Upstream's EqualIgnoreHash: two templates equal apart from `pod-template-hash`.
    static func sameTemplate(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        withoutHash(a ?? [:]) == withoutHash(b ?? [:])
    }

    private static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .object(let object):
            let members = object.entries.sorted { $0.key < $1.key }.map {
                JSONValue.string($0.key).serializedString() + ":" + canonical($0.value)
            }
            return "{" + members.joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map(canonical).joined(separator: ",") + "]"
        default: return value.serializedString()
        }
    }

    static func revision(of set: JSONValue) -> Int64 { Int64(set.annotation(revisionAnnotation) ?? "") ?? 0 }

    /// maxSurge or maxUnavailable (a count or a percentage of `replicas`), rounded up or down as upstream does.
    static func resolve(_ value: JSONValue?, replicas: Int64, roundUp: Bool) -> Int64 {
        switch value {
        case .int(let count)?: return count
        case .string(let text)? where text.hasSuffix("%"):
            let percent = Double(text.dropLast()) ?? 0
            let exact = percent * Double(replicas) / 100
            return Int64(roundUp ? exact.rounded(.up) : exact.rounded(.down))
        case .string(let text)?: return Int64(text) ?? 0
        default: return 0
        }
    }

    /// (maxSurge, maxUnavailable) of a RollingUpdate Deployment; both zero is taken as one unavailable.
    static func surgeAndUnavailable(_ deployment: JSONValue) -> (surge: Int64, unavailable: Int64) {
        let replicas = deployment[path: "spec", "replicas"]?.intValue ?? 1
        guard deployment[path: "spec", "strategy", "type"]?.stringValue != "Recreate" else { return (0, 0) }
        let rolling = deployment[path: "spec", "strategy", "rollingUpdate"]
        let surge = resolve(rolling?["maxSurge"] ?? "25%", replicas: replicas, roundUp: true)
        var unavailable = resolve(rolling?["maxUnavailable"] ?? "25%", replicas: replicas, roundUp: false)
        if surge == 0, unavailable == 0 { unavailable = 1 }
        return (surge, min(unavailable, replicas))
    }
}

extension JSONValue {
    func serializedString() -> String { String(decoding: serialized(), as: UTF8.self) }
    var specReplicas: Int64 { self[path: "spec", "replicas"]?.intValue ?? 0 }
    func statusCount(_ field: String) -> Int64 { self[path: "status", field]?.intValue ?? 0 }
}
