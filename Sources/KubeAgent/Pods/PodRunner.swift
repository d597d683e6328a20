import Foundation
import KubeAPI
import KubeServer
import Logging

/// Runs one pod bound to this node, level-triggered as the kubelet's pod worker: on every change (the pod's
/// spec, a container's end, a probe's verdict, a back-off expiring) it compares what runs with what should, acts,
/// and reports the pod's status when it changed.
actor PodRunner {
    let uid: String
    let key: String
    private var pod: JSONValue
    private let runtime: AgentRuntime
    private var containers: [ContainerRecord]
    private var sandbox: PodSandbox?
    private var address: String?
    private var volumes: [String: String] = [:]
    private var sandboxError: ContainerConfigError?
    private var reported: JSONValue?
    private var removed = false
    private var finished = false
    private var terminal = false
    /// The agent is shutting down: nothing new starts (a reconcile suspended at an await may resume after
    /// `shutdown` ran, and must not spawn what nobody would stop).
    private var stopping = false
    private let wakeups: AsyncStream<Void>.Continuation
    private let stream: AsyncStream<Void>
    private var startTime: Date?

    init(pod: JSONValue, runtime: AgentRuntime) {
        uid = pod[path: "metadata", "uid"]?.stringValue ?? ""
        key = AgentRuntime.key(uid: uid)
        self.pod = pod
        self.runtime = runtime
        let inits = (pod[path: "spec", "initContainers"]?.arrayValue ?? []).map {
            ContainerRecord(spec: $0, isInit: true)
        }
        let regular = (pod[path: "spec", "containers"]?.arrayValue ?? []).map {
            ContainerRecord(spec: $0, isInit: false)
        }
        var all = inits + regular
        // Restart counts go on from what the pod reports (after an agent restart the containers start again).
        let reportedStatuses =
            (pod[path: "status", "containerStatuses"]?.arrayValue ?? [])
            + (pod[path: "status", "initContainerStatuses"]?.arrayValue ?? [])
        for index in all.indices {
            if let status = reportedStatuses.first(where: { $0["name"]?.stringValue == all[index].name }),
                status["containerID"] != nil
            {
                all[index].restartCount = Int(status["restartCount"]?.intValue ?? 0) + 1
            }
        }
        containers = all
        (stream, wakeups) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    var namespace: String { pod[path: "metadata", "namespace"]?.stringValue ?? "default" }
    var name: String { pod[path: "metadata", "name"]?.stringValue ?? "" }
    var podPath: String { KubeClient.path(apiVersion: "v1", plural: "pods", namespace: namespace, name: name) }

    func update(_ pod: JSONValue) {
        self.pod = pod
        wakeups.yield()
    }

    /// The pod is gone from the API (force-deleted): stop everything now.
    func remove() {
        removed = true
        wakeups.yield()
    }

    nonisolated func wake() { wakeups.yield() }

    private func wake(at date: Date) {
        let delay = max(0, date.timeIntervalSinceNow)
        Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int(delay * 1000) + 5))
            self?.wake()
        }
    }

    /// Runs until the pod is gone and everything it started has ended.
    func run() async {
        for await _ in stream {
            await reconcile()
            if finished { break }
        }
    }

    private var deleting: Bool { pod[path: "metadata", "deletionTimestamp"] != nil }
    private var restartPolicy: String { pod[path: "spec", "restartPolicy"]?.stringValue ?? "Always" }

    private func reconcile() async {
        if removed || deleting {
            let grace =
                removed
                ? 1
                : pod[path: "metadata", "deletionGracePeriodSeconds"]?.intValue
                    ?? pod[path: "spec", "terminationGracePeriodSeconds"]?.intValue ?? 30
            await stopAll(grace: .seconds(grace), reason: "Killing")
            tearDown()
            if !removed {
                let options: JSONValue = [
                    "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                    "preconditions": ["uid": .string(uid)],
                ]
                _ = try? await runtime.client.delete(podPath, options: options)
            }
            try? FileManager.default.removeItem(atPath: runtime.podDirectory(uid: uid))
            try? FileManager.default.removeItem(atPath: runtime.logDirectory(pod: pod))
            finished = true
            return
        }
        if terminal || stopping { return }
        if sandbox == nil { await createSandbox() }
        if stopping {
            tearDown()
            return
        }
        if sandbox != nil {
            startDue()
        }
        await report()
        if terminal {
            await stopAll(
                grace: .seconds(pod[path: "spec", "terminationGracePeriodSeconds"]?.intValue ?? 30), reason: nil)
            tearDown()
            await report()
        }
    }

    private func createSandbox() async {
        do {
            if address == nil, pod[path: "spec", "hostNetwork"]?.boolValue != true, runtime.settings.isolation {
                address = runtime.addresses.take()
            }
            let directory = runtime.podDirectory(uid: uid)
            let made = try await PodSandbox.create(
                pod: pod, key: key, address: address, network: runtime.network, settings: runtime.settings,
                hostIP: runtime.hostIP, directory: directory + "/etc")
            sandbox = made
            startTime = startTime ?? Date()
            let client = runtime.client
            let pod = pod
            let podVolumes = PodVolumes(
                pod: pod, directory: directory + "/volumes", environment: environment(podIP: made.podIP),
                token: { audience, expiration in
                    try await Self.token(client: client, pod: pod, audience: audience, expiration: expiration)
                })
            volumes = try await podVolumes.materialize()
            sandboxError = nil
        } catch {
            let failure =
                error as? ContainerConfigError
                ?? ContainerConfigError(reason: "CreatePodSandboxError", message: "\(error)")
            sandboxError = failure
            if let made = sandbox { made.destroy(network: runtime.network, instance: runtime.settings.instance) }
            sandbox = nil
            runtime.logger.warning("pod \(namespace)/\(name): \(failure.message)")
            wake(at: Date().addingTimeInterval(2))
        }
    }

    static func token(client: KubeClient, pod: JSONValue, audience: String?, expiration: Int64) async throws -> String {
        let namespace = pod[path: "metadata", "namespace"]?.stringValue ?? "default"
        let account = pod[path: "spec", "serviceAccountName"]?.stringValue ?? "default"
        var spec: JSONValue = [
            "expirationSeconds": .int(expiration),
            "boundObjectRef": [
                "kind": "Pod", "apiVersion": "v1", "name": pod[path: "metadata", "name"] ?? "",
                "uid": pod[path: "metadata", "uid"] ?? "",
            ],
        ]
        if let audience { spec["audiences"] = [.string(audience)] }
        let request: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec]
        let path = KubeClient.path(
            apiVersion: "v1", plural: "serviceaccounts", namespace: namespace, name: account, subresource: "token")
        let answer = try await client.create(path, request)
        guard let token = answer[path: "status", "token"]?.stringValue else {
            throw ContainerConfigError(message: "no token for service account \(account)")
        }
        return token
    }

    private func environment(podIP: String) -> PodEnvironment {
        PodEnvironment(pod: pod, objects: runtime.objects, podIP: podIP, hostIP: runtime.hostIP)
    }

    /// Starts what should run now: init containers one after another (sidecars stay), then every container,
    /// restarting ended ones as `restartPolicy` says once their back-off has passed.
    private func startDue() {
        let now = Date()
        for index in containers.indices where containers[index].isInit {
            let record = containers[index]
            if record.isSidecar {
                if !record.isRunning, due(record, now) { start(index) }
                if !containers[index].isRunning || !containers[index].started { return }
                continue
            }
            if let last = record.lastExit, last.exit.code == 0, !record.isRunning { continue }
            if record.isRunning { return }
            if record.lastExit != nil, restartPolicy == "Never" { return }
            if due(record, now) { start(index) }
            return
        }
        for index in containers.indices where !containers[index].isInit {
            let record = containers[index]
            guard !record.isRunning else { continue }
            if let last = record.lastExit {
                let restarts = restartPolicy == "Always" || (restartPolicy == "OnFailure" && last.exit.code != 0)
                if !restarts { continue }
            }
            if due(record, now) { start(index) }
        }
    }

    private func due(_ record: ContainerRecord, _ now: Date) -> Bool {
        guard let next = record.nextStart, next > now else { return true }
        wake(at: next)
        return false
    }

    private func containerID(_ record: ContainerRecord) -> String {
        "kelson://\(key)-\(record.name)-\(record.restartCount)"
    }

    private func start(_ index: Int) {
        guard let sandbox, !stopping else { return }
        var record = containers[index]
        if record.lastExit != nil { record.restartCount += 1 }
        record.nextStart = nil
        do {
            let variables = try environment(podIP: sandbox.podIP).variables(for: record.spec)
            let known = Dictionary(variables, uniquingKeysWith: { _, last in last })
            let command = (record.spec["command"]?.arrayValue ?? []).compactMap(\.stringValue)
            let arguments = (record.spec["args"]?.arrayValue ?? []).compactMap(\.stringValue)
            let argv = (command + arguments).map { PodEnvironment.expand($0, known) }
            guard !argv.isEmpty else {
                throw ContainerConfigError(
                    message:
                        "container \(record.name) has no command: this node runs commands on the host's filesystem and does not pull images"
                )
            }
            let podVolumes = PodVolumes(
                pod: pod, directory: runtime.podDirectory(uid: uid) + "/volumes",
                environment: environment(podIP: sandbox.podIP), token: { _, _ in "" })
            let mounts = try podVolumes.mounts(for: record.spec, volumes: volumes, podFiles: sandbox.files)
            let cgroup = CGroup(relativePath: "kelson-\(runtime.settings.instance)/\(uid)/\(record.name)")
            try cgroup.create(
                memoryLimit: Quantity.value(record.spec[path: "resources", "limits", "memory"]),
                cpuMillis: Quantity.value(record.spec[path: "resources", "limits", "cpu"], scale: 1000))
            let security = record.spec["securityContext"]
            let podSecurity = pod[path: "spec", "securityContext"]
            let uid = (security?["runAsUser"] ?? podSecurity?["runAsUser"])?.intValue
            let gid = (security?["runAsGroup"] ?? podSecurity?["runAsGroup"])?.intValue
            var launchEnvironment = variables
            if !launchEnvironment.contains(where: { $0.0 == "HOSTNAME" }) {
                launchEnvironment.insert(("HOSTNAME", pod[path: "spec", "hostname"]?.stringValue ?? name), at: 0)
            }
            let launch = ContainerLaunch(
                directory: runtime.podDirectory(uid: self.uid) + "/containers/\(record.name)", argv: argv,
                environment: launchEnvironment, workingDirectory: record.spec["workingDir"]?.stringValue,
                user: uid.map { ($0, gid) }, mounts: mounts, networkNamespace: sandbox.networkNamespace,
                utsNamespace: sandbox.utsNamespace, ipcNamespace: sandbox.ipcNamespace, cgroup: cgroup,
                isolated: runtime.settings.isolation)
            let log = ContainerLogWriter(
                path: runtime.logPath(pod: pod, container: record.name, restart: record.restartCount),
                maximumBytes: runtime.settings.logFileMaximumBytes, files: runtime.settings.logFilesMaximum)
            let process = try ContainerProcess(launch: launch, keepsStdin: record.spec["stdin"]?.boolValue == true) {
                stream, bytes in log.write(stream: stream, bytes)
            }
            record.process = process
            record.log = log
            record.waiting = nil
            record.killedBy = nil
            record.started = Probe(record.spec["startupProbe"], container: record.spec) == nil
            record.ready = false
            containers[index] = record
            let name = record.name
            Task { [weak self] in
                let exit = await process.wait()
                log.close()
                await self?.ended(name, process: process, exit: exit)
            }
            containers[index].probes = probeTask(name: name, process: process, podIP: sandbox.podIP)
            if record.restartCount == 0 {
                // Where the kubelet would say the image was pulled or present: there are no images here.
                let image = record.spec["image"]?.stringValue ?? ""
                runtime.events.record(
                    pod, reason: "Pulled",
                    message:
                        "Container image \"\(image)\" is not pulled: the command runs on the node's own filesystem",
                    component: "kubelet")
            }
            runtime.events.record(pod, reason: "Started", message: "Started container \(name)", component: "kubelet")
        } catch {
            let failure =
                error as? ContainerConfigError ?? ContainerConfigError(reason: "RunContainerError", message: "\(error)")
            record.waiting = (failure.reason, failure.message)
            record.nextStart = Date().addingTimeInterval(2)
            containers[index] = record
            runtime.events.record(
                pod, type: "Warning", reason: "Failed", message: "Error: \(failure.message)", component: "kubelet")
            wake(at: Date().addingTimeInterval(2))
        }
    }

    private func ended(_ name: String, process: ContainerProcess, exit: ContainerProcess.Exit) {
        guard let index = containers.firstIndex(where: { $0.name == name }), containers[index].process === process
        else { return }
        containers[index].ended(exit, startedAt: process.startedAt)
        let record = containers[index]
        let restarts =
            record.isSidecar || (record.isInit && restartPolicy != "Never") || restartPolicy == "Always"
            || (restartPolicy == "OnFailure" && exit.code != 0)
        if !restarts { containers[index].nextStart = nil }
        if restarts, exit.code != 0 || containers[index].killedBy != nil {
            runtime.events.record(
                pod, type: "Warning", reason: "BackOff",
                message: "Back-off restarting failed container \(name) in pod \(self.name)_\(namespace)(\(uid))",
                component: "kubelet")
        }
        wakeups.yield()
    }

    // MARK: Probes

    private func probeTask(name: String, process: ContainerProcess, podIP: String) -> Task<Void, Never>? {
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
    private static func probe(_ probe: Probe, podIP: String, enter: @Sendable () -> [String]) async -> Bool {
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
    private static func watch(
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

    private func markStarted(_ name: String, process: ContainerProcess, ready: Bool) {
        guard let index = containers.firstIndex(where: { $0.name == name }), containers[index].process === process
        else { return }
        containers[index].started = true
        if ready { containers[index].ready = true }
        wakeups.yield()
        Task { await self.runPostStart(name, process: process) }
    }

    private func runPostStart(_ name: String, process: ContainerProcess) async {
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

    private func markReady(_ name: String, process: ContainerProcess, ready: Bool) {
        guard let index = containers.firstIndex(where: { $0.name == name }), containers[index].process === process
        else { return }
        if containers[index].ready != ready {
            containers[index].ready = ready
            wakeups.yield()
        }
    }

    private func probeFailed(_ name: String, process: ContainerProcess, kind: String) async {
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

    // MARK: Stopping

    private func stopAll(grace: Duration, reason: String?) async {
        let running = containers.filter(\.isRunning)
        // preStop hooks first, then SIGTERM to all, sidecars last (after the others ended).
        for record in running {
            if let reason {
                runtime.events.record(
                    pod, reason: reason, message: "Stopping container \(record.name)", component: "kubelet")
            }
            if let command = record.spec[path: "lifecycle", "preStop", "exec", "command"]?.arrayValue,
                let process = record.process, let pid = process.initPID
            {
                let enter = process.launch.enterPrefix(pid: pid)
                _ = await Probe.exec(enter + command.compactMap(\.stringValue), timeout: grace)
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for record in running where !record.isSidecar {
                if let process = record.process { group.addTask { _ = await process.stop(grace: grace) } }
            }
        }
        for record in running where record.isSidecar {
            if let process = record.process { _ = await process.stop(grace: .seconds(2)) }
        }
        for index in containers.indices {
            containers[index].probes?.cancel()
            if let process = containers[index].process, let exit = process.exit {
                containers[index].lastExit = (exit, process.startedAt)
                containers[index].process = nil
            }
            CGroup(relativePath: "kelson-\(runtime.settings.instance)/\(uid)/\(containers[index].name)").destroy()
        }
        CGroup.removeTree(CGroup.root + "/memory/kelson-\(runtime.settings.instance)/\(uid)")
        for directory in CGroup(relativePath: "kelson-\(runtime.settings.instance)/\(uid)").directories {
            CGroup.removeTree(directory)
        }
    }

    private func tearDown() {
        sandbox?.destroy(network: runtime.network, instance: runtime.settings.instance)
        sandbox = nil
        if let address {
            runtime.addresses.give(address)
            self.address = nil
        }
    }

    /// Stops everything on agent shutdown, without touching the API.
    func shutdown(grace: Duration) async {
        stopping = true
        await stopAll(grace: grace, reason: nil)
        tearDown()
        finished = true
        wakeups.finish()
    }

    // MARK: Status

    private func report() async {
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

    private func computeStatus() -> JSONValue {
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

    // MARK: Streams

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
