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
    var pod: JSONValue
    let runtime: AgentRuntime
    var containers: [ContainerRecord]
    var sandbox: PodSandbox?
    var address: String?
    var volumes: [String: String] = [:]
    var sandboxError: ContainerConfigError?
    var reported: JSONValue?
    var removed = false
    var finished = false
    var terminal = false
    /// The agent is shutting down: nothing new starts (a reconcile suspended at an await may resume after
    /// `shutdown` ran, and must not spawn what nobody would stop).
    var stopping = false
    let wakeups: AsyncStream<Void>.Continuation
    let stream: AsyncStream<Void>
    var startTime: Date?

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

    func wake(at date: Date) {
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

    var deleting: Bool { pod[path: "metadata", "deletionTimestamp"] != nil }
    var restartPolicy: String { pod[path: "spec", "restartPolicy"]?.stringValue ?? "Always" }

    func reconcile() async {
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

    func createSandbox() async {
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

    func environment(podIP: String) -> PodEnvironment {
        PodEnvironment(pod: pod, objects: runtime.objects, podIP: podIP, hostIP: runtime.hostIP)
    }

    /// Starts what should run now: init containers one after another (sidecars stay), then every container,
    /// restarting ended ones as `restartPolicy` says once their back-off has passed.
    func startDue() {
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

    func due(_ record: ContainerRecord, _ now: Date) -> Bool {
        guard let next = record.nextStart, next > now else { return true }
        wake(at: next)
        return false
    }

    func containerID(_ record: ContainerRecord) -> String {
        "kelson://\(key)-\(record.name)-\(record.restartCount)"
    }

    func start(_ index: Int) {
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

    func ended(_ name: String, process: ContainerProcess, exit: ContainerProcess.Exit) {
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

    // MARK: Stopping

    func stopAll(grace: Duration, reason: String?) async {
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
        for directory in CGroup(relativePath: "kelson-\(runtime.settings.instance)/\(uid)").directories {
            CGroup.removeTree(directory)
        }
    }

    func tearDown() {
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

}
