import EtcdServer
import GRPCWire
import Logging
import RevisionLog

/// etcd's plain HTTP endpoints on the client URL (etcd 3.4 `etcdhttp`), answered beside gRPC with etcd's bodies,
/// status codes and content types, so load balancers and probes written for etcd work unchanged.
enum HTTPEndpoints {
    /// What `/version` reports; the same version Maintenance Status reports (EtcdServer's MaintenanceService).
    static let version = "3.6.0"

    static func register(into router: inout GRPCServerRouter, store: Store, alarms: AlarmList, logger: Logger) {
        router.registerHTTP("/health") { request, respond in
            health(request, store: store, alarms: alarms, logger: logger, respond: respond)
        }
        // etcd 3.6's probes: /readyz is /health without the leader check (Kelson has no election to wait for), and
        // /livez also ignores NOSPACE, since a full store is alive: restarting it would not make room.
        router.registerHTTP("/readyz") { request, respond in
            health(request, store: store, alarms: alarms, logger: logger, endpoint: "/readyz", respond: respond)
        }
        router.registerHTTP("/livez") { request, respond in
            health(
                request, store: store, alarms: alarms, logger: logger, endpoint: "/livez", alwaysExcluding: ["NOSPACE"],
                respond: respond)
        }
        router.registerHTTP("/version") { request in versions(request) }
    }

    /// `/metrics`: Prometheus's text format. Gauges that describe the store as a whole are measured now.
    static func registerMetrics(
        into router: inout GRPCServerRouter, store: Store, services: EtcdServices,
        exposition: @escaping @Sendable () -> [UInt8]
    ) {
        router.registerHTTP("/metrics") { request, respond in
            guard request.method == "GET" else { return respond(methodNotAllowed) }
            KelsonMetrics.measure(store: store, services: services) {
                respond(
                    HTTPResponse(
                        status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                        body: exposition()))
            }
        }
    }

    /// GET only. Healthy when no alarm is raised (but those named by `?exclude=NOSPACE`, as in etcd 3.4) and the
    /// store answers a one-key read (etcd: a leader and a quorum read); 200 `{"health":"true"}`, else 503
    /// `{"health":"false"}` in Go's `http.Error` shape.
    static func health(
        _ request: HTTPRequest, store: Store, alarms: AlarmList, logger: Logger, endpoint: String = "/health",
        alwaysExcluding: Set<String> = [], respond: @escaping @Sendable (HTTPResponse) -> Void
    ) {
        guard request.method == "GET" else { return respond(methodNotAllowed) }
        let excluded = alwaysExcluding.union(
            request.query.split(separator: "&").compactMap { pair -> String? in
                let parts = pair.split(separator: "=", maxSplits: 1)
                return parts.count == 2 && parts[0] == "exclude" ? String(parts[1]) : nil
            })
        let unhealthy = HTTPResponse.error(status: 503, #"{"health":"false"}"#)
        alarms.descriptions { result in
            let alarms: [String]
            switch result {
            case .success(let descriptions): alarms = descriptions
            case .failure(let error):
                logger.warning(
                    "\(endpoint) error; cannot read alarms (status code 503)", metadata: ["error": "\(error)"])
                return respond(unhealthy)
            }
            for alarm in alarms where !excluded.contains(alarm.alarmName) {
                logger.warning("\(endpoint) error due to \(alarm)")
                return respond(unhealthy)
            }
            var probe = RangeRequest(range: .single(Array("health".utf8)))
            probe.keysOnly = true
            probe.limit = 1
            store.range(probe) { result in
                if case .failure(let error) = result {
                    logger.warning("\(endpoint) error; read failed (status code 503)", metadata: ["error": "\(error)"])
                    return respond(unhealthy)
                }
                // Go sniffs the JSON as text/plain; etcd sets no type of its own here.
                respond(
                    HTTPResponse(
                        status: 200, headers: [("Content-Type", "text/plain; charset=utf-8")],
                        body: Array(#"{"health":"true"}"#.utf8)))
            }
        }
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

extension String {
    /// `NOSPACE` of etcd's alarm text `memberID:1 alarm:NOSPACE `.
    fileprivate var alarmName: String {
        guard let range = range(of: "alarm:") else { return self }
        return String(self[range.upperBound...]).trimmingCharacters(in: .whitespaces)
    }
}
