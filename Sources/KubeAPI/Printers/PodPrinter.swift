import Foundation

/// `kubectl get pods`: the READY / STATUS / RESTARTS logic of kube-apiserver's `printPod`
/// (kubernetes `pkg/printers/internalversion/printers.go`).
enum PodPrinter {
    static let columns: [TableColumn] = [
        .nameColumn,
        TableColumn(
            name: "Ready", type: "string",
            description: "The aggregate readiness state of this pod for accepting traffic."),
        TableColumn(
            name: "Status", type: "string", description: "The aggregate status of the containers in this pod."),
        TableColumn(
            name: "Restarts", type: "string",
            description: "The number of times the containers in this pod have been restarted and when the last "
                + "container in this pod has restarted."),
        .ageColumn,
        TableColumn(name: "IP", type: "string", description: "The pod's primary IP address.", priority: 1),
        TableColumn(name: "Node", type: "string", description: "The node the pod is bound to.", priority: 1),
        TableColumn(
            name: "Nominated Node", type: "string",
            description: "The node the scheduler nominated for this pod after preempting others.", priority: 1),
        TableColumn(
            name: "Readiness Gates", type: "string",
            description: "How many of the pod's readiness gates report True.", priority: 1),
    ]

    static let printer = ResourcePrinter(columnDefinitions: columns) { object, now in row(object, now: now) }

    static func row(_ object: JSONValue, now: Date) -> TableRowContent {
        let pod = PrintedObject(object)
        let summary = PodSummary(pod)
        var restarts = "\(summary.restarts)"
        if summary.restarts != 0, let lastRestart = summary.lastRestart {
            restarts = "\(summary.restarts) (\(HumanDuration.age(of: lastRestart, now: now)) ago)"
        }
        let cells: [JSONValue] = [
            .string(pod.name), .string("\(summary.readyContainers)/\(summary.totalContainers)"),
            .string(summary.reason), .string(restarts), .string(pod.age(now: now)),
            .string(podIP(pod)), .string(orNone(pod["spec", "nodeName"].string)),
            .string(orNone(pod["status", "nominatedNodeName"].string)), .string(readinessGates(pod)),
        ]
        return TableRowContent(cells: cells, conditions: rowConditions(phase: pod["status", "phase"].string))
    }

    /// Finished pods carry a `Completed` row condition, as kube-apiserver marks them.
    static func rowConditions(phase: String) -> [JSONValue] {
        switch phase {
        case "Succeeded":
            [
                [
                    "type": "Completed", "status": "True", "reason": "Succeeded",
                    "message": "The pod has completed successfully.",
                ]
            ]
        case "Failed":
            [["type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."]]
        default: []
        }
    }

    private static func orNone(_ text: String) -> String { text.isEmpty ? "<none>" : text }

    /// `status.podIPs[0].ip`; v1 objects that carry only `podIP` convert to the same list.
    private static func podIP(_ pod: PrintedObject) -> String {
        let status = pod["status"]
        let ip = status["podIPs"].array.first?["ip"].string ?? status["podIP"].string
        return orNone(ip)
    }

    private static func readinessGates(_ pod: PrintedObject) -> String {
        let gates = pod["spec", "readinessGates"].array
        if gates.isEmpty { return "<none>" }
        let conditions = pod["status", "conditions"]
        let trueCount = gates.filter { conditions.condition($0["conditionType"].string)?["status"].string == "True" }
        return "\(trueCount.count)/\(gates.count)"
    }
}

/// The READY, STATUS and RESTARTS figures of one pod.
struct PodSummary {
    private(set) var reason: String
    private(set) var readyContainers = 0
    private(set) var totalContainers: Int
    private(set) var restarts: Int64 = 0
    private(set) var lastRestart: Date?
    private var sidecarRestarts: Int64 = 0
    private var sidecarLastRestart: Date?

    init(_ pod: PrintedObject) {
        let status = pod["status"]
        let phase = status["phase"].string
        reason = status["reason"].string.isEmpty ? phase : status["reason"].string
        for condition in status["conditions"].array
        where condition["type"].string == "PodScheduled" && condition["reason"].string == "SchedulingGated" {
            reason = "SchedulingGated"
        }
        let initSpecs = pod["spec", "initContainers"].array
        totalContainers = pod["spec", "containers"].count + initSpecs.filter(Self.isSidecar).count
        let sidecarNames = Set(initSpecs.filter(Self.isSidecar).map { $0["name"].string })

        let initializing = summarizeInitContainers(status, sidecarNames: sidecarNames, initCount: initSpecs.count)
        let initialized = status["conditions"].condition("Initialized")?["status"].string == "True"
        if !initializing || initialized {
            summarizeContainers(status)
        }

        if pod.isBeingDeleted && status["reason"].string == "NodeLost" {
            reason = "Unknown"
        } else if pod.isBeingDeleted && phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating"
        }
    }

    /// An init container with `restartPolicy: Always` is a sidecar: it keeps running and counts as a container.
    private static func isSidecar(_ container: PrintedObject) -> Bool {
        container["restartPolicy"].string == "Always"
    }

    private static func lastTerminationDate(_ containerStatus: PrintedObject) -> Date? {
        let terminated = containerStatus["lastState", "terminated"]
        guard terminated.isPresent else { return nil }
        return terminated["finishedAt"].timestamp
    }

    private static func later(_ current: Date?, _ candidate: Date?) -> Date? {
        guard let candidate else { return current }
        guard let current else { return candidate }
        return candidate > current ? candidate : current
    }

    /// Walks init containers in order until the first one that has not finished; returns whether the pod is
    /// still initializing. Restarts counted here are replaced by the sidecar-only count once initialized.
    private mutating func summarizeInitContainers(
        _ status: PrintedObject, sidecarNames: Set<String>, initCount: Int
    ) -> Bool {
        for (index, container) in status["initContainerStatuses"].array.enumerated() {
            restarts += container["restartCount"].int
            lastRestart = Self.later(lastRestart, Self.lastTerminationDate(container))
            let isSidecar = sidecarNames.contains(container["name"].string)
            if isSidecar {
                sidecarRestarts += container["restartCount"].int
                sidecarLastRestart = Self.later(sidecarLastRestart, Self.lastTerminationDate(container))
            }
            let terminated = container["state", "terminated"]
            let waitingReason = container["state", "waiting", "reason"].string
            if terminated.isPresent && terminated["exitCode"].int == 0 { continue }
            if isSidecar && container["started"].bool {
                if container["ready"].bool { readyContainers += 1 }
                continue
            }
            if terminated.isPresent {
                let terminatedReason = terminated["reason"].string
                if !terminatedReason.isEmpty {
                    reason = "Init:" + terminatedReason
                } else if terminated["signal"].int != 0 {
                    reason = "Init:Signal:\(terminated["signal"].int)"
                } else {
                    reason = "Init:ExitCode:\(terminated["exitCode"].int)"
                }
            } else if !waitingReason.isEmpty && waitingReason != "PodInitializing" {
                reason = "Init:" + waitingReason
            } else {
                reason = "Init:\(index)/\(initCount)"
            }
            return true
        }
        return false
    }

    /// Walks app containers from last to first, so the first container's waiting/terminated reason wins.
    private mutating func summarizeContainers(_ status: PrintedObject) {
        // Once initialized, only sidecars' restarts (among init containers seen above) still count.
        restarts = sidecarRestarts
        lastRestart = sidecarLastRestart
        var hasRunning = false
        for container in status["containerStatuses"].array.reversed() {
            restarts += container["restartCount"].int
            lastRestart = Self.later(lastRestart, Self.lastTerminationDate(container))
            let waitingReason = container["state", "waiting", "reason"].string
            let terminated = container["state", "terminated"]
            if !waitingReason.isEmpty {
                reason = waitingReason
            } else if terminated.isPresent && !terminated["reason"].string.isEmpty {
                reason = terminated["reason"].string
            } else if terminated.isPresent {
                reason =
                    terminated["signal"].int != 0
                    ? "Signal:\(terminated["signal"].int)" : "ExitCode:\(terminated["exitCode"].int)"
            } else if container["ready"].bool && container["state", "running"].isPresent {
                hasRunning = true
                readyContainers += 1
            }
        }
        // A pod whose last-listed container completed but another still runs is not "Completed".
        if reason == "Completed" && hasRunning {
            let ready = status["conditions"].array.contains {
                $0["type"].string == "Ready" && $0["status"].string == "True"
            }
            reason = ready ? "Running" : "NotReady"
        }
    }
}
