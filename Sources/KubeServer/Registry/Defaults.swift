import KubeAPI

/// The defaults kube-apiserver fills in (`SetDefaults_*` in k8s.io/kubernetes/pkg/apis/*/v1/defaults.go), for the
/// fields people see in `kubectl get -o yaml` and controllers rely on.
enum Defaults {
    static func podSpec(_ object: inout JSONValue, at path: [String]) {
        guard var spec = object.value(at: path[...]), case .object = spec else { return }
        setIfMissing(&spec, "restartPolicy", "Always")
        setIfMissing(&spec, "terminationGracePeriodSeconds", 30)
        setIfMissing(&spec, "dnsPolicy", "ClusterFirst")
        setIfMissing(&spec, "securityContext", .object(JSONObject()))
        setIfMissing(&spec, "schedulerName", "default-scheduler")
        for list in ["containers", "initContainers"] {
            guard let containers = spec[list]?.arrayValue else { continue }
            spec[list] = .array(containers.map(container))
        }
        object.setValue(spec, at: path[...])
    }

    static func container(_ value: JSONValue) -> JSONValue {
        var container = value
        let image = container["image"]?.stringValue ?? ""
        let tagged = image.split(separator: "/").last.map { $0.contains(":") || $0.contains("@") } ?? false
        let latest = !tagged || image.hasSuffix(":latest")
        setIfMissing(&container, "imagePullPolicy", .string(latest ? "Always" : "IfNotPresent"))
        setIfMissing(&container, "terminationMessagePath", "/dev/termination-log")
        setIfMissing(&container, "terminationMessagePolicy", "File")
        setIfMissing(&container, "resources", .object(JSONObject()))
        if let ports = container["ports"]?.arrayValue {
            container["ports"] = .array(
                ports.map { port in
                    var port = port
                    setIfMissing(&port, "protocol", "TCP")
                    return port
                })
        }
        return container
    }

    static func deployment(_ object: inout JSONValue) {
        if object[path: "spec", "replicas"] == nil { object[path: "spec", "replicas"] = 1 }
        if object[path: "spec", "strategy", "type"] == nil {
            object[path: "spec", "strategy", "type"] = "RollingUpdate"
        }
        if object[path: "spec", "strategy", "type"] == "RollingUpdate" {
            if object[path: "spec", "strategy", "rollingUpdate", "maxUnavailable"] == nil {
                object[path: "spec", "strategy", "rollingUpdate", "maxUnavailable"] = "25%"
            }
            if object[path: "spec", "strategy", "rollingUpdate", "maxSurge"] == nil {
                object[path: "spec", "strategy", "rollingUpdate", "maxSurge"] = "25%"
            }
        }
        if object[path: "spec", "revisionHistoryLimit"] == nil { object[path: "spec", "revisionHistoryLimit"] = 10 }
        if object[path: "spec", "progressDeadlineSeconds"] == nil {
            object[path: "spec", "progressDeadlineSeconds"] = 600
        }
        podSpec(&object, at: ["spec", "template", "spec"])
    }

    static func service(_ object: inout JSONValue) {
        if object[path: "spec", "type"] == nil { object[path: "spec", "type"] = "ClusterIP" }
        if object[path: "spec", "sessionAffinity"] == nil { object[path: "spec", "sessionAffinity"] = "None" }
        if let ports = object[path: "spec", "ports"]?.arrayValue {
            object[path: "spec", "ports"] = .array(
                ports.map { port in
                    var port = port
                    setIfMissing(&port, "protocol", "TCP")
                    if port["targetPort"] == nil, let number = port["port"] { port["targetPort"] = number }
                    return port
                })
        }
    }

    private static func setIfMissing(_ object: inout JSONValue, _ key: String, _ value: JSONValue) {
        if object[key] == nil { object[key] = value }
    }
}
