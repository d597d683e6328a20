import KubeAPI

/// kube-apiserver's DefaultTolerationSeconds admission: a new pod that does not already tolerate the
/// `node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable` NoExecute taints tolerates each for 300 s,
/// so a node that stops answering has its pods evicted five minutes later rather than at once.
enum DefaultTolerationSeconds {
    static let seconds: Int64 = 300
    static let keys = ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]

    static func admit(_ pod: inout JSONValue) {
        var tolerations = pod[path: "spec", "tolerations"]?.arrayValue ?? []
        var changed = false
        for key in keys {
            // A toleration with no key, or no effect, covers the taint too (upstream's test).
            let tolerated = tolerations.contains { toleration in
                let tolerationKey = toleration["key"]?.stringValue ?? ""
                let effect = toleration["effect"]?.stringValue ?? ""
                return (tolerationKey == key || tolerationKey.isEmpty) && (effect == "NoExecute" || effect.isEmpty)
            }
            guard !tolerated else { continue }
            tolerations.append([
                "key": .string(key), "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": .int(seconds),
            ])
            changed = true
        }
        if changed { pod[path: "spec", "tolerations"] = .array(tolerations) }
    }
}
