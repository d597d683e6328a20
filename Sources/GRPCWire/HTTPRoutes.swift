/// A plain HTTP request on the gRPC port (HTTP/1.x, or HTTP/2 without gRPC's content type), for a handler
/// registered with `GRPCServerRouter.registerHTTP`. The body is read and dropped (up to a bound): the routes
/// served this way (health, version) take none.
public struct HTTPRequest: Sendable {
    /// `GET`, `HEAD`, `POST`, ... as sent.
    public var method: String
    /// The path without the query, e.g. `/health`.
    public var path: String
    /// What follows `?`, not decoded; empty when there is none.
    public var query: String
    /// Header fields, names lowercased.
    public var headers: [(name: String, value: String)]

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// Splits a request target (`/health?exclude=NOSPACE`) into path and query.
    init(method: String, target: String, headers: [(name: String, value: String)]) {
        let path = Self.path(of: target)
        let query = path.count < target.count ? String(target.dropFirst(path.count + 1)) : ""
        self.init(method: method, path: path, query: query, headers: headers)
    }

    /// The target without its query.
    static func path(of target: String) -> String {
        guard let mark = target.firstIndex(of: "?") else { return target }
        return String(target[..<mark])
    }
}

/// The answer to an `HTTPRequest`. `content-length` is added by the server; HEAD requests get no body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Shaped like Go's `http.Error` (what etcd answers with): plain text, `nosniff`, the message and a newline.
    public static func error(status: Int, _ message: String) -> HTTPResponse {
        HTTPResponse(
            status: status,
            headers: [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")],
            body: Array((message + "\n").utf8))
    }

    /// Go's `http.NotFound`.
    static let notFound = HTTPResponse.error(status: 404, "404 page not found")
}

/// HTTP routes by exact path, kept inside `GRPCServerRouter` so one value describes everything a port serves. A
/// handler answers through its callback, now or later, from any thread (the server hops back to the connection's
/// event loop), so a handler that reads a database never holds up an event loop.
struct HTTPRoutes: Sendable {
    typealias Handler = @Sendable (HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) -> Void

    private var handlers: [String: Handler] = [:]

    var isEmpty: Bool { handlers.isEmpty }

    mutating func register(_ path: String, _ handler: @escaping Handler) { handlers[path] = handler }

    func serves(path: String) -> Bool { handlers[path] != nil }

    /// Runs the handler for `request.path`, or answers 404 like Go's `ServeMux`.
    func answer(_ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        guard let handler = handlers[request.path] else { return respond(.notFound) }
        handler(request, respond)
    }
}
