import Foundation
import GRPCWire
import KubeAPI
import Logging
import RevisionLog
import Synchronization
import Testing

@testable import KubeServer

/// The REST semantics through the in-process client, on a real store (MemoryBackend behind the same core as SQLite).
@Suite struct RegistryTests {
    static func makeClient(now: @escaping @Sendable () -> Date = { Date() }) throws -> (KubeClient, Store) {
        let store = try Store(backend: MemoryBackend(), logger: Logger(label: "test"))
        let hub = WatchHub(store: store)
        let handler = APIHandler(
            storage: LocalObjectStorage(store: store, hub: hub), serverAddress: "127.0.0.1:6443",
            authenticate: { _, _ in nil }, now: now)
        return (KubeClient(handler: handler), store)
    }

    static let configMaps = KubeClient.path(apiVersion: "v1", plural: "configmaps", namespace: "default")

    static func configMap(_ name: String, _ data: JSONValue = ["a": "1"]) -> JSONValue {
        ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)], "data": data]
    }

    @Test func storedObjectsLeaveOutTheirResourceVersionAndReadItBackFromTheRevision() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        let created = try await client.create(Self.configMaps, Self.configMap("one"))
        let version = try #require(created[path: "metadata", "resourceVersion"]?.stringValue)
        let range = try await Store.awaiting {
            store.range(RangeRequest(range: .single(Array("/registry/configmaps/default/one".utf8))), completion: $0)
        }
        let stored = try JSONValue.parse(try #require(range.keyValues.first).value)
        #expect(stored[path: "metadata", "resourceVersion"] == nil)
        #expect(stored.objectValue?.keys.prefix(3) == ["apiVersion", "kind", "metadata"])
        #expect(String(range.keyValues[0].modRevision) == version)
        // The fast list path splices the same version in without parsing.
        let list = try await client.list(Self.configMaps)
        #expect(list["items"]?.arrayValue?.first?[path: "metadata", "resourceVersion"]?.stringValue == version)
        #expect(list["items"]?.arrayValue?.first?[path: "data", "a"] == "1")
    }

    @Test func pagesFollowContinueTokensAtOneRevision() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        for index in 0..<5 { _ = try await client.create(Self.configMaps, Self.configMap("cm-\(index)")) }
        var names: [String] = []
        var token = ""
        var revisions = Set<String>()
        repeat {
            let page = try await client.list(
                Self.configMaps, query: "limit=2" + (token.isEmpty ? "" : "&continue=\(token)"))
            names += page["items"]?.arrayValue?.compactMap { $0[path: "metadata", "name"]?.stringValue } ?? []
            revisions.insert(page[path: "metadata", "resourceVersion"]?.stringValue ?? "")
            token = page[path: "metadata", "continue"]?.stringValue ?? ""
            // Writes between pages do not show up in later pages.
            if !token.isEmpty { _ = try? await client.create(Self.configMaps, Self.configMap("zz-\(names.count)")) }
        } while !token.isEmpty
        #expect(names == ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"])
        #expect(revisions.count == 1)
    }

    @Test func updatesAreOptimisticAndGenerationFollowsTheSpec() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        let deployments = KubeClient.path(apiVersion: "apps/v1", plural: "deployments", namespace: "default")
        let deployment: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
            "spec": [
                "selector": ["matchLabels": ["app": "web"]],
                "template": [
                    "metadata": ["labels": ["app": "web"]],
                    "spec": ["containers": [["name": "c", "image": "nginx:1.27"]]],
                ],
            ],
        ]
        let created = try await client.create(deployments, deployment)
        #expect(created[path: "metadata", "generation"] == 1)
        #expect(created[path: "spec", "replicas"] == 1, "defaulted")
        let labelled = try await client.patch(deployments + "/web", .merge, ["metadata": ["labels": ["x": "y"]]])
        #expect(labelled[path: "metadata", "generation"] == 1, "metadata changes leave the generation")
        let scaled = try await client.patch(deployments + "/web", .merge, ["spec": ["replicas": 3]])
        #expect(scaled[path: "metadata", "generation"] == 2)
        var stale = created
        stale[path: "spec", "replicas"] = 5
        await #expect(throws: KubeError.self) { _ = try await client.update(deployments + "/web", stale) }
        do {
            _ = try await client.update(deployments + "/web", stale)
        } catch {
            #expect(error.code == 409)
            #expect(
                error.message
                    == "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
            )
        }
        let status = try await client.patch(
            deployments + "/web/status", .merge, ["status": ["replicas": 3], "spec": ["replicas": 9]])
        #expect(status[path: "status", "replicas"] == 3)
        #expect(status[path: "spec", "replicas"] == 3, "the status subresource changes only the status")
    }

    @Test func finalizersHoldDeletionUntilRemoved() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        var object = Self.configMap("held")
        object[path: "metadata", "finalizers"] = ["example.com/hold"]
        _ = try await client.create(Self.configMaps, object)
        let deleting = try await client.delete(Self.configMaps + "/held")
        #expect(deleting[path: "metadata", "deletionTimestamp"] != nil)
        #expect(try await client.get(Self.configMaps + "/held")[path: "metadata", "deletionTimestamp"] != nil)
        _ = try await client.patch(Self.configMaps + "/held", .merge, ["metadata": ["finalizers": nil]])
        await #expect(throws: KubeError.self) { _ = try await client.get(Self.configMaps + "/held") }
    }

    @Test func watchesDeliverInitialEventsThenChangesAndFilterBySelector() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        var labelled = Self.configMap("first")
        labelled[path: "metadata", "labels"] = ["team": "a"]
        _ = try await client.create(Self.configMaps, labelled)
        let events = try await client.watch(Self.configMaps, query: "labelSelector=team%3Da")
        var iterator = events.makeAsyncIterator()
        let initial = await iterator.next()
        #expect(initial?.type == "ADDED" && initial?.object[path: "metadata", "name"] == "first")
        _ = try await client.create(Self.configMaps, Self.configMap("unlabelled"))
        _ = try await client.patch(Self.configMaps + "/first", .merge, ["metadata": ["labels": ["team": "b"]]])
        let left = await iterator.next()
        #expect(left?.type == "DELETED", "leaving the selected set reads as a deletion")
        #expect(left?.object[path: "metadata", "name"] == "first")
        events.cancel()
    }

    @Test func informersFollowTheCollection() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        _ = try await client.create(Self.configMaps, Self.configMap("before"))
        let informer = Informer(client: client, path: KubeClient.path(apiVersion: "v1", plural: "configmaps"))
        let seen = Mutex<[String]>([])
        informer.onChange { key in seen.withLock { $0.append(key) } }
        let task = Task { await informer.run() }
        defer { task.cancel() }
        for _ in 0..<200 where !informer.hasSynced { try await Task.sleep(for: .milliseconds(10)) }
        #expect(informer.get("default/before") != nil)
        _ = try await client.create(Self.configMaps, Self.configMap("after"))
        _ = try await client.delete(Self.configMaps + "/before")
        for _ in 0..<200 where informer.get("default/after") == nil || informer.get("default/before") != nil {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(informer.get("default/after") != nil)
        #expect(informer.get("default/before") == nil)
        #expect(seen.withLock { $0 }.contains("default/after"))
    }

    @Test func compactedStartsAnswer410() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        for index in 0..<4 { _ = try await client.create(Self.configMaps, Self.configMap("c\(index)")) }
        let first = try await client.list(Self.configMaps, query: "limit=2")
        let token = try #require(first[path: "metadata", "continue"]?.stringValue)
        for index in 0..<3 {
            _ = try await client.patch(Self.configMaps + "/c0", .merge, ["data": ["i": .string("\(index)")]])
        }
        let compactTo = store.revision
        _ = try await Store.awaiting { store.compact(revision: compactTo, physical: true, completion: $0) }

        do {
            _ = try await client.list(Self.configMaps, query: "limit=2&continue=\(token)")
            Issue.record("a continue token from before the compaction must be refused")
        } catch {
            #expect(error.code == 410)
            #expect(error.reason == "Expired")
            #expect(error.message == ObjectRegistry.continueTooOld)
        }

        let events = try await client.watch(Self.configMaps, query: "resourceVersion=2")
        var iterator = events.makeAsyncIterator()
        let event = await iterator.next()
        #expect(event?.type == "ERROR")
        #expect(event?.object["code"] == 410)
        #expect(event?.object["reason"] == "Expired")
        #expect(event?.object["message"] == .string("too old resource version: 2 (\(compactTo))"))
    }

    @Test func malformedBodiesOfEveryTypeAreRefusedAndStoreNothing() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        func post(_ body: String, _ contentType: String) async -> HTTPResponse {
            var request = HTTPRequest(method: "POST", path: Self.configMaps, headers: [("content-type", contentType)])
            request.body = Array(body.utf8)
            return await client.transport.send(request)
        }
        let yaml = await post("metadata:\n  name: [unclosed\n", "application/yaml")
        #expect(yaml.status == 400)
        #expect(String(decoding: yaml.body, as: UTF8.self).contains("error converting YAML to JSON"))
        let protobuf = await post("not protobuf", "application/vnd.kubernetes.protobuf")
        #expect(protobuf.status == 400)
        let json = await post("{\"kind\":", "application/json")
        #expect(json.status == 400)
        #expect(
            String(decoding: json.body, as: UTF8.self).contains(
                "(must be of type ConfigMap): couldn't get version/kind; json parse error: unexpected end of JSON input ({\\\"kind\\\":)"
            ))
        let list = try await client.list(Self.configMaps)
        #expect(list["items"]?.arrayValue?.isEmpty == true)
    }

    @Test func noOpWritesLeaveTheResourceVersion() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        let created = try await client.create(Self.configMaps, Self.configMap("same"), query: "fieldManager=test")
        let updated = try await client.update(Self.configMaps + "/same", created)
        #expect(updated[path: "metadata", "resourceVersion"] == created[path: "metadata", "resourceVersion"])
        let patched = try await client.patch(Self.configMaps + "/same", .merge, ["data": ["a": "1"]])
        #expect(patched[path: "metadata", "resourceVersion"] == created[path: "metadata", "resourceVersion"])
        #expect(created[path: "metadata", "managedFields"]?.arrayValue?.first?["manager"] == "test")
    }

    @Test func aWatchOnOneObjectSeesOnlyIt() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        _ = try await client.create(Self.configMaps, Self.configMap("watched"))
        let events = try await client.watch(Self.configMaps + "/watched", query: "")
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next()?.object[path: "metadata", "name"] == "watched")
        _ = try await client.create(Self.configMaps, Self.configMap("other"))
        _ = try await client.patch(Self.configMaps + "/watched", .merge, ["data": ["a": "2"]])
        let next = await iterator.next()
        #expect(next?.type == "MODIFIED" && next?.object[path: "metadata", "name"] == "watched")
        events.cancel()
    }

    /// Tables of a whole collection are written from the stored bytes; they must say what the parsed way says.
    @Test func tablesFromStoredBytesMatchTablesFromObjects() async throws {
        // A fixed clock: the rows' ages must not move between the two reads.
        let (client, store) = try Self.makeClient(now: { Date(timeIntervalSince1970: 1_800_000_000) })
        defer { store.close() }
        let pods = KubeClient.path(apiVersion: "v1", plural: "pods", namespace: "default")
        for index in 0..<3 {
            let pod: JSONValue = [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": [
                    "name": .string("p\(index)"), "labels": ["app": "t"],
                    "annotations": ["note": "a \"quoted\" {brace}"],
                ],
                "spec": ["containers": [["name": "c", "image": "busybox"]]],
            ]
            _ = try await client.create(pods, pod, query: "fieldManager=test")
        }
        func table(_ query: String) async throws -> JSONValue {
            var request = HTTPRequest(
                method: "GET", path: pods, query: query,
                headers: [("accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")])
            request.body = []
            let response = await client.transport.send(request)
            #expect(response.status == 200)
            return try JSONValue.parse(response.body)
        }
        let stored = try await table("")
        let parsed = try await table("labelSelector=app%3Dt")
        #expect(stored["rows"]?.arrayValue?.count == 3)
        #expect(stored["rows"] == parsed["rows"])
        #expect(stored["columnDefinitions"] == parsed["columnDefinitions"])
        let row = try #require(stored["rows"]?.arrayValue?.first)
        #expect(
            row[path: "object", "metadata", "managedFields"]?.arrayValue?.isEmpty == false,
            "rows keep the managed fields")
    }

    @Test func bindingsPlaceAPodOnceAndEvictionsDeleteIt() async throws {
        let (client, store) = try Self.makeClient()
        defer { store.close() }
        let pods = KubeClient.path(apiVersion: "v1", plural: "pods", namespace: "default")
        let pod: JSONValue = [
            "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"],
            "spec": ["containers": [["name": "c", "image": "busybox"]]],
        ]
        _ = try await client.create(pods, pod)
        let binding: JSONValue = [
            "apiVersion": "v1", "kind": "Binding", "metadata": ["name": "p"], "target": ["kind": "Node", "name": "n1"],
        ]
        let bound = try await client.create(pods + "/p/binding", binding)
        #expect(bound["status"] == "Success" && bound["code"] == 201)
        let placed = try await client.get(pods + "/p")
        #expect(placed[path: "spec", "nodeName"] == "n1")
        #expect(
            placed[path: "status", "conditions"]?.arrayValue?.contains {
                $0["type"] == "PodScheduled" && $0["status"] == "True"
            } == true)
        do {
            _ = try await client.create(pods + "/p/binding", binding)
            Issue.record("a pod is bound once")
        } catch {
            #expect(error.code == 409)
            #expect(
                error.message == "Operation cannot be fulfilled on pods \"p\": pod p is already assigned to node \"n1\""
            )
        }
        let eviction: JSONValue = [
            "apiVersion": "policy/v1", "kind": "Eviction", "metadata": ["name": "p"],
            "deleteOptions": ["gracePeriodSeconds": 0],
        ]
        #expect(try await client.create(pods + "/p/eviction", eviction)["code"] == 201)
        await #expect(throws: KubeError.self) { _ = try await client.get(pods + "/p") }
    }
}
