import Foundation
import GRPCWire
import KubeAPI

/// Watches over HTTP as kube-apiserver streams them (`handlers/watch.go`): `200` at once, then one JSON event per
/// line (`{"type":"ADDED","object":{…}}\n`), flushed as it happens; `ERROR` with a 410 Status when the start is
/// compacted; `BOOKMARK`s when asked; the stream ends at `timeoutSeconds`. The body is bounded
/// (`HTTPBodyStream`): a client that stops reading holds up only its own watch.
struct WatchStreamer: Sendable {
    let registry: ObjectRegistry
    let now: @Sendable () -> Date
    /// Without `timeoutSeconds`, kube-apiserver ends a watch after a random 30–60 minutes (`--min-request-timeout`
    /// 1800 s, times [1, 2)), so clients re-watch and spread out.
    static let defaultTimeoutRange = 1800.0..<3600.0
    static let bookmarkInterval: Duration = .seconds(30)

    struct Options: Sendable {
        var labelSelector: LabelSelector?
        var fieldSelector: FieldSelector?
        var resourceVersion: String?
        var sendInitialEvents: Bool?
        var allowBookmarks = false
        var timeout: Duration
        var table: String?
    }

    func watch(_ request: HTTPRequest, target: RequestTarget, query: QueryParameters) async throws(KubeError)
        -> HTTPResponse
    {
        let listOptions = try ResourceHandler.listOptions(query, resource: target.resource)
        var timeout = Duration.seconds(Double.random(in: Self.defaultTimeoutRange))
        if let text = query["timeoutSeconds"], let seconds = Int64(text), seconds > 0 { timeout = .seconds(seconds) }
        var table: String?
        if case .table(let includeObject) = Responses.representation(accept: request.header("accept"), query: query) {
            table = includeObject
        }
        let options = Options(
            labelSelector: listOptions.labelSelector, fieldSelector: listOptions.fieldSelector,
            resourceVersion: query["resourceVersion"],
            sendInitialEvents: query["sendInitialEvents"].map { $0 == "true" },
            allowBookmarks: query.flag("allowWatchBookmarks"), timeout: timeout, table: table)
        let body = HTTPBodyStream(bufferedBytesMaximum: 1 << 20)
        let session = WatchSession(registry: registry, target: target, options: options, body: body, now: now)
        let task = Task { await session.run() }
        body.onCancel { task.cancel() }
        let contentType = table != nil ? Responses.tableType : Responses.jsonType
        return HTTPResponse(
            status: 200, headers: [("Content-Type", contentType), ("Cache-Control", "no-cache, private")], stream: body)
    }
}

extension HTTPResponse {
    init(status: Int, headers: [(name: String, value: String)], stream: HTTPBodyStream) {
        self.init(status: status, headers: headers)
        self.stream = stream
    }
}

/// One watch's producer: initial events, then the store's events filtered and encoded, until the timeout, the
/// client leaving, or compaction.
struct WatchSession: Sendable {
    let registry: ObjectRegistry
    let target: RequestTarget
    let options: WatchStreamer.Options
    let body: HTTPBodyStream
    let now: @Sendable () -> Date

    func run() async {
        defer { body.finish() }
        let deadline = ContinuousClock.now + options.timeout
        var sentColumns = false
        do {
            var revision: Int64
            let version = options.resourceVersion ?? ""
            let initial = options.sendInitialEvents ?? (version.isEmpty || version == "0")
            if initial {
                var listOptions = ObjectRegistry.ListOptions()
                listOptions.labelSelector = options.labelSelector
                listOptions.fieldSelector = options.fieldSelector
                let list = try await registry.list(target, options: listOptions)
                for object in list.items where selects(object) {
                    try await send("ADDED", object, sentColumns: &sentColumns)
                }
                revision = list.revision
                if options.sendInitialEvents == true, options.allowBookmarks {
                    try await bookmark(revision, initialEventsEnd: true)
                }
            } else {
                guard let requested = Int64(version), requested >= 0 else {
                    try await sendError(.badRequest("invalid resource version: \(version)"))
                    return
                }
                revision = requested
            }
            let watch: any StorageWatch
            do {
                watch = try registry.storage.watch(
                    prefix: target.resource.keyPrefix(namespace: target.namespace), afterRevision: revision)
            } catch {
                try await sendTooOld(revision, error)
                return
            }
            defer { watch.cancel() }
            // The deadline ends the watch: the store watch is cancelled and the loop below returns.
            let timer = Task {
                try? await Task.sleep(until: deadline)
                watch.cancel()
            }
            defer { timer.cancel() }
            var nextBookmark = ContinuousClock.now + WatchStreamer.bookmarkInterval
            while !Task.isCancelled {
                let events: [StorageEvent]?
                do {
                    events = try await watch.next()
                } catch {
                    try await sendTooOld(revision, error)
                    return
                }
                guard let events else {
                    // Timed out: a last bookmark lets the client resume exactly where this stream stopped.
                    if options.allowBookmarks { try await bookmark(revision, initialEventsEnd: false) }
                    return
                }
                for event in events {
                    revision = max(revision, event.object.modRevision)
                    try await send(event, sentColumns: &sentColumns)
                }
                // Bookmarks go between batches, so one never claims a revision whose events are still to come.
                if options.allowBookmarks, ContinuousClock.now >= nextBookmark {
                    nextBookmark = ContinuousClock.now + WatchStreamer.bookmarkInterval
                    try await bookmark(revision, initialEventsEnd: false)
                }
            }
        } catch {
            return
        }
    }

    private func selects(_ object: JSONValue) -> Bool {
        var options = ObjectRegistry.ListOptions()
        options.labelSelector = self.options.labelSelector
        options.fieldSelector = self.options.fieldSelector
        if let name = target.name, object[path: "metadata", "name"]?.stringValue != name { return false }
        return registry.matches(object, resource: target.resource, options: options)
    }

    /// A store event as a watch event; with a selector, an object that leaves the selected set is `DELETED` and
    /// one that enters it `ADDED` (kube-apiserver's filtering rules).
    private func send(_ event: StorageEvent, sentColumns: inout Bool) async throws {
        let resource = target.resource
        let object = try StoredForm.decode(event.object, as: target.groupVersion, resource: resource)
        switch event.kind {
        case .added:
            if selects(object) { try await send("ADDED", object, sentColumns: &sentColumns) }
        case .deleted:
            if selects(object) { try await send("DELETED", object, sentColumns: &sentColumns) }
        case .modified:
            let now = selects(object)
            var before = now
            if let previous = event.previous {
                let old = try StoredForm.decode(previous, as: target.groupVersion, resource: resource)
                before = selects(old)
                if !now, before {
                    try await send("DELETED", object, sentColumns: &sentColumns)
                    return
                }
            }
            if now { try await send(before ? "MODIFIED" : "ADDED", object, sentColumns: &sentColumns) }
        }
    }

    private func send(_ type: String, _ object: JSONValue, sentColumns: inout Bool) async throws {
        var payload = object
        if let includeObject = options.table {
            payload = Responses.table(
                [object], resource: target.resource,
                listMetadata: ["resourceVersion": object[path: "metadata", "resourceVersion"] ?? ""],
                includeObject: includeObject, includeColumns: !sentColumns, now: now())
            sentColumns = true
        }
        try await write(["type": .string(type), "object": payload])
    }

    private func bookmark(_ revision: Int64, initialEventsEnd: Bool) async throws {
        var metadata: JSONObject = ["resourceVersion": .string(String(revision))]
        if initialEventsEnd { metadata["annotations"] = ["k8s.io/initial-events-end": "true"] }
        let object: JSONValue = [
            "kind": .string(target.resource.kind), "apiVersion": .string(target.groupVersion.description),
            "metadata": .object(metadata),
        ]
        try await write(["type": "BOOKMARK", "object": object])
    }

    private func sendTooOld(_ revision: Int64, _ error: StorageFailure) async throws {
        if case .compacted(let compactRevision) = error {
            try await sendError(.expired("too old resource version: \(revision) (\(compactRevision))"))
        } else {
            try await sendError(ObjectRegistry.kubeError(error))
        }
    }

    private func sendError(_ error: KubeError) async throws {
        try await write(["type": "ERROR", "object": error.status])
    }

    private func write(_ event: JSONValue) async throws {
        var bytes = event.serialized()
        bytes.append(UInt8(ascii: "\n"))
        try await body.write(bytes)
    }
}
