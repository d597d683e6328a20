// swift-tools-version: 6.1
// libFuzzer targets for Kelson's network layer (issue 7). A package of its own: every module, the main package's
// included, is built with `-sanitize=fuzzer,address`, and libFuzzer supplies `main`. Build and run with
// `scripts/fuzz` (see README.md).
import PackageDescription

let package = Package(
    name: "KelsonFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Kelson", path: "..")
    ],
    targets: [
        .executableTarget(name: "FuzzRequests", dependencies: [.product(name: "Robustness", package: "Kelson")]),
        .executableTarget(name: "FuzzConnection", dependencies: [.product(name: "Robustness", package: "Kelson")]),
    ],
    swiftLanguageModes: [.v6]
)
