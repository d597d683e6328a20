import Foundation
import KubeAPI
import KubeServer
import Logging
import Synchronization

/// What every pod runner shares: the API, the node's network and settings, the informers' objects, events.
struct AgentRuntime: Sendable {
    let client: KubeClient
    let settings: AgentSettings
    let network: PodNetwork
    let objects: ClusterObjects
    let hostIP: String
    let events: EventRecorder
    let addresses: Addresses
    let logger: Logger

    /// Pod addresses handed out and given back by runners.
    final class Addresses: Sendable {
        private let pool: Mutex<AddressPool>
        init(prefix: String) { pool = Mutex(AddressPool(prefix: prefix)) }
        func take() -> String? { pool.withLock { $0.take() } }
        func give(_ address: String) { pool.withLock { $0.give(address) } }
    }

    func podDirectory(uid: String) -> String { settings.stateDirectory + "/pods/" + uid }

    /// The kubelet's layout: `logs/<namespace>_<name>_<uid>/<container>/<restart count>.log`.
    func logPath(pod: JSONValue, container: String, restart: Int) -> String {
        logDirectory(pod: pod) + "/\(container)/\(restart).log"
    }

    func logDirectory(pod: JSONValue) -> String {
        let namespace = pod[path: "metadata", "namespace"]?.stringValue ?? ""
        let name = pod[path: "metadata", "name"]?.stringValue ?? ""
        let uid = pod[path: "metadata", "uid"]?.stringValue ?? ""
        return settings.stateDirectory + "/logs/\(namespace)_\(name)_\(uid)"
    }

    /// The key a pod's kernel objects are named by: the first ten hex digits of its uid.
    static func key(uid: String) -> String { String(uid.filter(\.isHexDigit).prefix(10)) }
}
