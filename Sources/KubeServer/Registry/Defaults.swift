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

    /// `SetDefaults_DaemonSet`: RollingUpdate with maxUnavailable 1 and maxSurge 0, ten revisions kept.
    static func daemonSet(_ object: inout JSONValue) {
        if object[path: "spec", "updateStrategy", "type"] == nil {
            object[path: "spec", "updateStrategy", "type"] = "RollingUpdate"
        }
        if object[path: "spec", "updateStrategy", "type"] == "RollingUpdate" {
            if object[path: "spec", "updateStrategy", "rollingUpdate", "maxUnavailable"] == nil {
                object[path: "spec", "updateStrategy", "rollingUpdate", "maxUnavailable"] = 1
            }
            if object[path: "spec", "updateStrategy", "rollingUpdate", "maxSurge"] == nil {
                object[path: "spec", "updateStrategy", "rollingUpdate", "maxSurge"] = 0
            }
        }
        if object[path: "spec", "revisionHistoryLimit"] == nil { object[path: "spec", "revisionHistoryLimit"] = 10 }
        podSpec(&object, at: ["spec", "template", "spec"])
    }

    /// The template generation apps/v1 shows as the `deprecated.daemonset.template.generation` annotation
    /// (`spec.templateGeneration` inside kube-apiserver): at least 1 on create, then kept, and one more whenever
    /// an update changes the template. Daemon pods carry it as `pod-template-generation`.
    static func daemonSetTemplateGeneration(_ object: inout JSONValue, old: JSONValue?) {
        let key = "deprecated.daemonset.template.generation"
        let given = { (set: JSONValue?) in Int64(set?[path: "metadata", "annotations", key]?.stringValue ?? "") ?? 0 }
        var generation = max(given(object), 1)
        if let old {
            generation = max(given(old), 1)
            if old[path: "spec", "template"] != object[path: "spec", "template"] { generation += 1 }
        }
        object[path: "metadata", "annotations", key] = .string(String(generation))
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

    /// A Job's defaults (`SetDefaults_Job`) and, unless `spec.manualSelector` is true, the selector and pod
    /// labels kube-apiserver's job strategy generates from the Job's uid, so its pods are told apart from any
    /// other Job's. Runs at create, where the uid is already assigned.
    static func job(_ object: inout JSONValue) {
        let spec = object["spec"]
        if spec?["completions"] == nil, spec?["parallelism"] == nil { object[path: "spec", "completions"] = 1 }
        if object[path: "spec", "parallelism"] == nil { object[path: "spec", "parallelism"] = 1 }
        if object[path: "spec", "backoffLimit"] == nil {
            object[path: "spec", "backoffLimit"] =
                object[path: "spec", "backoffLimitPerIndex"] != nil ? 2_147_483_647 : 6
        }
        if object[path: "spec", "completionMode"] == nil { object[path: "spec", "completionMode"] = "NonIndexed" }
        if object[path: "spec", "suspend"] == nil { object[path: "spec", "suspend"] = false }
        if object[path: "spec", "podReplacementPolicy"] == nil {
            object[path: "spec", "podReplacementPolicy"] =
                object[path: "spec", "podFailurePolicy"] != nil ? "Failed" : "TerminatingOrFailed"
        }
        if object[path: "spec", "manualSelector"] == nil { object[path: "spec", "manualSelector"] = false }
        if object[path: "spec", "manualSelector"]?.boolValue != true {
            let uid = JSONValue.string(object[path: "metadata", "uid"]?.stringValue ?? "")
            let name = JSONValue.string(object[path: "metadata", "name"]?.stringValue ?? "")
            if object[path: "spec", "selector"] == nil {
                object[path: "spec", "selector"] = ["matchLabels": ["batch.kubernetes.io/controller-uid": uid]]
            }
            var labels = object[path: "spec", "template", "metadata", "labels"]?.objectValue ?? JSONObject()
            labels["batch.kubernetes.io/controller-uid"] = uid
            labels["batch.kubernetes.io/job-name"] = name
            labels["controller-uid"] = uid
            labels["job-name"] = name
            object[path: "spec", "template", "metadata", "labels"] = .object(labels)
        }
        // The Job takes its pod template's labels when it has none (SetDefaults_Job; the API server applies
        // defaults again when it reads the stored Job, so the generated labels are among them).
        let jobLabels = object[path: "metadata", "labels"]?.objectValue ?? JSONObject()
        if jobLabels.isEmpty, let templateLabels = object[path: "spec", "template", "metadata", "labels"] {
            object[path: "metadata", "labels"] = templateLabels
        }
        podSpec(&object, at: ["spec", "template", "spec"])
    }

    /// `SetDefaults_CronJob`, and the pod defaults of its job template.
    static func cronJob(_ object: inout JSONValue) {
        if (object[path: "spec", "concurrencyPolicy"]?.stringValue ?? "").isEmpty {
            object[path: "spec", "concurrencyPolicy"] = "Allow"
        }
        if object[path: "spec", "suspend"] == nil { object[path: "spec", "suspend"] = false }
        if object[path: "spec", "successfulJobsHistoryLimit"] == nil {
            object[path: "spec", "successfulJobsHistoryLimit"] = 3
        }
        if object[path: "spec", "failedJobsHistoryLimit"] == nil { object[path: "spec", "failedJobsHistoryLimit"] = 1 }
        podSpec(&object, at: ["spec", "jobTemplate", "spec", "template", "spec"])
    }

    private static func setIfMissing(_ object: inout JSONValue, _ key: String, _ value: JSONValue) {
        if object[key] == nil { object[key] = value }
    }
}
