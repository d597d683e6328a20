/// Maps `:path` values (`/package.Service/Method`) to handlers, and plain HTTP paths (`/health`) to HTTP handlers
/// served on the same port.
public struct GRPCServerRouter: Sendable {
    typealias UnaryHandler = @Sendable (GRPCUnaryCall) -> Void
    typealias StreamingHandler = @Sendable (GRPCStreamingCall) async throws -> Void

    enum Route: Sendable {
        case unary(UnaryHandler)
        case streaming(StreamingHandler)
    }

    private var routes: [String: Route] = [:]
    private var services: Set<String> = []
    private(set) var http = HTTPRoutes()

    public init() {}

    /// Registers a unary method. The handler runs synchronously on the connection's event loop and must not
    /// block; it answers with `call.respond` now or later, from any thread.
    public mutating func registerUnary(_ path: String, _ handler: @escaping @Sendable (GRPCUnaryCall) -> Void) {
        register(path, .unary(handler))
    }

    /// Registers a unary method whose handler awaits (rare calls of several steps, such as the auth changes with
    /// their password hashing). It runs in a task of its own, as a streaming handler does, off the event loop, and
    /// answers with what it returns.
    public mutating func registerAsyncUnary(
        _ path: String, _ handler: @escaping @Sendable (GRPCUnaryCall) async -> Result<[UInt8], GRPCStatus>
    ) {
        register(path, .unary({ call in Task { call.respond(await handler(call)) } }))
    }

    /// Registers a streaming method (bidirectional or server-streaming). The handler returning normally ends the
    /// call with status OK; throwing a `GRPCStatus` ends it with that status; any other error ends it with
    /// `.unknown` and `String(describing: error)` as the message.
    public mutating func registerStreaming(
        _ path: String, _ handler: @escaping @Sendable (GRPCStreamingCall) async throws -> Void
    ) {
        register(path, .streaming(handler))
    }

    /// Registers a plain HTTP handler for an exact path (no query), answered on the gRPC port over HTTP/1.x, and
    /// over HTTP/2 when the request is not gRPC (etcd serves `/health` this way). It runs synchronously on the
    /// connection's event loop and must not block for long. Unknown paths get 404.
    public mutating func registerHTTP(_ path: String, _ handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) {
        http.register(path) { request, respond in respond(handler(request)) }
    }

    /// `registerHTTP` for a handler that answers later (one that reads the store): it answers through `respond`,
    /// from any thread.
    public mutating func registerHTTP(
        _ path: String,
        answering handler:
            @escaping @Sendable (HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) ->
            Void
    ) {
        http.register(path, handler)
    }

    /// Registers the handler for every plain HTTP request no exact path matches (a whole REST API on one port),
    /// with bodies of up to `maxBodyBytes`. It answers through `respond`, from any thread; a response with a
    /// `stream` stays open while its producer writes.
    public mutating func registerHTTPFallback(
        maxBodyBytes: Int,
        answering handler:
            @escaping @Sendable (HTTPRequest, _ respond: @escaping @Sendable (HTTPResponse) -> Void) -> Void
    ) {
        http.registerFallback(maxBodyBytes: maxBodyBytes, handler)
    }

    private mutating func register(_ path: String, _ route: Route) {
        routes[path] = route
        if let service = Self.split(path)?.service { services.insert(service) }
    }

    /// The route for `path`, or the `.unimplemented` status grpc-go answers with (clients match on its text).
    func route(_ path: String) -> Result<Route, GRPCStatus> {
        if let route = routes[path] { return .success(route) }
        guard let (service, method) = Self.split(path) else {
            return .failure(GRPCStatus(code: .unimplemented, message: "malformed method name: \"\(path)\""))
        }
        if services.contains(service) {
            return .failure(
                GRPCStatus(code: .unimplemented, message: "unknown method \(method) for service \(service)"))
        }
        return .failure(GRPCStatus(code: .unimplemented, message: "unknown service \(service)"))
    }

    /// Splits like grpc-go's `handleStream`: drop one leading "/", then split at the last "/".
    private static func split(_ path: String) -> (service: String, method: String)? {
        let trimmed = path.hasPrefix("/") ? path.dropFirst() : Substring(path)
        guard let slash = trimmed.lastIndex(of: "/") else { return nil }
        return (String(trimmed[..<slash]), String(trimmed[trimmed.index(after: slash)...]))
    }
}
