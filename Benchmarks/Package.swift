// swift-tools-version: 6.1
// Micro-benchmarks of Kelson's core (RevisionLog + SQLiteBackend), gated on allocation counts.
// A package of its own so the main package never depends on package-benchmark. See README.md.
import PackageDescription

let package = Package(
    name: "KelsonBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Kelson", path: ".."),
        // ordo-one/benchmark (formerly package-benchmark; 1.38.1 warns about the old identifier).
        // The MallocInterposer trait alone: it supplies the malloc counters, and leaving out the
        // default RuntimeInterposer trait keeps SwiftPM from resolving swift-runtime-interposer.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // package-benchmark finds benchmark targets by their directory's parent being named
        // "Benchmarks": here that parent is this package's own directory.
        .executableTarget(
            name: "KelsonCore",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "RevisionLog", package: "Kelson"),
                .product(name: "SQLiteBackend", package: "Kelson"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "KelsonCore",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ],
    swiftLanguageModes: [.v6]
)
