import Foundation
import KubeAPI
import KubeServer

/// A container run's probes (startup, then readiness and liveness together) and its lifecycle hooks.
extension PodRunner {
    func probeTask(name: String, process: ContainerProcess, podIP: String) -> Task<Void, Never>? {
        guard let index = containers.firstIndex(where: { $0.name == name }) else { return nil }
        let spec = containers[index].spec
        let startup = Probe(spec["startupProbe"], container: spec)
        let readiness = Probe(spec["readinessProbe"], container: spec)
        let liveness = Probe(spec["livenessProbe"], container: spec)
        let hasReadiness = readiness != nil
        return Task { [weak self] in
            let enter = { @Sendable () -> [String] in
                guard let pid = process.initPID else { return [] }
                return process.launch.enterPrefix(pid: pid)
            }
            if let startup {
                let passed = await Self.probe(startup, podIP: podIP, enter: enter)
                guard !Task.isCancelled else { return }
                if !passed {
                    await self?.probeFailed(name, process: process, kind: "Startup")
                    return
                }
            }
            await self?.markStarted(name, process: process, ready: !hasReadiness)
            let runner = self
            await withTaskGroup(of: Void.self) { group in
                if let readiness {
                    group.addTask {
                        await Self.watch(readiness, podIP: podIP, enter: enter) { ok in
                            await runner?.markReady(name, process: process, ready: ok)
                            return true
                        }
                    }
                }
                if let liveness {
                    group.addTask {
                        await Self.watch(liveness, podIP: podIP, enter: enter) { ok in
                            if !ok { await runner?.probeFailed(name, process: process, kind: "Liveness") }
                            return ok
                        }
                    }
                }
            }
        }
    }

    /// A startup probe until it passes (true) or fails `failureThreshold` times in a row (false).
    static func probe(_ probe: Probe, podIP: String, enter: @Sendable () -> [String]) async -> Bool {
        try? await Task.sleep(for: probe.initialDelay)
        var failures = 0
        while !Task.isCancelled {
            if await probe.check(podIP: podIP, enter: enter()) == nil { return true }
            failures += 1
            if failures >= probe.failureThreshold { return false }
            try? await Task.sleep(for: probe.period)
        }
        return false
    }

    /// A readiness or liveness probe every period; `verdict` is told each change of state (after the thresholds),
    /// and stops the watch by answering false.
    static func watch(
        _ probe: Probe, podIP: String, enter: @Sendable () -> [String], verdict: @Sendable (Bool) async -> Bool
    ) async {
        try? await Task.sleep(for: probe.initialDelay)
        var successes = 0
        var failures = 0
        var state: Bool?
        while !Task.isCancelled {
            let passed = await probe.check(podIP: podIP, enter: enter()) == nil
            if passed {
                successes += 1
                failures = 0
            } else {
                failures += 1
                successes = 0
            }
            var next = state
            if successes >= probe.successThreshold { next = true }
            if failures >= probe.failureThreshold { next = false }
            if state == nil, !passed, failures < probe.failureThreshold { next = false }
            if next != state, let next {
                state = next
                if !(await verdict(next)) { return }
            }
            try? await Task.sleep(for: probe.period)
        }
    }

    func markStarted(_ name: String, process: ContainerProcess, ready: Bool) {
        guard let index = containers.firstIndex(where: { $0.name == name }), containers[index].process === process
        else { return }
        containers[index].started = true
        if ready { containers[index].ready = true }
        wakeups.yield()
        Task { await self.runPostStart(name, process: process) }
    }

    func runPostStart(_ name: String, process: ContainerProcess) async {
        guard let index = containers.firstIndex(where: { $0.name == name }),
            let command = containers[index].spec[path: "lifecycle", "postStart", "exec", "command"]?.arrayValue
        else { return }
        let enter = process.initPID.map { process.launch.enterPrefix(pid: $0) } ?? []
        if let failure = await Probe.exec(enter + command.compactMap(\.stringValue), timeout: .seconds(30)) {
            runtime.events.record(
                pod, type: "Warning", reason: "FailedPostStartHook", message: "PostStartHook failed: \(failure)",
                component: "kubelet")
            process.signal(SIGKILL)
        }
    }

    func markReady(_ name: String, process: ContainerProcess, ready: Bool) {
        guard let index = containers.firstIndex(where: { $0.name == name }), containers[index].process === process
        else { return }
        if containers[index].ready != ready {
            containers[index].ready = ready
            wakeups.yield()
        }
    }

    func probeFailed(_ name: String, process: ContainerProcess, kind: String) async {
        guard let index = containers.firstIndex(where: { $0.name == name }), containers[index].process === process
        else { return }
        containers[index].killedBy = kind
        runtime.events.record(
            pod, type: "Warning", reason: "Unhealthy", message: "\(kind) probe failed", component: "kubelet")
        runtime.events.record(
            pod, reason: "Killing",
            message: "Container \(name) failed \(kind.lowercased()) probe, will be restarted", component: "kubelet")
        let grace = pod[path: "spec", "terminationGracePeriodSeconds"]?.intValue ?? 30
        Task { _ = await process.stop(grace: .seconds(grace)) }
    }
}
