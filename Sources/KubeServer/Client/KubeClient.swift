import Foundation
import GRPCWire
import KubeAPI

/// The API in-process, for the controllers, scheduler and node agent that run inside `kelson server`: every call
/// goes through the same handler kubectl's requests do (validation, defaulting, field validation, the patch
/// types, watch), only without HTTP, TLS or authentication.
public struct KubeClient: Sendable {
    let transport: any KubeTransport
    /// Sent as `User-Agent`, so managedFields name the writer as upstream's components are named
    /// (`kube-controller-manager/…` becomes the manager `kube-controller-manager`).
    public var userAgent: String?
    /// Told of every request (method, path) before it is sent: benchmarks count the API work a component asks for.
    public var observer: (@Sendable (_ method: String, _ path: String) -> Void)?

    public init(handler: APIHandler, userAgent: String? = nil) {
        transport = handler
        self.userAgent = userAgent
    }

    /// A client of an API server elsewhere (`RemoteTransport`: HTTPS with a bearer token).
    public init(transport: any KubeTransport, userAgent: String? = nil) {
        self.transport = transport
        self.userAgent = userAgent
    }

    public enum PatchType: String, Sendable {
        case json = "application/json-patch+json"
        case merge = "application/merge-patch+json"
        case strategic = "application/strategic-merge-patch+json"
        case apply = "application/apply-patch+yaml"
    }

    /// The REST path of a collection or an object: `/api/v1/namespaces/default/pods/web-1`.
    public static func path(
        apiVersion: String, plural: String, namespace: String? = nil, name: String? = nil,
        subresource: String? = nil
    ) -> String {
        var path = apiVersion.contains("/") ? "/apis/\(apiVersion)" : "/api/\(apiVersion)"
        if let namespace { path += "/namespaces/\(namespace)" }
        path += "/\(plural)"
        if let name { path += "/\(name)" }
        if let subresource { path += "/\(subresource)" }
        return path
    }

    public func get(_ path: String) async throws(KubeError) -> JSONValue {
        try await send("GET", path)
    }

    public func list(_ path: String, query: String = "") async throws(KubeError) -> JSONValue {
        try await send("GET", path, query: query)
    }

    public func create(_ path: String, _ object: JSONValue, query: String = "") async throws(KubeError) -> JSONValue {
        try await send("POST", path, query: query, body: object)
    }

    public func update(_ path: String, _ object: JSONValue) async throws(KubeError) -> JSONValue {
        try await send("PUT", path, body: object)
    }

    public func patch(_ path: String, _ type: PatchType, _ patch: JSONValue, query: String = "")
        async throws(KubeError) -> JSONValue
    {
        try await send("PATCH", path, query: query, body: patch, contentType: type.rawValue)
    }

    /// Deletes; answers the object while it lingers (finalizers, graceful pods) or a Success status.
    public func delete(_ path: String, options: JSONValue? = nil) async throws(KubeError) -> JSONValue {
        try await send("DELETE", path, body: options)
    }

    /// A watch: events as kube-apiserver streams them (`type`, `object`), until the server ends it or the task
    /// is cancelled. An `ERROR` event carries a Status (410 when `resourceVersion` was compacted).
    public func watch(_ path: String, query: String) async throws(KubeError) -> WatchEvents {
        let response = await transport.send(
            request("GET", path, query: query + (query.isEmpty ? "" : "&") + "watch=true"))
        guard response.status == 200, let stream = response.stream else { throw Self.error(response) }
        return WatchEvents(stream: stream)
    }

    func send(
        _ method: String, _ path: String, query: String = "", body: JSONValue? = nil,
        contentType: String = "application/json"
    ) async throws(KubeError) -> JSONValue {
        var request = request(method, path, query: query)
        if let body {
            request.body = body.serialized()
            request.headers.append(("content-type", contentType))
        }
        let response = await transport.send(request)
        guard (200..<300).contains(response.status) else { throw Self.error(response) }
        do {
            return try JSONValue.parse(response.body)
        } catch {
            throw .internalError("answer is not JSON: \(error.message)")
        }
    }

    private func request(_ method: String, _ path: String, query: String = "") -> HTTPRequest {
        observer?(method, path)
        var headers = [("accept", "application/json")]
        if let userAgent { headers.append(("user-agent", userAgent)) }
        return HTTPRequest(method: method, path: path, query: query, headers: headers)
    }

    /// The Status in an error answer as the error it describes.
    static func error(_ response: HTTPResponse) -> KubeError {
        let status = try? JSONValue.parse(response.body)
        var error = KubeError(
            code: response.status, reason: status?["reason"]?.stringValue ?? "",
            message: status?["message"]?.stringValue ?? "status \(response.status)")
        error.name = status?[path: "details", "name"]?.stringValue
        error.group = status?[path: "details", "group"]?.stringValue
        error.kind = status?[path: "details", "kind"]?.stringValue
        return error
    }
}

/// How a `KubeClient`'s requests reach an API server: in-process (`APIHandler`) or over HTTPS (`RemoteTransport`).
/// A watch's answer carries its events in `stream`; every other answer has its whole body.
public protocol KubeTransport: Sendable {
    func send(_ request: HTTPRequest) async -> HTTPResponse
}

extension APIHandler: KubeTransport {
    public func send(_ request: HTTPRequest) async -> HTTPResponse { await serve(request) }
}

/// The events of one watch, read from its stream as they come.
public struct WatchEvents: AsyncSequence, Sendable {
    public typealias Element = (type: String, object: JSONValue)
    let stream: HTTPBodyStream

    public func makeAsyncIterator() -> Iterator { Iterator(stream: stream) }

    public struct Iterator: AsyncIteratorProtocol {
        let stream: HTTPBodyStream
        var buffer: [UInt8] = []

        public mutating func next() async -> Element? {
            while true {
                if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = Array(buffer[..<newline])
                    buffer.removeSubrange(...newline)
                    guard let event = try? JSONValue.parse(line), let type = event["type"]?.stringValue,
                        let object = event["object"]
                    else { continue }
                    return (type, object)
                }
                guard let chunk = await stream.read() else { return nil }
                buffer += chunk
            }
        }
    }

    /// Ends the watch (its producer stops).
    public func cancel() { stream.cancelFromReader() }
}
