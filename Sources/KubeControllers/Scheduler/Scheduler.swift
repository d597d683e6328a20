import Foundation
import KubeAPI
import KubeServer
import Synchronization

/// kube-scheduler inside `kelson server`: binds each pending pod of `default-scheduler` to the best node that
/// fits it, through `pods/binding`. A pod no node fits stays Pending with `PodScheduled=False`/`Unschedulable`
/// and a `FailedScheduling` event saying why, and is tried again when a node or a pod changes in a way that may
/// make room, and after a back-off (1 s doubling to 10 s, kube-scheduler's defaults).
final class Scheduler: Controller {
    let name = "scheduler"
    let queue = WorkQueue()
    /// Decisions are serialised by the cache's lock; workers only overlap the binding calls.
    let workers = 4
    let context: ControllerContext
    let pods: Informer
    let nodes: Informer
    let cache = SchedulerCache()
    /// Pods that fit nowhere at their last attempt, with how many attempts failed in a row.
    private let waiting = Mutex<[String: Int]>([:])

    static let schedulerName = "default-scheduler"

    init(context: ControllerContext) {
        self.context = context
        pods = context.informer(.pods)
        nodes = context.informer(.nodes)
        pods.onEvent { [self] event in
            let freed = cache.setPod(event.key, event.new)
            if let pod = event.new, Self.wantsScheduling(pod) {
                // A waiting pod whose status alone changed (our own condition) waits for its back-off.
                let statusOnly = event.old.map { Self.sameButStatus($0, pod) } ?? false
                if !statusOnly || !isWaiting(event.key) { queue.add(event.key) }
            } else {
                waiting.withLock { _ = $0.removeValue(forKey: event.key) }
            }
            if freed { retryWaiting() }
        }
        nodes.onEvent { [self] event in
            if let node = event.new {
                if cache.setNode(node) { retryWaiting() }
            } else {
                cache.removeNode(event.key)
            }
        }
    }

    /// Pending pods this scheduler places: no node yet, ours, not going away, not held by scheduling gates.
    static func wantsScheduling(_ pod: JSONValue) -> Bool {
        if let gates = pod[path: "spec", "schedulingGates"]?.arrayValue, !gates.isEmpty { return false }
        let node = pod[path: "spec", "nodeName"]?.stringValue ?? ""
        let scheduler = pod[path: "spec", "schedulerName"]?.stringValue ?? schedulerName
        return node.isEmpty && (scheduler.isEmpty || scheduler == schedulerName) && !pod.isDeleting
            && SchedulerCache.holdsResources(pod)
    }

    func allKeys() -> [String] { pods.objects.filter { Self.wantsScheduling($0) }.map(\.key) }

    private func isWaiting(_ key: String) -> Bool { waiting.withLock { $0[key] != nil } }

    private static func sameButStatus(_ old: JSONValue, _ new: JSONValue) -> Bool {
        old["spec"] == new["spec"] && old[path: "metadata", "labels"] == new[path: "metadata", "labels"]
    }

    /// The cluster changed so that a waiting pod may fit now: try them all again.
    private func retryWaiting() {
        for key in waiting.withLock({ Array($0.keys) }) { queue.add(key) }
    }

    func reconcile(_ key: String) async throws {
        guard let pod = pods.get(key), Self.wantsScheduling(pod), !cache.isPlaced(key) else {
            waiting.withLock { _ = $0.removeValue(forKey: key) }
            return
        }
        switch cache.schedule(key, pod: pod) {
        case .bind(let node):
            try await bind(pod, key: key, to: node)
        case .unschedulable(let message):
            guard !message.isEmpty else { return }
            try await markUnschedulable(pod, key: key, message: message)
        }
    }

    private func bind(_ pod: JSONValue, key: String, to node: String) async throws {
        let binding: JSONValue = [
            "apiVersion": "v1", "kind": "Binding",
            "metadata": ["name": .string(pod.name), "namespace": .string(pod.namespace)],
            "target": ["apiVersion": "v1", "kind": "Node", "name": .string(node)],
        ]
        do {
            _ = try await context.client.create(Collection.pods.path(key: key, subresource: "binding"), binding)
        } catch {
            cache.forget(key)
            // Gone, or bound by someone else (409): the informer will tell.
            if error.code == 404 || error.code == 409 { return }
            throw error
        }
        waiting.withLock { _ = $0.removeValue(forKey: key) }
        context.events.record(
            pod, reason: "Scheduled", message: "Successfully assigned \(key) to \(node)",
            component: Self.schedulerName)
    }

    private func markUnschedulable(_ pod: JSONValue, key: String, message: String) async throws {
        let attempts = waiting.withLock { waiting in
            waiting[key, default: 0] += 1
            return waiting[key] ?? 1
        }
        context.events.record(
            pod, type: "Warning", reason: "FailedScheduling", message: message, component: Self.schedulerName)
        let current = pod.condition("PodScheduled")
        if current?["status"]?.stringValue != "False" || current?["reason"]?.stringValue != "Unschedulable"
            || current?["message"]?.stringValue != message
        {
            var conditions = pod[path: "status", "conditions"]?.arrayValue ?? []
            Conditions.set(
                &conditions, type: "PodScheduled", status: "False", reason: "Unschedulable", message: message,
                now: APITime.format(context.now()))
            if let index = conditions.firstIndex(where: { $0["type"]?.stringValue == "PodScheduled" }) {
                conditions[index]["lastProbeTime"] = JSONValue.null
            }
            let patch: JSONValue = [
                "metadata": ["resourceVersion": pod[path: "metadata", "resourceVersion"] ?? ""],
                "status": ["conditions": .array(conditions)],
            ]
            do {
                _ = try await context.client.patch(Collection.pods.path(key: key, subresource: "status"), .merge, patch)
            } catch {
                // Changed meanwhile (409, retried through the informer) or gone: nothing to mark.
                guard error.code == 404 || error.code == 409 else { throw error }
            }
        }
        var delay = Duration.seconds(1)
        for _ in 1..<min(attempts, 5) { delay *= 2 }
        queue.add(key, after: min(delay, .seconds(10)))
    }
}
