import Foundation
import KubeAPI
import KubeServer

/// How changes of one collection reach the keys of another controller's queue.
extension WorkQueue {
    /// For a dependent that changed (before and after): queues its controller when that is a `kind`
    /// (`namespace/name`). One without a controller is offered to the `owners` of its namespace whose
    /// `spec.selector` matches it (and that `accepts` it), any of which may adopt it.
    func addControllers(
        of event: InformerEvent, kind: String, owners: Informer? = nil,
        accepts: (_ dependent: JSONValue, _ owner: JSONValue) -> Bool = { _, _ in true }
    ) {
        for object in [event.old, event.new].compactMap({ $0 }) {
            addController(of: object, kind: kind, owners: owners, accepts: accepts)
        }
    }

    /// `addControllers(of:kind:owners:accepts:)` for one object.
    func addController(
        of object: JSONValue, kind: String, owners: Informer? = nil,
        accepts: (_ dependent: JSONValue, _ owner: JSONValue) -> Bool = { _, _ in true }
    ) {
        if let controller = object.controllerReference {
            if controller["kind"]?.stringValue == kind, let name = controller["name"]?.stringValue {
                add("\(object.namespace)/\(name)")
            }
        } else if let owners {
            for owner in owners.objects(inNamespace: object.namespace)
            where object.labelsMatch(owner.specSelector) && accepts(object, owner) {
                add(owner.key)
            }
        }
    }

    /// Queues `key` once the controllers' clock (`now` is its reading) reaches `due`, `slack` late rather than
    /// early; at once if `due` has passed.
    func add(_ key: String, at due: Date, now: Date, slack: Duration = .milliseconds(10)) {
        let wait = max(0, due.timeIntervalSince(now))
        add(key, after: .milliseconds(Int64(wait * 1000)) + slack)
    }
}

extension Duration {
    /// The duration in seconds, for date arithmetic with the controllers' clock.
    var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
