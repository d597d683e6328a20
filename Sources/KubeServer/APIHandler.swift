import Foundation
import GRPCWire
import KubeAPI
import Synchronization

/// The Kubernetes API over HTTP: authentication, the bound on requests in flight, then discovery, OpenAPI,
/// `/version`, health, and the resources. Each request runs in a task of its own (requests here are few and
/// heavy next to etcd's, and a watch lives for minutes).
public final class APIHandler: Sendable {
    /// kube-apiserver's `--max-requests-inflight` (400) and `--max-mutating-requests-inflight` (200); watches are
    /// long-running and not counted, as there.
    public static let readRequestsMaximum = 400
    public static let mutatingRequestsMaximum = 200
    /// kube-apiserver's bound on request bodies (3 MiB).
    public static let requestBodyMaximum = 3 * 1024 * 1024

    let catalogue: ResourceCatalogue
    let registry: ObjectRegistry
    let resources: ResourceHandler
    let discovery: Discovery
    let openAPI: OpenAPIDocuments
    let customResources: CustomResourceCatalogue
    let authenticate: @Sendable (HTTPRequest, ObjectRegistry) async -> AuthenticatedIdentity?
    let version: JSONValue
    let serverAddress: String
    /// The node agents that answer `pods/log`, `exec`, `attach` and `portforward`.
    public let podNodes: PodNodes
    private let inFlight = Mutex((reads: 0, mutations: 0))
    /// False until the server is ready (readyz answers 500 until then).
    let ready = Mutex(false)

    init(
        storage: any ObjectStorage, catalogue: ResourceCatalogue = ResourceCatalogue(), serverAddress: String,
        tokens: ServiceAccountTokens? = nil,
        authenticate: @escaping @Sendable (HTTPRequest, ObjectRegistry) async -> AuthenticatedIdentity?,
        now: @escaping @Sendable () -> Date = { Date() }, serviceNetwork: ServiceNetwork = .standard
    ) {
        self.catalogue = catalogue
        let registry = ObjectRegistry(storage: storage, now: now, serviceNetwork: serviceNetwork)
        self.registry = registry
        let podNodes = PodNodes()
        self.podNodes = podNodes
        resources = ResourceHandler(
            registry: registry, watches: WatchStreamer(registry: registry, now: now),
            tokens: tokens.map { TokenRequests(registry: registry, tokens: $0, now: now) }, podNodes: podNodes,
            now: now)
        discovery = Discovery(catalogue: catalogue)
        openAPI = OpenAPIDocuments(catalogue: catalogue)
        customResources = CustomResourceCatalogue(registry: registry, catalogue: catalogue, builtins: catalogue.all)
        self.authenticate = authenticate
        self.serverAddress = serverAddress
        version = KubernetesVersion.document
    }

    /// The API for in-process callers only (controllers, tests, embedding programs): no listener, so no
    /// authentication, on `storage`, with `now` as the server's clock and Services' addresses from
    /// `serviceNetwork`.
    public static func inProcess(
        storage: any ObjectStorage, now: @escaping @Sendable () -> Date = { Date() },
        serviceNetwork: ServiceNetwork = .standard
    ) -> APIHandler {
        APIHandler(
            storage: storage, serverAddress: "127.0.0.1:6443", authenticate: { _, _ in nil }, now: now,
            serviceNetwork: serviceNetwork)
    }

    /// Registers the handler for every path on `router`.
    public func register(into router: inout GRPCServerRouter) {
        router.registerHTTPFallback(maxBodyBytes: Self.requestBodyMaximum) { [self] request, respond in
            Task {
                let response = await self.answer(request)
                let size = response.body.count
                respond(response)
                // After the answer is on its way, not before: trimming takes a few milliseconds.
                MemoryRelease.afterAnswer(bytes: size)
            }
        }
    }

    public func markReady() { ready.withLock { $0 = true } }

    func answer(_ request: HTTPRequest) async -> HTTPResponse {
        // Public without credentials, as kube-apiserver's default RBAC leaves them (system:public-info-viewer).
        switch request.path {
        case "/healthz", "/livez":
            return HTTPResponse(
                status: 200, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array("ok".utf8))
        case "/readyz":
            let isReady = ready.withLock { $0 }
            return HTTPResponse(
                status: isReady ? 200 : 500, headers: [("Content-Type", "text/plain; charset=utf-8")],
                body: Array((isReady ? "ok" : "[-]kelson-store not ready\nreadyz check failed").utf8))
        case "/version": return Responses.json(version)
        default: break
        }
        guard await authenticate(request, registry) != nil else { return Responses.error(.unauthorized) }
        if request.bodyTooLarge { return Responses.error(.requestTooLarge) }
        let query = QueryParameters(request.query)
        let isWatch = query.flag("watch") || request.path.contains("/watch/")
        let mutating = !["GET", "HEAD", "OPTIONS"].contains(request.method)
        if !isWatch {
            let admitted = inFlight.withLock { counts in
                if mutating {
                    guard counts.mutations < Self.mutatingRequestsMaximum else { return false }
                    counts.mutations += 1
                } else {
                    guard counts.reads < Self.readRequestsMaximum else { return false }
                    counts.reads += 1
                }
                return true
            }
            guard admitted else { return Responses.error(.tooManyRequests(retryAfterSeconds: 1)) }
        }
        defer {
            if !isWatch {
                inFlight.withLock { counts in
                    if mutating { counts.mutations -= 1 } else { counts.reads -= 1 }
                }
            }
        }
        do {
            return try await route(request)
        } catch {
            return Responses.error(error)
        }
    }

    /// A request from inside the process (`KubeClient`): no authentication, no in-flight bound.
    func serve(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            return try await route(request)
        } catch {
            return Responses.error(error)
        }
    }

    private func route(_ request: HTTPRequest) async throws(KubeError) -> HTTPResponse {
        let path =
            request.path.count > 1 && request.path.hasSuffix("/") ? String(request.path.dropLast()) : request.path
        let accept = request.header("accept")
        switch path {
        case "/api", "/apis":
            if let version = Discovery.aggregatedVersion(accept: accept) {
                return Responses.json(
                    discovery.aggregated(core: path == "/api", version: version),
                    contentType: Discovery.aggregatedType(version))
            }
            return Responses.json(
                path == "/api" ? discovery.apiVersions(serverAddress: serverAddress) : discovery.groupList())
        case "/openapi/v3":
            return Responses.json(openAPI.index())
        case "/openapi/v2":
            let swagger = openAPI.swagger()
            if let accept, accept.contains("protobuf") {
                return HTTPResponse(
                    status: 200,
                    // kube-openapi answers with a dot where the Accept has "@": Go's mime parser refuses "@".
                    headers: [("Content-Type", GnosticOpenAPIv2.responseMediaType)],
                    body: openAPI.swaggerProtobuf())
            }
            return Responses.json(swagger)
        default:
            break
        }
        if path.hasPrefix("/openapi/v3/") {
            guard let document = openAPI.document(path: String(path.dropFirst("/openapi/v3/".count))) else {
                throw .unknownPath
            }
            return Responses.json(document)
        }
        let segments = path.split(separator: "/").map(String.init)
        if segments.first == "api", segments.count == 2,
            let list = discovery.resourceList(GroupVersion("", segments[1]))
        {
            return Responses.json(list)
        }
        if segments.first == "apis", segments.count == 2, let group = discovery.group(segments[1]) {
            return Responses.json(group)
        }
        if segments.first == "apis", segments.count == 3,
            let list = discovery.resourceList(GroupVersion(segments[1], segments[2]))
        {
            return Responses.json(list)
        }
        guard let parsed = RequestTarget.parse(path: path, resources: catalogue) else { throw .unknownPath }
        let target = try parsed.get()
        let response = try await resources.handle(request, target: target)
        // A definition changed: serve its kind (or stop) before answering, so the next request finds it.
        if target.resource.kind == "CustomResourceDefinition", target.resource.group == "apiextensions.k8s.io",
            request.method != "GET", request.method != "HEAD"
        {
            try await customResources.reload()
        }
        return response
    }
}

/// What `/version` reports. kubectl's dispatcher on developer machines picks the kubectl minor that matches, and
/// every kubectl from 1.27 on accepts it.
enum KubernetesVersion {
    static let major = "1"
    static let minor = "33"
    static let gitVersion = "v1.33.0+kelson"

    static let document: JSONValue = [
        "major": .string(major), "minor": .string(minor), "gitVersion": .string(gitVersion),
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2026-12-05T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
        "platform": "linux/amd64",
    ]
}
