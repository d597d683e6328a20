import Foundation
import KubeAPI
import KubeServer

/// What the agent knows about one container of a pod across its runs.
struct ContainerRecord {
    let spec: JSONValue
    let isInit: Bool
    var process: ContainerProcess?
    var log: ContainerLogWriter?
    var restartCount = 0
    /// The last run that ended, with when it started.
    var lastExit: (exit: ContainerProcess.Exit, startedAt: Date)?
    /// Why it is not running yet (`ContainerCreating`, `CreateContainerConfigError`, …).
    var waiting: (reason: String, message: String?)?
    var backoff: Duration = .zero
    var nextStart: Date?
    var started = false
    var ready = false
    var probes: Task<Void, Never>?
    /// The run in progress was asked to stop by the agent (liveness, deletion), not ended by itself.
    var killedBy: String?

    var name: String { spec["name"]?.stringValue ?? "" }
    /// A sidecar: an init container with `restartPolicy: Always`.
    var isSidecar: Bool { isInit && spec["restartPolicy"]?.stringValue == "Always" }
    var isRunning: Bool { process != nil && process?.exit == nil }

    /// The kubelet's back-off after a run ended: 10 s, doubling to 5 min, reset after 10 min of a good run.
    mutating func ended(_ exit: ContainerProcess.Exit, startedAt: Date) {
        lastExit = (exit, startedAt)
        process = nil
        started = false
        ready = false
        probes?.cancel()
        probes = nil
        if exit.finishedAt.timeIntervalSince(startedAt) > 600 { backoff = .zero }
        // The first restart is at once; later ones wait 10 s, 20 s, … (the kubelet's back-off starts counting
        // at the first restart).
        if backoff == .zero {
            nextStart = nil
            backoff = .seconds(10)
        } else {
            nextStart = exit.finishedAt.addingTimeInterval(Double(backoff.components.seconds))
            backoff = min(backoff * 2, .seconds(300))
        }
    }

    static func terminatedReason(_ exit: ContainerProcess.Exit) -> String {
        exit.oomKilled ? "OOMKilled" : exit.code == 0 ? "Completed" : "Error"
    }

    /// `status.containerStatuses[]` as the kubelet reports it.
    func status(containerID: String, podInitializing: Bool, now: Date) -> JSONValue {
        func terminated(_ record: (exit: ContainerProcess.Exit, startedAt: Date)) -> JSONValue {
            var state: JSONValue = [
                "exitCode": .int(Int64(record.exit.code)), "reason": .string(Self.terminatedReason(record.exit)),
                "startedAt": .string(APITime.format(record.startedAt)),
                "finishedAt": .string(APITime.format(record.exit.finishedAt)),
                "containerID": .string(containerID),
            ]
            if let signal = record.exit.signal { state["signal"] = .int(Int64(signal)) }
            return ["terminated": state]
        }
        var state: JSONValue
        var lastState: JSONValue = [:]
        if let process, process.exit == nil {
            state = ["running": ["startedAt": .string(APITime.format(process.startedAt))]]
            if let lastExit { lastState = terminated(lastExit) }
        } else if let waiting {
            var body: JSONValue = ["reason": .string(waiting.reason)]
            if let message = waiting.message { body["message"] = .string(message) }
            state = ["waiting": body]
            if let lastExit { lastState = terminated(lastExit) }
        } else if let lastExit {
            if let nextStart, nextStart > now {
                state = [
                    "waiting": [
                        "reason": "CrashLoopBackOff",
                        "message": .string(
                            "back-off \(max(10, backoff.components.seconds / 2))s restarting failed container=\(name)"),
                    ]
                ]
                lastState = terminated(lastExit)
            } else {
                state = terminated(lastExit)
            }
        } else {
            state = ["waiting": ["reason": .string(podInitializing ? "PodInitializing" : "ContainerCreating")]]
        }
        var status: JSONValue = [
            "name": .string(name), "image": spec["image"] ?? "", "imageID": "",
            "ready": .bool(ready), "started": .bool(isRunning && started), "restartCount": .int(Int64(restartCount)),
            "state": state, "lastState": lastState,
        ]
        if process != nil || lastExit != nil { status["containerID"] = .string(containerID) }
        return status
    }
}
