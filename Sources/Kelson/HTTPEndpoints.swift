import GRPCWire
import Logging
import RevisionLog

/// etcd's plain HTTP endpoints on the client URL (etcd 3.4 `etcdhttp`), answered beside gRPC with etcd's bodies,
/// status codes and content types, so load balancers and probes written for etcd work unchanged.
enum HTTPEndpoints {
    /// What `/version` reports; the same version Maintenance Status reports (EtcdServer's MaintenanceService).
    static let version = "3.6.0"

    static func register(into router: inout GRPCServerRouter, store: Store, logger: Logger) {
        router.registerHTTP("/health") { request in health(request, store: store, logger: logger) }
        router.registerHTTP("/version") { request in versions(request) }
    }

    /// GET only. Healthy when the store answers a one-key read (etcd: no alarm, a leader, and a quorum read);
    /// 200 `{"health":"true"}`, else 503 `{"health":"false"}` in Go's `http.Error` shape. Kelson has no alarms
    /// that would make it unhealthy, so `?exclude=` changes nothing.
    static func health(_ request: HTTPRequest, store: Store, logger: Logger) -> HTTPResponse {
        guard request.method == "GET" else { return methodNotAllowed }
        var probe = RangeRequest(range: .single(Array("health".utf8)))
        probe.keysOnly = true
        probe.limit = 1
        do {
            _ = try store.range(probe)
        } catch {
            logger.warning("/health error; read failed (status code 503)", metadata: ["error": "\(error)"])
            return .error(status: 503, #"{"health":"false"}"#)
        }
        // Go sniffs the JSON as text/plain; etcd sets no type of its own here.
        return HTTPResponse(
            status: 200, headers: [("Content-Type", "text/plain; charset=utf-8")],
            body: Array(#"{"health":"true"}"#.utf8))
    }

    /// GET only: `{"etcdserver":"3.6.0","etcdcluster":"3.6.0"}`.
    static func versions(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "GET" else { return methodNotAllowed }
        let body = #"{"etcdserver":"\#(version)","etcdcluster":"\#(version)"}"#
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
    }

    /// etcd's `allowMethod`: 405, `Allow: GET`.
    private static var methodNotAllowed: HTTPResponse {
        var response = HTTPResponse.error(status: 405, "Method Not Allowed")
        response.headers.append(("Allow", "GET"))
        return response
    }
}
