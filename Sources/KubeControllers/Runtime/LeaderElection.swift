import Foundation
import KubeAPI
import KubeServer

/// Who runs the controllers when several `kelson server` processes share one store (PostgreSQL): the holder of
/// the Lease `kube-system/kube-controller-manager`, as client-go's leader election decides it. The holder renews
/// it every `retryPeriod`; a lease not renewed for `leaseDuration` may be taken over; a holder that cannot renew
/// within `renewDeadline` stops its controllers. Every write is guarded by the Lease's resourceVersion, so two
/// processes never both believe they hold it. On shutdown the holder gives the lease up, so another (or the same
/// server, restarted) takes over at once.
final class LeaderElection: Sendable {
    let client: KubeClient
    let identity: String
    let name: String
    let leaseDuration: Duration = .seconds(15)
    let renewDeadline: Duration = .seconds(10)
    let retryPeriod: Duration = .seconds(2)
    let now: @Sendable () -> Date
    static let namespace = "kube-system"

    init(
        client: KubeClient, identity: String, name: String = "kube-controller-manager",
        now: @escaping @Sendable () -> Date
    ) {
        self.client = client
        self.identity = identity
        self.name = name
        self.now = now
    }

    private var path: String { Collection.leases.path(key: "\(Self.namespace)/\(name)") }

    /// Waits until this process holds the lease; false if cancelled first.
    func acquire() async -> Bool {
        while !Task.isCancelled {
            if (try? await tryAcquireOrRenew()) == true { return true }
            do { try await Task.sleep(for: retryPeriod) } catch { return false }
        }
        return false
    }

    /// Renews until a renewal has failed for `renewDeadline` (or the task is cancelled); then returns.
    func holdWhileRenewing() async {
        var lastRenewal = ContinuousClock.now
        while !Task.isCancelled {
            do { try await Task.sleep(for: retryPeriod) } catch { return }
            if (try? await tryAcquireOrRenew()) == true {
                lastRenewal = .now
            } else if ContinuousClock.now - lastRenewal > renewDeadline {
                return
            }
        }
    }

    /// Gives the lease up if this process still holds it.
    func release() async {
        guard let lease = try? await client.get(path), lease[path: "spec", "holderIdentity"]?.stringValue == identity
        else { return }
        var released = lease
        released[path: "spec", "holderIdentity"] = .null
        released[path: "spec", "leaseDurationSeconds"] = 1
        _ = try? await client.update(path, released)
    }

    /// One attempt: create the lease, renew it as its holder, or take it over once it expired.
    private func tryAcquireOrRenew() async throws -> Bool {
        let time = JSONValue.string(APITime.format(now(), fractionalDigits: 6))
        let seconds = Int64(leaseDuration.components.seconds)
        let existing: JSONValue
        do {
            existing = try await client.get(path)
        } catch {
            guard error.code == 404 else { throw error }
            let lease: JSONValue = [
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": ["name": .string(name), "namespace": .string(Self.namespace)],
                "spec": [
                    "holderIdentity": .string(identity), "leaseDurationSeconds": .int(seconds), "acquireTime": time,
                    "renewTime": time, "leaseTransitions": 0,
                ],
            ]
            _ = try await client.create(Collection.leases.path(namespace: Self.namespace), lease)
            return true
        }
        let holder = existing[path: "spec", "holderIdentity"]?.stringValue ?? ""
        var lease = existing
        if holder != identity {
            let renewed = existing.time("spec", "renewTime") ?? .distantPast
            let duration = Double(existing[path: "spec", "leaseDurationSeconds"]?.intValue ?? seconds)
            guard holder.isEmpty || renewed.addingTimeInterval(duration) < now() else { return false }
            lease[path: "spec", "holderIdentity"] = .string(identity)
            lease[path: "spec", "acquireTime"] = time
            lease[path: "spec", "leaseTransitions"] = .int(
                (existing[path: "spec", "leaseTransitions"]?.intValue ?? 0) + 1)
        }
        lease[path: "spec", "leaseDurationSeconds"] = .int(seconds)
        lease[path: "spec", "renewTime"] = time
        // Guarded by the resourceVersion read above: a competitor's write in between makes this a 409.
        _ = try await client.update(path, lease)
        return true
    }
}
