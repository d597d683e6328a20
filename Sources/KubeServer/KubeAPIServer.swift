import Foundation
import GRPCWire
import KubeAPI
import Logging
import NIOCore
import NIOSSL
import Synchronization
import X509

/// `kelson server`'s API server settings, with k3s's flag names where they exist.
public struct KubeAPIServerConfiguration: Sendable {
    /// `--data-dir`: the cluster's TLS material lives in `<dataDirectory>/tls`.
    public var dataDirectory: String
    /// `--bind-address` (loopback by default, as everything in Kelson).
    public var bindAddress = "127.0.0.1"
    /// `--https-listen-port`.
    public var httpsPort = 6443
    /// `--node-name`: also a name on the serving certificate.
    public var nodeName: String
    /// `--token`: a bearer token that authenticates as the cluster's admin.
    public var token: String?
    /// `--write-kubeconfig` and `--write-kubeconfig-mode`.
    public var kubeconfigPath: String
    public var kubeconfigMode: mode_t = 0o600
    /// `--service-cidr`: where Services' ClusterIPs come from (one IPv4 range).
    public var serviceCIDR = "10.43.0.0/16"
    /// `--service-node-port-range` (`ServiceNetwork.parsePortRange` reads the flag's `30000-32767`).
    public var serviceNodePortRange: ClosedRange<Int> = 30000...32767

    public init(dataDirectory: String, nodeName: String) {
        self.dataDirectory = dataDirectory
        self.nodeName = nodeName
        kubeconfigPath = dataDirectory + "/kubeconfig.yaml"
    }
}

/// The Kubernetes API server on a store: TLS on one port (HTTP/2 and HTTP/1.1), authentication by client
/// certificate or bearer token, the REST API of `APIHandler`. Namespaces every cluster has are made at start.
public final class KubeAPIServer: Sendable {
    public let configuration: KubeAPIServerConfiguration
    public let pki: ClusterPKI
    public let handler: APIHandler
    let server: GRPCServer
    let storage: any ObjectStorage
    let logger: Logger
    private let follower = Mutex<Task<Void, Never>?>(nil)

    public init(configuration: KubeAPIServerConfiguration, storage: any ObjectStorage, logger: Logger) throws {
        self.configuration = configuration
        self.storage = storage
        self.logger = logger
        var extraNames = [configuration.bindAddress]
        if configuration.bindAddress == "0.0.0.0" || configuration.bindAddress == "::" { extraNames = [] }
        pki = try ClusterPKI.loadOrCreate(
            dataDirectory: configuration.dataDirectory, nodeName: configuration.nodeName,
            extraServingNames: extraNames)
        let certificates = pki.makeClientCertificateAuthenticator()
        let staticToken = configuration.token.map { StaticTokenAuthenticator(token: $0) }
        let serviceAccounts = ServiceAccountTokens(signingKey: pki.serviceAccountKey)
        let serviceNetwork = try ServiceNetwork(
            cidr: configuration.serviceCIDR, nodePorts: configuration.serviceNodePortRange)
        let host = configuration.bindAddress == "0.0.0.0" ? "127.0.0.1" : configuration.bindAddress
        let address = host.contains(":") ? "[\(host)]:\(configuration.httpsPort)" : "\(host):\(configuration.httpsPort)"
        handler = APIHandler(
            storage: storage, serverAddress: address, tokens: serviceAccounts,
            authenticate: { request, registry in
                await Self.authenticate(
                    request, certificates: certificates, token: staticToken, serviceAccounts: serviceAccounts,
                    registry: registry)
            }, serviceNetwork: serviceNetwork)
        var router = GRPCServerRouter()
        handler.register(into: &router)
        var listener = GRPCServerConfiguration()
        listener.host = configuration.bindAddress
        listener.port = configuration.httpsPort
        listener.tls = try NIOSSLContext(configuration: pki.makeServerTLSConfiguration())
        // Watches stay open for minutes with nothing to say; HTTP/1 connections are not idle while one runs.
        listener.httpIdleTimeout = .seconds(120)
        server = GRPCServer(configuration: listener, router: router)
    }

    /// Client certificate first (kubectl with the written kubeconfig), then a bearer token: the `--token`, or a
    /// service account's, which counts only while that service account (and the pod it is bound to) still
    /// exists with the same uid, as kube-apiserver checks.
    static func authenticate(
        _ request: HTTPRequest, certificates: ClientCertificateAuthenticator, token: StaticTokenAuthenticator?,
        serviceAccounts: ServiceAccountTokens, registry: ObjectRegistry
    ) async -> AuthenticatedIdentity? {
        if let der = request.peerCertificate, let certificate = try? Certificate(derEncoded: der),
            let identity = try? certificates.authenticate(certificate: certificate)
        {
            return identity
        }
        guard let authorization = request.header("authorization"),
            let bearer = StaticTokenAuthenticator.bearerToken(fromAuthorization: authorization)
        else { return nil }
        if let identity = token?.authenticate(bearerToken: bearer) { return identity }
        if let account = try? serviceAccounts.verify(bearer),
            await Self.stillExists(
                "serviceaccounts", namespace: account.namespace, account.serviceAccount, registry: registry),
            await Self.stillExists("pods", namespace: account.namespace, account.pod, registry: registry)
        {
            return AuthenticatedIdentity(
                user: "system:serviceaccount:\(account.namespace):\(account.serviceAccount.name)",
                uid: account.serviceAccount.uid,
                groups: [
                    "system:serviceaccounts", "system:serviceaccounts:\(account.namespace)",
                    AuthenticatedIdentity.authenticatedGroup,
                ])
        }
        return nil
    }

    private static func stillExists(
        _ plural: String, namespace: String, _ bound: TokenBoundObject?, registry: ObjectRegistry
    ) async -> Bool {
        guard let bound else { return true }
        guard let resource = BuiltinResources.all.first(where: { $0.group.isEmpty && $0.plural == plural }) else {
            return false
        }
        let target = RequestTarget(groupVersion: resource.groupVersion, resource: resource, namespace: namespace)
        guard let object = try? await registry.get(target, name: bound.name) else { return false }
        return object[path: "metadata", "uid"]?.stringValue == bound.uid
    }

    /// Starts listening, makes the namespaces every cluster has, writes the kubeconfig, and marks the server ready.
    /// Returns the bound address.
    public func start() async throws -> String {
        let address = try await server.start()
        try await Bootstrap.ensureNamespaces(registry: handler.registry, catalogue: handler.catalogue)
        try await handler.customResources.reload()
        let customResources = handler.customResources
        let logger = logger
        follower.withLock { $0 = Task { await customResources.follow(logger: logger) } }
        let port = address.port ?? configuration.httpsPort
        let host = configuration.bindAddress == "0.0.0.0" ? "127.0.0.1" : configuration.bindAddress
        let url = host.contains(":") ? "https://[\(host)]:\(port)" : "https://\(host):\(port)"
        try pki.writeAdminKubeconfig(to: configuration.kubeconfigPath, server: url, mode: configuration.kubeconfigMode)
        handler.markReady()
        logger.info(
            "Kubernetes API ready", metadata: ["address": "\(url)", "kubeconfig": "\(configuration.kubeconfigPath)"])
        return url
    }

    public func shutdown() async {
        follower.withLock { $0?.cancel() }
        await server.shutdownGracefully()
    }
}

/// What a cluster has from its first start: the four namespaces Kubernetes makes.
enum Bootstrap {
    static let namespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]

    static func ensureNamespaces(registry: ObjectRegistry, catalogue: ResourceCatalogue) async throws {
        guard let resource = catalogue.resource(groupVersion: GroupVersion("", "v1"), plural: "namespaces") else {
            return
        }
        let target = RequestTarget(groupVersion: resource.groupVersion, resource: resource)
        for name in namespaces {
            do throws(KubeError) {
                _ = try await registry.create(
                    target, object: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]],
                    options: ObjectRegistry.WriteOptions())
            } catch {
                guard error.reason == "AlreadyExists" else { throw error }
            }
        }
    }
}
