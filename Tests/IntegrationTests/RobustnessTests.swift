import Foundation
import Robustness
import Testing

/// The short form of the robustness suite: Kubernetes-like traffic from concurrent clients, recorded and checked for
/// linearizability, with a `prev_kv` watch checked by etcd's watch validators. Run against etcd 3.4 too, which
/// checks the recorder and the checker themselves.
extension IntegrationTests {
    @Suite("robustness: recorded traffic is linearizable and watches keep their guarantees")
    struct RobustnessTests {
        @Test("6 clients × 250 Kubernetes-like operations", arguments: [ServerKind.etcd, .kelson])
        func linearizableTraffic(kind: ServerKind) async throws {
            let server = try ServerProcess.launch(kind)
            defer { server.stop() }
            let recording = try await TrafficRecorder().run(host: "127.0.0.1", port: server.clientPort)
            let operations = recording.history.operations
            #expect(operations.count >= 1_400, "\(kind): \(operations.count) operations recorded")
            let writes = recording.committed.count
            #expect(writes > 100, "\(kind): only \(writes) writes changed a key")
            let verdict = LinearizabilityChecker(initial: KVModel(revision: recording.startRevision))
                .check(recording.history)
            #expect(verdict == .linearizable, "\(kind): \(verdict)")
            let violations = WatchValidator.validate(recording.watch, writes: recording.committed)
            #expect(violations.isEmpty, "\(kind): \(violations.prefix(10))")
            let delivered = recording.watch.responses.joined().count
            #expect(delivered == writes, "\(kind): the watch delivered \(delivered) events for \(writes) writes")
            // The same recording, tampered with, must fail: the checks are not vacuous on real traffic.
            var tampered = recording.history
            if let index = tampered.operations.firstIndex(where: {
                if case .get(let value?, _, _)? = $0.response { return !value.isEmpty } else { return false }
            }), case .get(_, let modRevision, let revision)? = tampered.operations[index].response {
                tampered.operations[index].response = .get(
                    value: "tampered", modRevision: modRevision, revision: revision)
                let rejected = LinearizabilityChecker(initial: KVModel(revision: recording.startRevision)).check(
                    tampered)
                #expect(rejected != .linearizable, "\(kind): a tampered read was accepted")
            } else {
                Issue.record("\(kind): no read saw a value")
            }
            // Paginated lists: some took several pages, and a later page altered is caught.
            var pagedList = recording.history
            if let index = pagedList.operations.firstIndex(where: {
                if case .list(_, let pages)? = $0.response { return pages.count > 1 && !pages[1].keyValues.isEmpty }
                return false
            }), case .list(let revision, var pages)? = pagedList.operations[index].response {
                pages[1].keyValues[0].value = "tampered"
                pagedList.operations[index].response = .list(revision: revision, pages: pages)
                let rejected = LinearizabilityChecker(initial: KVModel(revision: recording.startRevision)).check(
                    pagedList)
                #expect(rejected != .linearizable, "\(kind): a tampered list page was accepted")
            } else {
                Issue.record("\(kind): no list took more than one page")
            }
            var gap = recording.watch
            if let index = gap.responses.indices.dropFirst().first(where: { gap.responses[$0].count == 1 }) {
                gap.responses.remove(at: index)
                #expect(
                    !WatchValidator.validate(gap, writes: recording.committed).isEmpty, "\(kind): a gap went unseen")
            }
            server.reportIfDied()
        }
    }
}
