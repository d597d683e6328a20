import Testing

/// Integration tests: the real `kelson etcd` binary and a real etcd 3.4, driven by the real
/// etcdctl 3.4 over loopback.
///
/// Run (from the package root):
///
///     swift build --product kelson                      # or set KELSON_BINARY
///     swift test --filter IntegrationTests
///
/// or, in a separate build directory:
///
///     swift build --scratch-path .build-integration --build-tests
///     KELSON_BINARY=$PWD/.build-integration/debug/kelson \
///         swift test --scratch-path .build-integration --skip-build --filter IntegrationTests
///
/// Environment:
/// - `KELSON_BINARY`: the kelson executable (default `<package root>/.build/debug/kelson`).
/// - `INTEGRATION_CANDIDATE=etcd`: compare etcd against a second etcd (checks the harness and
///   the cases; default `kelson`).
/// - `ETCD_BINARY`, `ETCDCTL_BINARY`: default `/usr/bin/etcd`, `/usr/bin/etcdctl`
///   (Debian packages etcd-server and etcd-client).
/// - `INTEGRATION_KEEP_DIRS=1`: keep the servers' temporary directories (data and logs).
///
/// Everything runs serially: each test starts its own servers, and the machine has two cores.
@Suite(.serialized)
enum IntegrationTests {}
