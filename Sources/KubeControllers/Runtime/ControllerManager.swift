import Foundation
import KubeAPI
import KubeServer
import Logging
import ServiceLifecycle
import Synchronization

/// kube-controller-manager and kube-scheduler in one `Service`: starts the shared informers, waits for their first
/// lists, then runs each controller's workers and the periodic resync until shutdown.
public final class ControllerManager: Service, Sendable {
    public let context: ControllerContext
    public let controllers: [any Controller]
    private let reconciles = Mutex<[String: Int]>([:])

    /// Reconciles done so far, by controller (benchmarks read it).
    public var reconcileCounts: [String: Int] { reconciles.withLock { $0 } }

    /// True when no controller has a key queued or in progress (keys waiting for a later time do not count).
    public var isIdle: Bool { controllers.allSatisfy { $0.queue.depth == 0 } }

    public init(context: ControllerContext, controllers: [any Controller]) {
        self.context = context
        self.controllers = controllers
    }

    /// Every controller Kelson has, on one context, but those named in `disabled` (`scheduler`, `deployment`, …).
    public static func standard(context: ControllerContext, disabled: Set<String> = []) -> ControllerManager {
        ControllerManager(context: context, controllers: ControllerSet.make(context, disabled: disabled))
    }

    /// The names of every controller, as `standard(context:disabled:)` takes them.
    public static var controllerNames: [String] { ControllerSet.all.map(\.name) }

    /// Runs until shutdown (or cancellation). With leader election (`ControllerSettings.leaderElectionIdentity`)
    /// the controllers run only while this process holds the lease, and stop when it is lost.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.lead() }
            group.addTask { try? await gracefulShutdown() }
            // The first child to end is the shutdown watcher (or cancellation): stop the rest.
            _ = await group.next()
            group.cancelAll()
        }
        for controller in controllers { controller.queue.shutDown() }
    }

    private func lead() async {
        guard let identity = context.settings.leaderElectionIdentity else { return await runControllers() }
        let election = LeaderElection(client: context.client, identity: identity, now: context.now)
        while !Task.isCancelled {
            guard await election.acquire() else { break }
            context.logger.info("leading the controllers", metadata: ["identity": "\(identity)"])
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.runControllers() }
                group.addTask { await election.holdWhileRenewing() }
                _ = await group.next()
                group.cancelAll()
            }
            if !Task.isCancelled {
                context.logger.warning("lost the controllers' lease; waiting to win it back")
            }
        }
        // Shutting down: let another server (or this one, restarted) take over at once.
        await Task { await election.release() }.value
    }

    /// The informers, the event recorder, every controller's workers and resync, until cancelled.
    private func runControllers() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.context.events.run() }
            for informer in context.informers.all {
                group.addTask { await informer.run() }
            }
            for informer in context.informers.all { await informer.waitForSync() }
            for controller in controllers {
                for _ in 0..<controller.workers {
                    group.addTask { await self.work(controller) }
                }
                group.addTask { await self.resync(controller) }
            }
        }
    }

    /// Reconciles keys until the queue shuts down; a failure comes back after its back-off.
    private func work(_ controller: any Controller) async {
        while let key = await controller.queue.next() {
            reconciles.withLock { $0[controller.name, default: 0] += 1 }
            do {
                try await controller.reconcile(key)
                controller.queue.forget(key)
            } catch {
                if case let failure as KubeError = error, failure.code == 409 {
                    // Someone wrote first: read the cache again soon.
                } else {
                    context.logger.debug(
                        "reconcile failed",
                        metadata: [
                            "controller": "\(controller.name)", "key": "\(key)",
                            "error": "\(error)",
                        ])
                }
                controller.queue.addRateLimited(key)
            }
            controller.queue.done(key)
        }
    }

    private func resync(_ controller: any Controller) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: context.settings.resyncPeriod) } catch { return }
            for key in controller.allKeys() { controller.queue.add(key) }
        }
    }

    /// Queues every key of every controller now (tests that move the clock use it).
    public func resyncAll() {
        for controller in controllers { for key in controller.allKeys() { controller.queue.add(key) } }
    }
}
