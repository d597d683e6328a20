import GRPCWire
import KubeAPI
import Synchronization

/// The pod subresources a node answers rather than the store (kubelet's streaming endpoints): `log`, `exec`,
/// `attach` and `portforward`. The API server finds the pod, then hands the request to the agent of the pod's
/// node, registered here by name; the agent answers it (a streamed body for logs, a WebSocket for the others).
public protocol PodNode: Sendable {
    func serve(_ kind: PodStreamKind, pod: JSONValue, request: HTTPRequest) async throws(KubeError) -> HTTPResponse
}

public enum PodStreamKind: String, Sendable {
    case log, exec, attach, portforward
}

/// The agents this API server can reach, by node name.
public final class PodNodes: Sendable {
    private let nodes = Mutex<[String: any PodNode]>([:])

    public init() {}

    public func register(_ name: String, _ node: any PodNode) { nodes.withLock { $0[name] = node } }
    public func unregister(_ name: String) { nodes.withLock { $0[name] = nil } }

    /// Finds the pod's node and lets it answer; a pod that is not on a node yet is refused as kube-apiserver
    /// refuses it.
    func serve(_ kind: PodStreamKind, pod: JSONValue, request: HTTPRequest) async throws(KubeError) -> HTTPResponse {
        let name = pod[path: "metadata", "name"]?.stringValue ?? ""
        guard let nodeName = pod[path: "spec", "nodeName"]?.stringValue, !nodeName.isEmpty else {
            if kind == .log {
                let container =
                    QueryParameters(request.query)["container"]
                    ?? pod[path: "spec", "containers"]?.arrayValue?.first?["name"]?.stringValue ?? ""
                throw .badRequest(
                    "container \"\(container)\" in pod \"\(name)\" is waiting to start: ContainerCreating")
            }
            throw .badRequest("pod \(name) does not have a host assigned")
        }
        guard let node = nodes.withLock({ $0[nodeName] }) else {
            throw .serviceUnavailable(
                "no agent is connected for node \"\(nodeName)\"")
        }
        return try await node.serve(kind, pod: pod, request: request)
    }
}
