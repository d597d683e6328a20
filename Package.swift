// swift-tools-version: 6.1
// Kelson: an etcd v3-compatible server over relational storage.
// Module rules (who may import whom) are in docs/architecture.md. Every target declares each module it imports
// (system modules aside: Foundation, Dispatch, Synchronization, Glibc/Darwin, Testing, XCTest).
import PackageDescription

let package = Package(
    name: "Kelson",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Kelson", targets: ["Kelson"]),
        .library(name: "EtcdClient", targets: ["EtcdClient"]),
        // The core and its SQLite backend on their own, for Benchmarks/ (a separate package) and embedders.
        .library(name: "RevisionLog", targets: ["RevisionLog"]),
        .library(name: "SQLiteBackend", targets: ["SQLiteBackend"]),
        // The history checker and the fuzz traffic, for Fuzz/ (a separate package built with libFuzzer).
        .library(name: "Robustness", targets: ["Robustness"]),
        .executable(name: "kelson", targets: ["kelson"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // SPDY/3.1's header blocks (kubectl exec, attach and port-forward before WebSockets) are zlib streams.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "EtcdAPI",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "GRPCWire",
            dependencies: [
                "CNGHTTP2",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                // WebSocket upgrades on the HTTP routes (exec, attach, port-forward), and SHA-1 for their handshake.
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "RevisionLog",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "RevisionLogTesting",
            dependencies: ["RevisionLog", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "SQLiteBackend",
            dependencies: ["RevisionLog", "CSQLite", .product(name: "Logging", package: "swift-log")]
        ),
        // The shared backend on libpq: several Kelson processes over one PostgreSQL database.
        .target(name: "PostgresBackend", dependencies: ["RevisionLog", "CLibPQ"]),
        .target(
            name: "EtcdServer",
            dependencies: [
                "EtcdAPI", "RevisionLog", "GRPCWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                // SHA-256 for snapshot trailers, PBKDF2 for stored passwords.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // The Kubernetes API's vocabulary, with no server in it: JSON values, patches, the schema catalogue,
        // selectors, validation, Table printers, the kinds served.
        .target(name: "KubeAPI", dependencies: [.product(name: "Yams", package: "Yams")]),
        // The Kubernetes API server over an etcd-like store: REST semantics, watch, discovery, OpenAPI, TLS and
        // authentication.
        .target(
            name: "KubeServer",
            dependencies: [
                "KubeAPI", "RevisionLog", "GRPCWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                // KubeClient over HTTPS (`kelson agent` on another machine).
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "KubeControllers",
            dependencies: [
                "KubeAPI", "KubeServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The node agent (kubelet-lite): pods as isolated Linux processes, the service proxy and cluster DNS.
        .target(
            name: "KubeAgent",
            dependencies: [
                "KubeAPI", "KubeServer", "GRPCWire", "CZlib",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "EtcdClient",
            dependencies: ["EtcdAPI", "GRPCWire", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "Kelson",
            dependencies: [
                "EtcdAPI", "EtcdServer", "RevisionLog", "SQLiteBackend", "PostgresBackend", "GRPCWire",
                // `kelson server`: the Kubernetes API server on the store.
                "KubeAPI", "KubeServer", "KubeControllers", "KubeAgent",
                // `kelson migrate --from etcd://` reads a live etcd through its API.
                "EtcdClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "KelsonBench",
            dependencies: [
                "EtcdAPI", "GRPCWire", "Kelson", "RevisionLog", "KubeAPI", "KubeServer", "KubeControllers",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "kelson",
            dependencies: [
                "Kelson", "KelsonBench", "KubeServer", "KubeAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // `kelson etcd --config-file`: etcd's YAML configuration.
                .product(name: "Yams", package: "Yams"),
            ],
            // Not Sources/kelson: it would differ from Sources/Kelson only in case (one folder on macOS's file system).
            path: "Sources/KelsonCLI"
        ),
        // What the robustness tests hold Kelson to: recorded traffic, the linearizability checker, watch validators,
        // the revision audit; and the fuzz targets' traffic and in-process server (Fuzz/ is a package of its own).
        .target(
            name: "Robustness",
            dependencies: [
                "EtcdAPI", "EtcdClient", "GRPCWire", "Kelson", "RevisionLog",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "RobustnessTests", dependencies: ["Robustness"]),
        // Examples/embedded: Kelson started from another Swift program (built with the package, run by a test).
        .executableTarget(
            name: "kelson-embedded-example",
            dependencies: [
                "Kelson", "EtcdClient", "RevisionLog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/embedded"
        ),
        .testTarget(name: "KubeAPITests", dependencies: ["KubeAPI"]),
        .testTarget(
            name: "KubeControllersTests",
            dependencies: [
                "KubeControllers", "KubeServer", "KubeAPI", "RevisionLog", "SQLiteBackend",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "KubeAgentTests",
            dependencies: [
                "KubeAgent", "KubeServer", "KubeAPI", "GRPCWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "KubeServerTests",
            dependencies: [
                "KubeServer", "KubeAPI", "RevisionLog", "GRPCWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(name: "RevisionLogTests", dependencies: ["RevisionLog", "RevisionLogTesting"]),
        .testTarget(
            name: "SQLiteBackendTests",
            dependencies: [
                "SQLiteBackend", "RevisionLogTesting", "RevisionLog", "CSQLite",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "GRPCWireTests",
            dependencies: [
                "GRPCWire", "EtcdAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "EtcdServerTests",
            dependencies: [
                "EtcdServer", "EtcdAPI", "GRPCWire", "RevisionLog", "RevisionLogTesting", "SQLiteBackend",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "KelsonBenchTests",
            dependencies: [
                "KelsonBench", "RevisionLog", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PostgresBackendTests",
            dependencies: ["PostgresBackend", "RevisionLog", "RevisionLogTesting", "CLibPQ"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["EtcdClient", "EtcdAPI", "GRPCWire", "Robustness", "KubeAPI", "SQLiteBackend"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
