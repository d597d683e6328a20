import Foundation
import Testing

@testable import KubeAPI

/// A fixed clock: every age below is measured against it.
private let now = Date(timeIntervalSince1970: 1_700_000_000)

/// The RFC 3339 timestamp `seconds` before `now`.
private func ago(_ seconds: TimeInterval) -> JSONValue {
    .string(KubeTimestamp.formatRFC3339(now.addingTimeInterval(-seconds)))
}

private func metadata(_ name: String, createdSecondsAgo: TimeInterval = 300) -> JSONValue {
    ["name": .string(name), "namespace": "default", "creationTimestamp": ago(createdSecondsAgo)]
}

private func strings(_ cells: [JSONValue]) -> [String] { cells.map { $0.stringValue ?? "\($0)" } }

@Suite("HumanDuration")
struct HumanDurationTests {
    @Test(
        "HumanDuration keeps two or three significant figures",
        arguments: [
            (-3.0, "<invalid>"), (-2.0, "<invalid>"), (-1.9, "0s"), (-1.0, "0s"), (0.0, "0s"), (0.9, "0s"),
            (59.0, "59s"), (60.0, "60s"), (119.0, "119s"), (120.0, "2m"), (150.0, "2m30s"), (599.0, "9m59s"),
            (600.0, "10m"), (630.0, "10m"), (10_799.0, "179m"), (10_800.0, "3h"), (11_100.0, "3h5m"),
            (28_799.0, "7h59m"), (28_800.0, "8h"), (172_799.0, "47h"), (172_800.0, "2d"), (183_600.0, "2d3h"),
            (691_199.0, "7d23h"), (691_200.0, "8d"), (63_071_999.0, "729d"), (63_072_000.0, "2y"),
            (63_504_000.0, "2y5d"), (252_287_999.0, "7y364d"), (252_288_000.0, "8y"), (630_720_000.0, "20y"),
        ])
    func long(seconds: Double, expected: String) {
        #expect(HumanDuration.format(seconds) == expected)
    }

    @Test(
        "ShortHumanDuration keeps one unit",
        arguments: [
            (-2.0, "<invalid>"), (-1.0, "0s"), (59.0, "59s"), (60.0, "1m"), (3_599.0, "59m"), (3_600.0, "1h"),
            (86_399.0, "23h"), (86_400.0, "1d"), (183_600.0, "2d"), (31_535_999.0, "364d"), (31_536_000.0, "1y"),
            (63_072_000.0, "2y"),
        ])
    func short(seconds: Double, expected: String) {
        #expect(HumanDuration.formatShort(seconds) == expected)
    }

    @Test func ageOfMissingTimestampIsUnknown() {
        #expect(HumanDuration.age(of: nil, now: now) == "<unknown>")
        #expect(HumanDuration.age(of: now.addingTimeInterval(-90), now: now) == "90s")
        #expect(HumanDuration.age(of: now.addingTimeInterval(30), now: now) == "<invalid>")
    }

    @Test func timestampsParseAndFormat() throws {
        let plain = try #require(KubeTimestamp.parse("2023-11-14T22:13:20Z"))
        #expect(plain.timeIntervalSince1970 == 1_700_000_000)
        let fractional = try #require(KubeTimestamp.parse("2023-11-14T22:13:20.250000Z"))
        #expect(fractional.timeIntervalSince1970 == 1_700_000_000.25)
        let offset = try #require(KubeTimestamp.parse("2023-11-15T00:13:20+02:00"))
        #expect(offset == plain)
        #expect(KubeTimestamp.parse("2023-11-14 22:13:20Z") == nil)
        #expect(KubeTimestamp.parse("2023-11-14T22:13:20") == nil)
        #expect(KubeTimestamp.parse("yesterday") == nil)
        #expect(KubeTimestamp.formatRFC3339(fractional) == "2023-11-14T22:13:20Z")
        #expect(KubeTimestamp.formatRFC3339(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
        let zero = try #require(KubeTimestamp.parse("0001-01-01T00:00:00Z"))
        #expect(KubeTimestamp.formatRFC3339(zero) == "0001-01-01T00:00:00Z")
    }
}

@Suite("Pod printer")
struct PodPrinterTests {
    private static func pod(
        spec: JSONValue = ["containers": [["name": "app", "image": "nginx"]]], status: JSONValue,
        deleted: Bool = false
    ) -> JSONValue {
        var meta = metadata("web-1")
        if deleted { meta["deletionTimestamp"] = ago(5) }
        return ["apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec, "status": status]
    }

    private static func running(_ name: String = "app", ready: Bool = true, restarts: Int64 = 0) -> JSONValue {
        ["name": .string(name), "ready": .bool(ready), "restartCount": .int(restarts), "state": ["running": [:]]]
    }

    private static func waiting(_ reason: String, restarts: Int64 = 0) -> JSONValue {
        [
            "name": "app", "ready": false, "restartCount": .int(restarts),
            "state": ["waiting": ["reason": .string(reason)]],
        ]
    }

    private static func terminated(_ name: String = "app", reason: String?, exitCode: Int64, signal: Int64 = 0)
        -> JSONValue
    {
        var state: JSONValue = ["exitCode": .int(exitCode)]
        if let reason { state["reason"] = .string(reason) }
        if signal != 0 { state["signal"] = .int(signal) }
        return ["name": .string(name), "ready": false, "restartCount": 0, "state": ["terminated": state]]
    }

    /// READY, STATUS, RESTARTS.
    private static func summary(_ pod: JSONValue) -> [String] {
        Array(strings(TablePrinter.cells(for: pod, resource: "pods", now: now))[1...3])
    }

    @Test func columnsMatchKubeAPIServer() {
        let columns = TablePrinter.columns(for: "pods")
        #expect(
            columns.map(\.name) == [
                "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates",
            ])
        #expect(columns.map(\.priority) == [0, 0, 0, 0, 0, 1, 1, 1, 1])
        #expect(columns[0].format == "name")
        #expect(columns.allSatisfy { $0.type == "string" })
    }

    @Test func runningPod() {
        let pod = Self.pod(status: ["phase": "Running", "containerStatuses": [Self.running()]])
        let cells = strings(TablePrinter.cells(for: pod, resource: "pods", now: now))
        #expect(cells == ["web-1", "1/1", "Running", "0", "5m", "<none>", "<none>", "<none>", "<none>"])
    }

    @Test func pendingAndWaitingPods() {
        #expect(Self.summary(Self.pod(status: ["phase": "Pending"])) == ["0/1", "Pending", "0"])
        let creating = Self.pod(status: ["phase": "Pending", "containerStatuses": [Self.waiting("ContainerCreating")]])
        #expect(Self.summary(creating) == ["0/1", "ContainerCreating", "0"])
        let gated = Self.pod(status: [
            "phase": "Pending",
            "conditions": [["type": "PodScheduled", "status": "False", "reason": "SchedulingGated"]],
        ])
        #expect(Self.summary(gated) == ["0/1", "SchedulingGated", "0"])
        let evicted = Self.pod(status: ["phase": "Failed", "reason": "Evicted"])
        #expect(Self.summary(evicted) == ["0/1", "Evicted", "0"])
    }

    @Test func crashLoopShowsRestartsWithLastRestartAge() {
        var status = Self.waiting("CrashLoopBackOff", restarts: 4)
        status["lastState"] = ["terminated": ["exitCode": 1, "reason": "Error", "finishedAt": ago(300)]]
        let pod = Self.pod(status: ["phase": "Running", "containerStatuses": [status]])
        #expect(Self.summary(pod) == ["0/1", "CrashLoopBackOff", "4 (5m ago)"])

        // Restarts without a recorded termination print the bare count.
        let bare = Self.pod(status: ["phase": "Running", "containerStatuses": [Self.running(restarts: 2)]])
        #expect(Self.summary(bare) == ["1/1", "Running", "2"])
    }

    @Test func restartAgeUsesTheLatestTerminationAcrossContainers() {
        // Statuses are walked last to first, so the newest termination is on the first container here.
        var first = Self.running("a", restarts: 1)
        first["lastState"] = ["terminated": ["exitCode": 1, "finishedAt": ago(90)]]
        var second = Self.running("b", restarts: 2)
        second["lastState"] = ["terminated": ["exitCode": 1, "finishedAt": ago(7200)]]
        let pod = Self.pod(
            spec: ["containers": [["name": "a"], ["name": "b"]]],
            status: ["phase": "Running", "containerStatuses": [first, second]])
        #expect(Self.summary(pod) == ["2/2", "Running", "3 (90s ago)"])
    }

    @Test func terminatedContainers() {
        let completed = Self.pod(status: [
            "phase": "Succeeded", "containerStatuses": [Self.terminated(reason: "Completed", exitCode: 0)],
        ])
        #expect(Self.summary(completed) == ["0/1", "Completed", "0"])
        let failed = Self.pod(status: [
            "phase": "Failed", "containerStatuses": [Self.terminated(reason: "Error", exitCode: 2)],
        ])
        #expect(Self.summary(failed) == ["0/1", "Error", "0"])
        let exitCode = Self.pod(status: [
            "phase": "Failed", "containerStatuses": [Self.terminated(reason: nil, exitCode: 137)],
        ])
        #expect(Self.summary(exitCode) == ["0/1", "ExitCode:137", "0"])
        let signal = Self.pod(status: [
            "phase": "Failed", "containerStatuses": [Self.terminated(reason: nil, exitCode: 0, signal: 9)],
        ])
        #expect(Self.summary(signal) == ["0/1", "Signal:9", "0"])
    }

    @Test func firstContainerReasonWins() {
        let pod = Self.pod(
            spec: ["containers": [["name": "a"], ["name": "b"]]],
            status: [
                "phase": "Pending",
                "containerStatuses": [Self.waiting("ImagePullBackOff"), Self.waiting("ContainerCreating")],
            ])
        #expect(Self.summary(pod) == ["0/2", "ImagePullBackOff", "0"])
    }

    @Test func completedContainerNextToARunningOne() {
        let statuses: JSONValue = [Self.terminated("a", reason: "Completed", exitCode: 0), Self.running("b")]
        let spec: JSONValue = ["containers": [["name": "a"], ["name": "b"]]]
        let notReady = Self.pod(spec: spec, status: ["phase": "Running", "containerStatuses": statuses])
        #expect(Self.summary(notReady) == ["1/2", "NotReady", "0"])
        let ready = Self.pod(
            spec: spec,
            status: [
                "phase": "Running", "containerStatuses": statuses,
                "conditions": [["type": "Ready", "status": "True"]],
            ])
        #expect(Self.summary(ready) == ["1/2", "Running", "0"])
    }

    @Test func initContainers() {
        let spec: JSONValue = [
            "initContainers": [["name": "init-a"], ["name": "init-b"]], "containers": [["name": "app"]],
        ]
        let notStarted = Self.pod(
            spec: spec,
            status: [
                "phase": "Pending",
                "initContainerStatuses": [
                    ["name": "init-a", "restartCount": 0, "state": ["waiting": ["reason": "PodInitializing"]]],
                    ["name": "init-b", "restartCount": 0, "state": ["waiting": ["reason": "PodInitializing"]]],
                ],
            ])
        #expect(Self.summary(notStarted) == ["0/1", "Init:0/2", "0"])

        let secondRunning = Self.pod(
            spec: spec,
            status: [
                "phase": "Pending",
                "initContainerStatuses": [
                    Self.terminated("init-a", reason: "Completed", exitCode: 0), Self.running("init-b", ready: false),
                ],
                "containerStatuses": [Self.waiting("PodInitializing")],
            ])
        #expect(Self.summary(secondRunning) == ["0/1", "Init:1/2", "0"])

        var crashing = Self.waiting("CrashLoopBackOff", restarts: 3)
        crashing["name"] = "init-a"
        let crashLoop = Self.pod(spec: spec, status: ["phase": "Pending", "initContainerStatuses": [crashing]])
        #expect(Self.summary(crashLoop) == ["0/1", "Init:CrashLoopBackOff", "3"])

        let failed = Self.pod(
            spec: spec,
            status: [
                "phase": "Pending", "initContainerStatuses": [Self.terminated("init-a", reason: "Error", exitCode: 1)],
            ])
        #expect(Self.summary(failed) == ["0/1", "Init:Error", "0"])
        let exitCode = Self.pod(
            spec: spec,
            status: [
                "phase": "Pending", "initContainerStatuses": [Self.terminated("init-a", reason: nil, exitCode: 3)],
            ])
        #expect(Self.summary(exitCode) == ["0/1", "Init:ExitCode:3", "0"])
    }

    @Test func sidecarCountsAsAContainerAndKeepsItsRestarts() {
        let spec: JSONValue = [
            "initContainers": [["name": "setup"], ["name": "proxy", "restartPolicy": "Always"]],
            "containers": [["name": "app"]],
        ]
        var setup = Self.terminated("setup", reason: "Completed", exitCode: 0)
        setup["restartCount"] = 2
        var proxy = Self.running("proxy", restarts: 1)
        proxy["started"] = true
        proxy["lastState"] = ["terminated": ["exitCode": 1, "finishedAt": ago(600)]]
        let pod = Self.pod(
            spec: spec,
            status: [
                "phase": "Running", "initContainerStatuses": [setup, proxy], "containerStatuses": [Self.running()],
                "conditions": [["type": "Initialized", "status": "True"], ["type": "Ready", "status": "True"]],
            ])
        // The regular init container's restarts stop counting once the pod is initialized.
        #expect(Self.summary(pod) == ["2/2", "Running", "1 (10m ago)"])
    }

    @Test func deletion() {
        let terminating = Self.pod(status: ["phase": "Running", "containerStatuses": [Self.running()]], deleted: true)
        #expect(Self.summary(terminating) == ["1/1", "Terminating", "0"])
        let nodeLost = Self.pod(status: ["phase": "Running", "reason": "NodeLost"], deleted: true)
        #expect(Self.summary(nodeLost) == ["0/1", "Unknown", "0"])
        let finished = Self.pod(
            status: ["phase": "Succeeded", "containerStatuses": [Self.terminated(reason: "Completed", exitCode: 0)]],
            deleted: true)
        #expect(Self.summary(finished) == ["0/1", "Completed", "0"])
    }

    @Test func wideColumns() {
        let pod = Self.pod(
            spec: [
                "containers": [["name": "app"]], "nodeName": "node-a",
                "readinessGates": [["conditionType": "example.com/lb"], ["conditionType": "example.com/dns"]],
            ],
            status: [
                "phase": "Running", "podIP": "10.1.2.3", "containerStatuses": [Self.running()],
                "conditions": [
                    ["type": "example.com/lb", "status": "True"], ["type": "example.com/dns", "status": "False"],
                ],
            ])
        let cells = strings(TablePrinter.cells(for: pod, resource: "pods", now: now))
        #expect(Array(cells[5...]) == ["10.1.2.3", "node-a", "<none>", "1/2"])
    }

    @Test func finishedPodsCarryACompletedRowCondition() {
        let pod = Self.pod(status: ["phase": "Succeeded"])
        let row = TablePrinter.printer(group: "", resource: "pods").row(for: pod, now: now)
        #expect(row.conditions.count == 1)
        #expect(row.conditions.first?["type"] == "Completed")
        #expect(row.conditions.first?["reason"] == "Succeeded")
        let running = Self.pod(status: ["phase": "Running"])
        #expect(TablePrinter.printer(group: "", resource: "pods").row(for: running, now: now).conditions.isEmpty)
    }
}

@Suite("Workload printers")
struct WorkloadPrinterTests {
    private static let template: JSONValue = [
        "spec": ["containers": [["name": "web", "image": "nginx:1.27"], ["name": "log", "image": "busybox"]]]
    ]

    @Test func deployment() {
        let deployment: JSONValue = [
            "metadata": metadata("web", createdSecondsAgo: 183_600),
            "spec": [
                "replicas": 3, "template": Self.template,
                "selector": [
                    "matchLabels": ["app": "web"],
                    "matchExpressions": [["key": "tier", "operator": "In", "values": ["b", "a"]]],
                ],
            ],
            "status": ["replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2],
        ]
        let cells = TablePrinter.cells(for: deployment, resource: "deployments", group: "apps", now: now)
        #expect(
            cells == [
                "web", "2/3", 3, 2, "2d3h", "web,log", "nginx:1.27,busybox", "app=web,tier in (a,b)",
            ])
        let columns = TablePrinter.columns(for: "deployments", group: "apps")
        #expect(
            columns.map(\.name) == [
                "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector",
            ])
        #expect(columns.filter { $0.priority == 1 }.map(\.name) == ["Containers", "Images", "Selector"])

        // A fresh deployment: no status yet, replicas defaulted to 1.
        let fresh: JSONValue = ["metadata": metadata("new"), "spec": ["template": Self.template]]
        let freshCells = TablePrinter.cells(for: fresh, resource: "deployments", group: "apps", now: now)
        #expect(Array(freshCells[1...3]) == ["0/1", 0, 0])
        #expect(freshCells[7] == "")
    }

    @Test func replicaSetAndStatefulSetAndDaemonSet() {
        let replicaSet: JSONValue = [
            "metadata": metadata("web-abc"),
            "spec": ["replicas": 2, "template": Self.template, "selector": [:]],
            "status": ["replicas": 2, "readyReplicas": 1],
        ]
        #expect(
            TablePrinter.cells(for: replicaSet, resource: "replicasets", group: "apps", now: now) == [
                "web-abc", 2, 2, 1, "5m", "web,log", "nginx:1.27,busybox", "<none>",
            ])
        let statefulSet: JSONValue = [
            "metadata": metadata("db"), "spec": ["replicas": 3, "template": Self.template],
            "status": ["readyReplicas": 3],
        ]
        #expect(
            TablePrinter.cells(for: statefulSet, resource: "statefulsets", group: "apps", now: now) == [
                "db", "3/3", "5m", "web,log", "nginx:1.27,busybox",
            ])
        let daemonSet: JSONValue = [
            "metadata": metadata("agent"),
            "spec": [
                "template": [
                    "spec": [
                        "nodeSelector": ["os": "linux", "arch": "amd64"], "containers": [["name": "a", "image": "x"]],
                    ]
                ],
                "selector": ["matchExpressions": [["key": "app", "operator": "Exists"]]],
            ],
            "status": [
                "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                "updatedNumberScheduled": 2, "numberAvailable": 1,
            ],
        ]
        #expect(
            TablePrinter.cells(for: daemonSet, resource: "daemonsets", group: "apps", now: now) == [
                "agent", 2, 2, 1, 2, 1, "arch=amd64,os=linux", "5m", "a", "x", "app",
            ])
    }

    @Test func jobs() {
        let complete: JSONValue = [
            "metadata": metadata("pi"),
            "spec": ["completions": 1, "template": Self.template, "selector": ["matchLabels": ["job": "pi"]]],
            "status": [
                "succeeded": 1, "startTime": ago(200), "completionTime": ago(190),
                "conditions": [["type": "Complete", "status": "True"]],
            ],
        ]
        let cells = TablePrinter.cells(for: complete, resource: "jobs", group: "batch", now: now)
        #expect(Array(cells[0...4]) == ["pi", "Complete", "1/1", "10s", "5m"])
        #expect(cells[7] == "job=pi")

        let parallel: JSONValue = [
            "metadata": metadata("work"), "spec": ["parallelism": 3, "template": Self.template],
            "status": ["succeeded": 1, "startTime": ago(150)],
        ]
        let parallelCells = TablePrinter.cells(for: parallel, resource: "jobs", group: "batch", now: now)
        #expect(Array(parallelCells[1...3]) == ["Running", "1/1 of 3", "2m30s"])

        let failed: JSONValue = [
            "metadata": metadata("bad"), "spec": ["template": Self.template],
            "status": ["conditions": [["type": "Failed", "status": "True"]]],
        ]
        #expect(
            Array(TablePrinter.cells(for: failed, resource: "jobs", group: "batch", now: now)[1...3]) == [
                "Failed", "0/1", "",
            ])
        #expect(
            TablePrinter.columns(for: "jobs", group: "batch").map(\.name).prefix(5) == [
                "Name", "Status", "Completions", "Duration", "Age",
            ])
    }

    @Test func cronJob() {
        let cronJob: JSONValue = [
            "metadata": metadata("nightly"),
            "spec": [
                "schedule": "0 3 * * *", "suspend": false,
                "jobTemplate": ["spec": ["template": Self.template]],
            ],
            "status": ["active": [["name": "nightly-1"]], "lastScheduleTime": ago(3_600)],
        ]
        #expect(
            TablePrinter.cells(for: cronJob, resource: "cronjobs", group: "batch", now: now) == [
                "nightly", "0 3 * * *", "<none>", "False", 1, "60m", "5m", "web,log", "nginx:1.27,busybox", "<none>",
            ])
    }
}

@Suite("Core printers")
struct CorePrinterTests {
    @Test func servicePorts() {
        let ports: JSONValue = [
            ["port": 80, "protocol": "TCP", "nodePort": 30080], ["port": 443, "nodePort": 30443],
            ["port": 53, "protocol": "UDP"],
        ]
        #expect(CorePrinters.portsText(PrintedObject(ports)) == "80:30080/TCP,443:30443/TCP,53/UDP")
        #expect(CorePrinters.portsText(PrintedObject(JSONValue.array([]))) == "")
    }

    @Test func services() {
        let clusterIP: JSONValue = [
            "metadata": metadata("web"),
            "spec": [
                "type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "ports": [["port": 80, "protocol": "TCP"]], "selector": ["app": "web"],
            ],
        ]
        #expect(
            TablePrinter.cells(for: clusterIP, resource: "services", now: now) == [
                "web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "5m", "app=web",
            ])
        let pending: JSONValue = [
            "metadata": metadata("lb"),
            "spec": [
                "type": "LoadBalancer", "clusterIPs": ["10.96.0.11"], "ports": [["port": 80, "nodePort": 30080]],
            ],
        ]
        #expect(
            TablePrinter.cells(for: pending, resource: "services", now: now) == [
                "lb", "LoadBalancer", "10.96.0.11", "<pending>", "80:30080/TCP", "5m", "<none>",
            ])
        var assigned = pending
        assigned["status"] = ["loadBalancer": ["ingress": [["ip": "203.0.113.9"], ["hostname": "a.example.com"]]]]
        assigned[path: "spec", "externalIPs"] = ["198.51.100.1"]
        #expect(
            TablePrinter.cells(for: assigned, resource: "services", now: now)[3]
                == "203.0.113.9,a.example.com,198.51.100.1")
        let external: JSONValue = [
            "metadata": metadata("db"), "spec": ["type": "ExternalName", "externalName": "db.example.com"],
        ]
        #expect(
            TablePrinter.cells(for: external, resource: "services", now: now) == [
                "db", "ExternalName", "<none>", "db.example.com", "<none>", "5m", "<none>",
            ])
    }

    @Test func nodes() {
        let node: JSONValue = [
            "metadata": [
                "name": "node-a", "creationTimestamp": ago(691_200),
                "labels": [
                    "node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "",
                    "kubernetes.io/hostname": "node-a",
                ],
            ],
            "spec": ["unschedulable": true],
            "status": [
                "conditions": [["type": "MemoryPressure", "status": "False"], ["type": "Ready", "status": "False"]],
                "addresses": [
                    ["type": "InternalIP", "address": "192.168.1.5"], ["type": "Hostname", "address": "node-a"],
                ],
                "nodeInfo": ["kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12"],
            ],
        ]
        #expect(
            TablePrinter.cells(for: node, resource: "nodes", now: now) == [
                "node-a", "NotReady,SchedulingDisabled", "control-plane,worker", "8d", "v1.32.4", "192.168.1.5",
                "<none>", "Debian GNU/Linux 12", "<unknown>", "<unknown>",
            ])
        let ready: JSONValue = [
            "metadata": ["name": "n2", "labels": ["kubernetes.io/role": "edge"]],
            "status": ["conditions": [["type": "Ready", "status": "True"]]],
        ]
        #expect(
            Array(strings(TablePrinter.cells(for: ready, resource: "nodes", now: now))[1...3]) == [
                "Ready", "edge", "<unknown>",
            ])
        let bare: JSONValue = ["metadata": ["name": "n3"]]
        #expect(
            Array(strings(TablePrinter.cells(for: bare, resource: "nodes", now: now))[1...2]) == ["Unknown", "<none>"])
    }

    @Test func namespacesConfigMapsSecretsServiceAccountsLeases() {
        let namespace: JSONValue = ["metadata": metadata("team"), "status": ["phase": "Active"]]
        #expect(TablePrinter.cells(for: namespace, resource: "namespaces", now: now) == ["team", "Active", "5m"])
        let configMap: JSONValue = [
            "metadata": metadata("cfg"), "data": ["a": "1", "b": "2"], "binaryData": ["c": "AA=="],
        ]
        #expect(TablePrinter.cells(for: configMap, resource: "configmaps", now: now) == ["cfg", 3, "5m"])
        let secret: JSONValue = [
            "metadata": metadata("tls"), "type": "kubernetes.io/tls", "data": ["tls.crt": "", "tls.key": ""],
        ]
        #expect(
            TablePrinter.cells(for: secret, resource: "secrets", now: now) == ["tls", "kubernetes.io/tls", 2, "5m"])
        let account: JSONValue = ["metadata": metadata("default")]
        #expect(TablePrinter.cells(for: account, resource: "serviceaccounts", now: now) == ["default", 0, "5m"])
        let lease: JSONValue = ["metadata": metadata("kube-scheduler"), "spec": ["holderIdentity": "host_1234"]]
        #expect(
            TablePrinter.cells(for: lease, resource: "leases", group: "coordination.k8s.io", now: now) == [
                "kube-scheduler", "host_1234", "5m",
            ])
    }

    @Test func endpoints() {
        let many: JSONValue = [
            "metadata": metadata("web"),
            "subsets": [
                [
                    "addresses": [["ip": "10.0.0.1"], ["ip": "10.0.0.2"], ["ip": "fd00::3"]],
                    "ports": [["port": 80], ["port": 443]],
                ]
            ],
        ]
        #expect(
            TablePrinter.cells(for: many, resource: "endpoints", now: now)[1]
                == "10.0.0.1:80,10.0.0.2:80,[fd00::3]:80 + 3 more...")
        let none: JSONValue = ["metadata": metadata("idle")]
        #expect(TablePrinter.cells(for: none, resource: "endpoints", now: now)[1] == "<none>")
        let headless: JSONValue = ["metadata": metadata("h"), "subsets": [["addresses": [["ip": "10.0.0.9"]]]]]
        #expect(TablePrinter.cells(for: headless, resource: "endpoints", now: now)[1] == "10.0.0.9")
    }

    @Test func endpointSlices() {
        let slice: JSONValue = [
            "metadata": metadata("web-x1"), "addressType": "IPv4",
            "ports": [["name": "http", "port": 80], ["name": "named"], [:]],
            "endpoints": [["addresses": ["10.0.0.1"]], ["addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]]],
        ]
        #expect(
            TablePrinter.cells(for: slice, resource: "endpointslices", group: "discovery.k8s.io", now: now) == [
                "web-x1", "IPv4", "80,named,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "5m",
            ])
        let empty: JSONValue = ["metadata": metadata("e"), "addressType": "IPv4"]
        #expect(
            Array(
                TablePrinter.cells(for: empty, resource: "endpointslices", group: "discovery.k8s.io", now: now)[2...3])
                == ["<unset>", "<unset>"])
    }

    @Test func events() {
        let core: JSONValue = [
            "metadata": metadata("web-1.17a"),
            "involvedObject": ["kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"],
            "reason": "BackOff", "message": "Back-off restarting failed container\n", "type": "Warning",
            "source": ["component": "kubelet", "host": "node-a"], "firstTimestamp": ago(259_200),
            "lastTimestamp": ago(120), "count": 6,
        ]
        #expect(
            TablePrinter.cells(for: core, resource: "events", now: now) == [
                "2m", "Warning", "BackOff", "pod/web-1", "spec.containers{app}", "kubelet, node-a",
                "Back-off restarting failed container", "3d", 6, "web-1.17a",
            ])
        let modern: JSONValue = [
            "metadata": metadata("web.17b"), "regarding": ["kind": "Deployment", "name": "web"],
            "reason": "ScalingReplicaSet", "note": "Scaled up", "type": "Normal", "eventTime": ago(30),
            "reportingController": "deployment-controller",
        ]
        #expect(
            TablePrinter.cells(for: modern, resource: "events", group: "events.k8s.io", now: now) == [
                "30s", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment-controller", "Scaled up",
                "30s", 1, "web.17b",
            ])
        let columns = TablePrinter.columns(for: "events")
        #expect(
            columns.filter { $0.priority == 0 }.map(\.name) == ["Last Seen", "Type", "Reason", "Object", "Message"])
    }
}

@Suite("Custom resources and the default printer")
struct CustomResourcePrinterTests {
    private static let columns: [JSONValue] = [
        ["name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"],
        [
            "name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status",
            "description": "Whether it is ready",
        ],
        ["name": "Image", "type": "string", "jsonPath": ".spec.containers[0].image", "priority": 1],
        ["name": "Owner", "type": "string", "jsonPath": ".metadata.labels.example\\.com/owner"],
        ["name": "Started", "type": "date", "jsonPath": ".status.startTime"],
        ["name": "Ratio", "type": "number", "jsonPath": ".status.ratio"],
        ["name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"],
    ]

    private static let widget: JSONValue = [
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": [
            "name": "w1", "creationTimestamp": ago(3_000), "labels": ["example.com/owner": "team-a"],
        ],
        "spec": ["replicas": 3, "containers": [["image": "nginx"], ["image": "redis"]], "paused": false],
        "status": [
            "conditions": [["type": "Synced", "status": "True"], ["type": "Ready", "status": "False"]],
            "startTime": ago(183_600), "ratio": 2,
        ],
    ]

    @Test func additionalPrinterColumns() {
        let printer = TablePrinter.customResourcePrinter(columns: Self.columns)
        #expect(
            printer.columnDefinitions.map(\.name) == [
                "Name", "Replicas", "Ready", "Image", "Owner", "Started", "Ratio", "Paused",
            ])
        #expect(
            printer.columnDefinitions[1].description
                == "Custom resource definition column (in JSONPath format): .spec.replicas")
        #expect(printer.columnDefinitions[2].description == "Whether it is ready")
        #expect(printer.columnDefinitions[3].priority == 1)
        #expect(printer.columnDefinitions[5].type == "date")
        // Date columns use the one-unit ShortHumanDuration ("2d", not "2d3h"); no Age column is added.
        #expect(printer.cells(for: Self.widget, now: now) == ["w1", 3, "False", "nginx", "team-a", "2d", 2.0, false])

        let bare: JSONValue = ["metadata": ["name": "w2"], "spec": ["replicas": "three"]]
        #expect(printer.cells(for: bare, now: now) == ["w2", nil, nil, nil, nil, nil, nil, nil])
    }

    @Test func versionWithoutColumnsGetsAge() throws {
        let definition: JSONValue = [
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": ["name": "widgets.example.com"],
            "spec": [
                "group": "example.com",
                "versions": [
                    ["name": "v1", "served": true, "additionalPrinterColumns": .array(Self.columns)],
                    ["name": "v1alpha1", "served": true],
                ],
            ],
        ]
        let alpha = try #require(TablePrinter.customResourcePrinter(definition: definition, version: "v1alpha1"))
        #expect(alpha.columnDefinitions.map(\.name) == ["Name", "Age"])
        #expect(alpha.columnDefinitions.map(\.type) == ["string", "date"])
        #expect(alpha.cells(for: Self.widget, now: now) == ["w1", "50m"])
        let v1 = try #require(TablePrinter.customResourcePrinter(definition: definition, version: "v1"))
        #expect(v1.columnDefinitions.count == 8)
        #expect(TablePrinter.customResourcePrinter(definition: definition, version: "v2") == nil)
    }

    @Test func invalidPathEndsTheColumns() {
        let printer = TablePrinter.customResourcePrinter(columns: [
            ["name": "A", "type": "integer", "jsonPath": ".spec.replicas"],
            ["name": "B", "type": "string", "jsonPath": ".spec[?(@.x ~ 1)]"],
            ["name": "C", "type": "string", "jsonPath": ".spec.paused"],
        ])
        #expect(printer.columnDefinitions.map(\.name) == ["Name", "A"])
    }

    @Test func stringCellsPrintLikeClientGo() {
        #expect(CustomResourcePrinter.cell(type: "string", value: 1_000_000.0, now: now) == "1e+06")
        #expect(CustomResourcePrinter.cell(type: "string", value: 0.25, now: now) == "0.25")
        #expect(CustomResourcePrinter.cell(type: "string", value: 123_456.0, now: now) == "123456")
        #expect(CustomResourcePrinter.cell(type: "string", value: 42, now: now) == "42")
        #expect(CustomResourcePrinter.cell(type: "string", value: true, now: now) == "true")
        #expect(
            CustomResourcePrinter.cell(type: "string", value: ["b": 1, "a": ["x<y"]], now: now)
                == #"{"a":["x\u003cy"],"b":1}"#)
        #expect(CustomResourcePrinter.cell(type: "integer", value: 2.9, now: now) == 2)
        #expect(CustomResourcePrinter.cell(type: "number", value: 2, now: now) == 2.0)
        #expect(CustomResourcePrinter.cell(type: "date", value: "soon", now: now) == "<invalid>")
        #expect(CustomResourcePrinter.cell(type: "boolean", value: "yes", now: now) == nil)
    }

    @Test func jsonPathForms() throws {
        let document: JSONValue = [
            "items": [["name": "a", "n": 1], ["name": "b", "n": 5], ["name": "c", "n": 9]],
            "metadata": ["annotations": ["a.b/c": "dotted"]],
            "deep": ["x": ["name": "nested"]],
        ]
        func first(_ path: String) throws -> JSONValue? { try #require(ColumnJSONPath(path)).evaluate(document).first }
        #expect(try first(".items[-1].name") == "c")
        #expect(try first(".items[1:].name") == "b")
        #expect(try first(".items[*].name") == "a")
        #expect(try first(".items[?(@.n > 4)].name") == "b")
        #expect(try first(".items[?(@.name != 'a')].name") == "b")
        #expect(try first(".items[?(@.missing)].name") == nil)
        #expect(try first(".metadata.annotations['a.b/c']") == "dotted")
        #expect(try first("{.metadata.annotations.a\\.b/c}") == "dotted")
        #expect(try first("$.deep..name") == "nested")
        #expect(try first(".items[7].name") == nil)
        #expect(ColumnJSONPath(".items[") == nil)
        #expect(ColumnJSONPath(".items[?(@.n = 4)]") == nil)
    }

    @Test func defaultPrinterForOtherResources() {
        #expect(
            TablePrinter.builtInPrinter(group: "apiextensions.k8s.io", resource: "customresourcedefinitions") == nil)
        let columns = TablePrinter.columns(for: "customresourcedefinitions", group: "apiextensions.k8s.io")
        #expect(columns.map(\.name) == ["Name", "Created At"])
        #expect(columns.map(\.type) == ["string", "date"])
        #expect(columns.map(\.format) == ["name", ""])
        let crd: JSONValue = [
            "metadata": ["name": "widgets.example.com", "creationTimestamp": "2026-11-21T19:45:23.5+01:00"]
        ]
        #expect(
            TablePrinter.cells(for: crd, resource: "customresourcedefinitions", group: "apiextensions.k8s.io", now: now)
                == ["widgets.example.com", "2026-11-21T18:45:23Z"])
        let undated: JSONValue = ["metadata": ["name": "x"]]
        #expect(
            TablePrinter.cells(for: undated, resource: "roles", group: "rbac.authorization.k8s.io", now: now) == [
                "x", "0001-01-01T00:00:00Z",
            ])
    }
}

@Suite("Table document")
struct TableDocumentTests {
    @Test func listTableCarriesColumnsRowsAndPartialMetadata() {
        let pod: JSONValue = [
            "apiVersion": "v1", "kind": "Pod", "metadata": metadata("done"), "spec": ["containers": [["name": "a"]]],
            "status": ["phase": "Succeeded"],
        ]
        let table = TablePrinter.table(
            for: [pod], printer: TablePrinter.printer(group: "", resource: "pods"), now: now,
            options: TableRenderOptions(resourceVersion: "42", continueToken: "abc"))
        #expect(table["kind"] == "Table")
        #expect(table["apiVersion"] == "meta.k8s.io/v1")
        #expect(table["metadata"] == ["resourceVersion": "42", "continue": "abc"])
        #expect(table["columnDefinitions"]?.arrayValue?.count == 9)
        #expect(
            table["columnDefinitions"]?.arrayValue?.first == [
                "name": "Name", "type": "string", "format": "name", "description": .string(ColumnText.name),
                "priority": 0,
            ])
        let row = table["rows"]?.arrayValue?.first
        #expect(row?["cells"]?.arrayValue?.count == 9)
        #expect(row?["conditions"]?.arrayValue?.first?["reason"] == "Succeeded")
        #expect(
            row?["object"] == [
                "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata("done"),
            ])
    }

    @Test func watchEventsAfterTheFirstOmitColumnDefinitions() {
        let table = TablePrinter.table(
            for: [["metadata": metadata("x")]], printer: TablePrinter.defaultPrinter, now: now,
            options: TableRenderOptions(includeObject: .none, includeColumnDefinitions: false))
        #expect(table["columnDefinitions"] == .null)
        #expect(table["rows"]?.arrayValue?.first?["object"] == .null)
        #expect(table["metadata"] == .object(JSONObject()))
        let full = TablePrinter.table(
            for: [["kind": "ConfigMap", "metadata": metadata("x")]], printer: TablePrinter.defaultPrinter, now: now,
            options: TableRenderOptions(includeObject: .object))
        #expect(full["rows"]?.arrayValue?.first?["object"]?["kind"] == "ConfigMap")
    }
}

@Suite("ControllerRevision printer")
struct ControllerRevisionPrinterTests {
    @Test func theControllerIsKindGroupAndName() {
        var owned = metadata("web-7c9f")
        owned["ownerReferences"] = [
            ["apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "u", "controller": true]
        ]
        let revision: JSONValue = ["kind": "ControllerRevision", "metadata": owned, "revision": 3]
        let cells = TablePrinter.cells(for: revision, resource: "controllerrevisions", group: "apps", now: now)
        #expect(cells == ["web-7c9f", "statefulset.apps/web", 3, "5m"])
        let orphan: JSONValue = ["kind": "ControllerRevision", "metadata": metadata("lost"), "revision": 1]
        #expect(
            strings(TablePrinter.cells(for: orphan, resource: "controllerrevisions", group: "apps", now: now))[1]
                == "<none>")
        #expect(
            TablePrinter.columns(for: "controllerrevisions", group: "apps").map(\.name) == [
                "Name", "Controller", "Revision", "Age",
            ])
    }
}
