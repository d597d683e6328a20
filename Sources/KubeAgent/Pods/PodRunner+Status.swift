import Foundation
import KubeAPI
import KubeServer

/// The pod's status as the kubelet reports it, patched when it changed.
extension PodRunner {
    func report() async {
        let status = computeStatus()
        guard status != reported else { return }
        do {
            _ = try await runtime.client.patch(
                podPath + "/status", .merge, ["status": status])
            reported = status
        } catch {
            if error.code == 404 { return }
            runtime.logger.debug("pod \(namespace)/\(name) status: \(error.message)")
            wake(at: Date().addingTimeInterval(1))
        }
    }

    func computeStatus() -> JSONValue {
        let now = Date()
        let inits = containers.filter(\.isInit)
        let regular = containers.filter { !$0.isInit }
        let initsDone = inits.allSatisfy { record in
            record.isSidecar
                ? record.isRunning && record.started : (record.lastExit?.exit.code == 0 && !record.isRunning)
        }
        let initFailed =
            restartPolicy == "Never"
            && inits.contains { !$0.isSidecar && !$0.isRunning && ($0.lastExit.map { $0.exit.code != 0 } ?? false) }
        var phase = "Pending"
        if initFailed {
            phase = "Failed"
        } else if initsDone {
            let willRun = regular.contains { record in
                if record.isRunning { return true }
                guard let last = record.lastExit else { return true }
                return restartPolicy == "Always" || (restartPolicy == "OnFailure" && last.exit.code != 0)
            }
            if !willRun {
                phase = regular.allSatisfy { $0.lastExit?.exit.code == 0 } ? "Succeeded" : "Failed"
            } else if regular.contains(where: { $0.isRunning || $0.lastExit != nil }) {
                phase = "Running"
            }
        }
        terminal = phase == "Succeeded" || phase == "Failed"
        let allReady = !regular.isEmpty && regular.allSatisfy(\.ready) && phase == "Running"
        let previous = pod[path: "status", "conditions"]?.arrayValue ?? []
        func condition(_ type: String, _ value: Bool, reason: String? = nil) -> JSONValue {
            let status = value ? "True" : "False"
            let old = previous.first { $0["type"]?.stringValue == type }
            let time =
                old?["status"]?.stringValue == status
                ? old?["lastTransitionTime"] ?? .string(APITime.format(now))
                : .string(APITime.format(now))
            var result: JSONValue = [
                "type": .string(type), "status": .string(status), "lastProbeTime": nil, "lastTransitionTime": time,
            ]
            if let reason, !value { result["reason"] = .string(reason) }
            return result
        }
        var conditions: [JSONValue] = [
            condition("PodReadyToStartContainers", sandbox != nil),
            condition("Initialized", initsDone, reason: "ContainersNotInitialized"),
            condition("Ready", allReady, reason: terminal ? "PodCompleted" : "ContainersNotReady"),
            condition("ContainersReady", allReady, reason: terminal ? "PodCompleted" : "ContainersNotReady"),
        ]
        if let scheduled = previous.first(where: { $0["type"]?.stringValue == "PodScheduled" }) {
            conditions.append(scheduled)
        }
        var status: JSONValue = [
            "phase": .string(phase), "conditions": .array(conditions),
            "hostIP": .string(runtime.hostIP), "hostIPs": [["ip": .string(runtime.hostIP)]],
            "containerStatuses": .array(
                regular.map {
                    $0.status(containerID: containerID($0), podInitializing: !initsDone, now: now)
                }),
        ]
        if let sandboxError {
            status["message"] = .string(sandboxError.message)
            status["reason"] = .string(sandboxError.reason)
        }
        if !inits.isEmpty {
            status["initContainerStatuses"] = .array(
                inits.map { $0.status(containerID: containerID($0), podInitializing: false, now: now) })
        }
        if let sandbox {
            status["podIP"] = .string(sandbox.podIP)
            status["podIPs"] = [["ip": .string(sandbox.podIP)]]
        } else if let ip = pod[path: "status", "podIP"] {
            status["podIP"] = ip
            status["podIPs"] = pod[path: "status", "podIPs"] ?? nil
        }
        if let startTime { status["startTime"] = .string(APITime.format(startTime)) }
        return status
    }
}
