import Foundation
import KubeAPI
import KubeServer

/// Deletes Events an hour (`--event-ttl`) after they last happened. kube-apiserver does this by writing each Event
/// with an etcd lease; here a controller does it, so the stored form of an Event stays a plain key and the bound holds
/// for Events written by anyone, through any API server on the store.
final class EventTTLController: Controller {
    let name = "event-ttl"
    let queue = WorkQueue()
    let workers = 1
    let context: ControllerContext
    let events: Informer

    init(context: ControllerContext) {
        self.context = context
        events = context.informer(.events)
        events.onChange { [queue] key in queue.add(key) }
    }

    func allKeys() -> [String] { events.objects.map(\.key) }

    /// When the event last happened: `lastTimestamp`, `eventTime` (events.k8s.io's), or its creation.
    static func lastSeen(_ event: JSONValue) -> Date? {
        event.time("lastTimestamp") ?? event.time("eventTime") ?? event.time("series", "lastObservedTime")
            ?? event.time("metadata", "creationTimestamp")
    }

    func reconcile(_ key: String) async throws {
        guard let event = events.get(key), let seen = Self.lastSeen(event) else { return }
        let expiry = seen.addingTimeInterval(context.settings.eventTTL.timeInterval)
        let now = context.now()
        guard expiry <= now else {
            queue.add(key, at: expiry, now: now)
            return
        }
        do {
            _ = try await context.client.delete(
                Collection.events.path(key: key), options: ["preconditions": ["uid": .string(event.uid)]])
        } catch {
            // Gone already, or replaced by a newer event of that name.
            guard error.code == 404 || error.code == 409 else { throw error }
        }
    }
}
