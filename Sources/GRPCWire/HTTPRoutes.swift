/// A plain HTTP request on the gRPC port (HTTP/1.x, or HTTP/2 without gRPC's content type), for a handler
/// registered with `GRPCServerRouter.registerHTTP` or `registerHTTPFallback`. The body is read up to the routes'
/// bound (`HTTPRoutes.maxBodyBytes`); past it, it is dropped and `bodyTooLarge` set, so the handler answers in its
/// own words (Kubernetes and etcd word a 413 differently).
public struct HTTPRequest: Sendable {
    /// `GET`, `HEAD`, `POST`, ... as sent.
    public var method: String
    /// The path without the query, e.g. `/health`.
    public var path: String
    /// What follows `?`, not decoded; empty when there is none.
    public var query: String
    /// Header fields, names lowercased.
    public var headers: [(name: String, value: String)]
    /// The request body, complete.
    public var body: [UInt8] = []
    /// The body went past the bound; `body` is empty.
    public var bodyTooLarge = false
    /// The DER bytes of the client's TLS certificate, when it presented one (TLS verified it against the server's
    /// trust roots).
    public var peerCertificate: [UInt8]?
    /// True over HTTP/2.
    public var isHTTP2 = false

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The first value of header `name` (lowercase).
    public func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }

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

/// The answer to an `HTTPRequest`. `content-length` is added by the server; HEAD requests get no body. With a
/// `stream`, the body comes from it as it is written (chunked over HTTP/1.1, DATA frames over HTTP/2) and `body` is
/// ignored.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var stream: HTTPBodyStream?
    /// Accepts a WebSocket upgrade (HTTP/1.1 requests with `Upgrade: websocket`): the server answers 101 and hands
    /// the connection to the session. On a request that is not an upgrade it is ignored.
    public var webSocket: WebSocketSession?
    /// Accepts an upgrade to another protocol (HTTP/1.1 requests with `Upgrade: <its protocol>`, e.g. SPDY/3.1): the
    /// server answers 101 with `headers` and hands the connection's bytes to the session. Otherwise ignored.
    public var rawUpgrade: RawUpgradeSession?

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

    /// Bodies beyond this are dropped and the request marked `bodyTooLarge`.
    static let defaultMaxBodyBytes = 64 * 1024

    private var handlers: [String: Handler] = [:]
    private var fallback: Handler?
    private(set) var maxBodyBytes = Self.defaultMaxBodyBytes

    var isEmpty: Bool { handlers.isEmpty && fallback == nil }

    mutating func register(_ path: String, _ handler: @escaping Handler) { handlers[path] = handler }

    mutating func registerFallback(maxBodyBytes: Int, _ handler: @escaping Handler) {
        fallback = handler
        self.maxBodyBytes = maxBodyBytes
    }

    func serves(path: String) -> Bool { fallback != nil || handlers[path] != nil }

    /// Runs the handler for `request.path`, else the fallback, else answers 404 like Go's `ServeMux`.
    func answer(_ request: HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) {
        if let handler = handlers[request.path] {
            // The exact routes take no bodies worth keeping; past the bound they answer as Go's server does.
            guard !request.bodyTooLarge else { return respond(.error(status: 413, "http: request body too large")) }
            return handler(request, respond)
        }
        guard let fallback else { return respond(.notFound) }
        fallback(request, respond)
    }
}
