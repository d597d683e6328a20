import Foundation
import KubeAPI
import KubeServer

/// What `pods/log`, exec and attach need from a running pod.
extension PodRunner {
    /// The log file of a container's current (or previous) run, and whether that run is still going.
    func logTarget(container: String?, previous: Bool) throws(KubeError) -> (
        path: String, running: Bool, container: String
    ) {
        let chosen: ContainerRecord?
        if let container, !container.isEmpty {
            chosen = containers.first { $0.name == container }
            guard chosen != nil else {
                let names = containers.filter { !$0.isInit }.map(\.name).joined(separator: " ")
                throw .badRequest(
                    "container \(container) is not valid for pod \(name); choose one of: [\(names)]")
            }
        } else {
            chosen = containers.first { !$0.isInit }
        }
        guard let record = chosen else { throw .badRequest("pod \(name) has no containers") }
        if previous {
            guard record.restartCount > 0, record.lastExit != nil || record.isRunning else {
                throw .badRequest(
                    "previous terminated container \"\(record.name)\" in pod \"\(name)\" not found")
            }
            return (
                runtime.logPath(pod: pod, container: record.name, restart: record.restartCount - 1), false, record.name
            )
        }
        if record.process == nil, record.lastExit == nil {
            let reason = record.waiting?.reason ?? "ContainerCreating"
            throw .badRequest("container \"\(record.name)\" in pod \"\(name)\" is waiting to start: \(reason)")
        }
        return (
            runtime.logPath(pod: pod, container: record.name, restart: record.restartCount), record.isRunning,
            record.name
        )
    }

    func isRunning(container: String) -> Bool { containers.first { $0.name == container }?.isRunning ?? false }

    /// How to run a command inside a running container (exec, probes): an argv prefix that joins its cgroup and
    /// enters its namespaces and root, and the container's environment.
    func entry(container: String?) throws(KubeError) -> (enter: [String], environment: [String: String]) {
        let chosen: ContainerRecord?
        if let container, !container.isEmpty {
            chosen = containers.first { $0.name == container }
            guard chosen != nil else {
                throw .badRequest("container \(container) is not valid for pod \(name)")
            }
        } else {
            chosen = containers.first { !$0.isInit }
        }
        guard let record = chosen, let process = record.process, record.isRunning, let pid = process.initPID else {
            throw .badRequest(
                "unable to upgrade connection: container not found (\"\(chosen?.name ?? container ?? "")\")")
        }
        var environment = Dictionary(process.launch.environment, uniquingKeysWith: { _, last in last })
        if environment["PATH"] == nil { environment["PATH"] = ContainerLaunch.defaultPath }
        return (process.launch.enterPrefix(pid: pid), environment)
    }

    /// A running container to attach to.
    func attachable(container: String?) throws(KubeError) -> AttachedContainer {
        let record =
            container.flatMap { name in containers.first { $0.name == name } } ?? containers.first { !$0.isInit }
        guard let record, let process = record.process, record.isRunning else {
            throw .badRequest("unable to upgrade connection: container not found (\"\(container ?? "")\")")
        }
        return AttachedContainer(
            process: process, tty: record.spec["tty"]?.boolValue == true,
            stdinOnce: record.spec["stdinOnce"]?.boolValue == true)
    }

    var containerNames: [String] { containers.filter { !$0.isInit }.map(\.name) }
}
