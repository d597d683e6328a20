import EtcdAPI
import Foundation
import GRPCWire
import RevisionLog

/// etcd's `Watch` service: one bidirectional stream carries many watchers (etcd `v3rpc/watch.go`,
/// with the 3.5.13+ behaviour for progress requests that Kubernetes relies on).
final class WatchService: Sendable {
    private let hub: WatchHub
    private let identity: ServerIdentity
    private let fragmentBytes: Int
    private let progressInterval: Duration
    private let watchersPerStreamMaximum: Int
    private let auth: AuthStore

    init(
        hub: WatchHub, identity: ServerIdentity, fragmentBytes: Int, progressInterval: Duration,
        watchersPerStreamMaximum: Int, auth: AuthStore
    ) {
        self.hub = hub
        self.identity = identity
        self.fragmentBytes = fragmentBytes
        self.progressInterval = progressInterval
        self.watchersPerStreamMaximum = watchersPerStreamMaximum
        self.auth = auth
    }

    func register(into router: inout GRPCServerRouter) {
        router.registerStreaming("/etcdserverpb.Watch/Watch") { [self] call in try await serve(call) }
    }

    private func serve(_ call: GRPCStreamingCall) async throws {
        let sender = WatchStreamSender(call: call, identity: identity, fragmentBytes: fragmentBytes)
        let registry = WatchStreamRegistry(maximumWatchers: watchersPerStreamMaximum)
        defer { registry.cancelAll() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in try await progressLoop(registry) }
            for try await bytes in call.requests {
                guard let request = try? Etcdserverpb_WatchRequest(serializedBytes: bytes) else { continue }
                switch request.requestUnion {
                case .createRequest(let createRequest):
                    if let created = try await create(createRequest, call.metadata, registry, sender) {
                        group.addTask { [self] in try await pump(created.watcher, id: created.id, registry, sender) }
                    }
                case .cancelRequest(let cancel):
                    if let entry = registry.remove(cancel.watchID) {
                        entry.watcher.cancel()
                        var response = Etcdserverpb_WatchResponse()
                        response.watchID = cancel.watchID
                        response.canceled = true
                        try await sender.send(response, revision: hub.publishedRevision)
                    }
                case .progressRequest:
                    // Each watcher reports back through its own queue once caught up (`pump`), so the answer can
                    // never overtake an event it covers.
                    registry.requestProgress().forEach { $0.requestProgress() }
                    try await sendStreamProgressIfDue(registry, sender)
                case nil:
                    continue  // etcd ignores unknown requests and keeps the stream open
                }
            }
            // The client half-closed: etcd ends the stream then.
            group.cancelAll()
        }
    }

    /// Registers a watcher and sends its `created` response (or etcd's refusal).
    private func create(
        _ create: Etcdserverpb_WatchCreateRequest, _ metadata: GRPCMetadata, _ registry: WatchStreamRegistry,
        _ sender: WatchStreamSender
    ) async throws -> CreatedWatcher? {
        let key = create.key.isEmpty ? [UInt8(0)] : [UInt8](create.key)
        var request = WatchRequest(range: KeyRange(key: key, rangeEnd: [UInt8](create.rangeEnd)))
        request.startRevision = create.startRevision
        request.previousKeyValues = create.prevKv
        request.dropPuts = create.filters.contains(.noput)
        request.dropDeletes = create.filters.contains(.nodelete)
        var response = Etcdserverpb_WatchResponse()
        response.created = true
        if let denied = auth.authorize(metadata, .read(request.range)) {
            return try await refuse(response, reason: Self.cancelReason(denied), sender)
        }
        if request.range.isEmpty {
            return try await refuse(response, reason: "mvcc: watcher range is empty", sender)
        }
        if create.startRevision < 0 {
            return try await refuse(response, reason: EtcdWireError.compacted.message, sender)
        }
        let watcher: Watcher
        let compacted: Int64?
        do throws(StoreError) {
            (watcher, compacted) = try register(request)
        } catch {
            return try await refuse(response, reason: "kelson: \(error.detail)", sender)
        }
        let entry = WatchStreamRegistry.Entry(
            watcher: watcher, progressNotify: create.progressNotify, fragment: create.fragment)
        let id: Int64
        switch registry.add(requested: create.watchID, entry: entry) {
        case .success(let assigned): id = assigned
        case .failure(let refusal):
            watcher.cancel()
            let reason =
                refusal == .full
                ? "kelson: this stream already has \(watchersPerStreamMaximum) watchers"
                : "mvcc: duplicate watch ID provided on the WatchStream"
            return try await refuse(response, reason: reason, sender)
        }
        response.watchID = id
        // The revision the watcher was registered at: never ahead of its start.
        try await sender.send(response, revision: watcher.createdRevision)
        if let compacted {
            _ = registry.remove(id)
            watcher.cancel()
            try await sendCompacted(id: id, compactRevision: compacted, sender)
            return nil
        }
        return CreatedWatcher(id: id, watcher: watcher)
    }

    /// A start below the compaction point still creates a watcher (etcd answers `created` first and
    /// then cancels it with the compaction point); the second value is that point.
    private func register(_ request: WatchRequest) throws(StoreError) -> (Watcher, Int64?) {
        do {
            return (try hub.watch(request), nil)
        } catch .compacted {
            return (try hub.watch(WatchRequest(range: request.range)), hub.compactRevision)
        }
    }

    /// etcd's refusal text: grpc-go's rendering of the error (`rpc error: code = ... desc = ...`),
    /// with every error other than these three reported as permission denied. (etcd 3.4 checks a
    /// watch from a key, or on a prefix whose end is "\0", as if it were that one key; Kelson checks
    /// the whole range.)
    private static func cancelReason(_ error: EtcdWireError) -> String {
        switch error {
        case .invalidAuthToken, .authOldRevision, .userEmpty: return error.goErrorDescription
        default: return EtcdWireError.permissionDenied.goErrorDescription
        }
    }

    struct CreatedWatcher {
        let id: Int64
        let watcher: Watcher
    }

    private func refuse(
        _ response: Etcdserverpb_WatchResponse, reason: String, _ sender: WatchStreamSender
    ) async throws -> CreatedWatcher? {
        var response = response
        response.watchID = -1
        response.canceled = true
        response.cancelReason = reason
        try await sender.send(response, revision: hub.publishedRevision)
        return nil
    }

    /// Moves one watcher's deliveries onto the stream until it ends; answers the progress notifications owed once
    /// the watcher reports back caught up (`.progress`).
    private func pump(_ watcher: Watcher, id: Int64, _ registry: WatchStreamRegistry, _ sender: WatchStreamSender)
        async throws
    {
        while let delivery = try await nextDelivery(watcher) {
            switch delivery {
            case .events(let revision, let events):
                var response = Etcdserverpb_WatchResponse()
                response.watchID = id
                response.events = events.map(Self.event)
                try await sender.send(
                    response, revision: revision, fragment: registry.entry(id)?.fragment ?? false,
                    confirming: watcher)
                registry.markSent(id)
            case .progress:
                if registry.takeTickDue(id) {
                    try await sender.sendProgress(id: id, hub: hub, claim: { [watcher] })
                }
            case .compacted(let compactRevision):
                _ = registry.remove(id)
                try await sendCompacted(id: id, compactRevision: compactRevision, sender)
                return
            }
            try await sendStreamProgressIfDue(registry, sender)
        }
    }

    /// The watcher's next delivery; cancelling the pump's task cancels the watcher.
    private func nextDelivery(_ watcher: Watcher) async throws -> WatchDelivery? {
        let result: Result<WatchDelivery?, StoreError> = await withTaskCancellationHandler {
            do throws(StoreError) {
                return .success(try await watcher.next())
            } catch {
                return .failure(error)
            }
        } onCancel: {
            watcher.cancel()
        }
        switch result {
        case .success(let delivery): return delivery
        case .failure(let error): throw GRPCStatus(error)
        }
    }

    private func sendCompacted(id: Int64, compactRevision: Int64, _ sender: WatchStreamSender) async throws {
        var response = Etcdserverpb_WatchResponse()
        response.watchID = id
        response.compactRevision = compactRevision
        response.canceled = true
        try await sender.send(response, revision: nil)
    }

    /// A stream-wide progress request (watch ID -1) is answered once every watcher of the stream is caught up, at
    /// the revision they have all been given; the header then promises that all later events have higher revisions.
    private func sendStreamProgressIfDue(_ registry: WatchStreamRegistry, _ sender: WatchStreamSender) async throws {
        // Checked again by the sender; this spares every delivery a hop to it when nothing is asked for.
        guard registry.hasPendingProgress else { return }
        try await sender.sendProgress(
            id: -1, hub: hub, claim: { registry.pendingProgressWatchers() }, onSent: { registry.progressAnswered() })
    }

    /// Periodic progress notifications for watchers created with `progress_notify`: each due watcher is asked for a
    /// progress delivery, which its pump answers once it is caught up.
    private func progressLoop(_ registry: WatchStreamRegistry) async throws {
        while true {
            try await Task.sleep(for: progressInterval)
            registry.progressTick().forEach { $0.requestProgress() }
        }
    }

    static func event(_ event: WatchEvent) -> Mvccpb_Event {
        var message = Mvccpb_Event()
        message.type = event.kind == .put ? .put : .delete
        message.kv = Conversions.keyValue(event.keyValue)
        if let previous = event.previous { message.prevKv = Conversions.keyValue(previous) }
        return message
    }
}
