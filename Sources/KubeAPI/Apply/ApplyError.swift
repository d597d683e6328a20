/// Why a server-side apply was refused, with kube-apiserver's exact wording.
public struct ApplyError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Code: Sendable, Equatable {
        /// Fields other managers own would change: 409 Conflict with one `FieldManagerConflict` cause per field.
        case conflict
        /// The request itself is wrong (`metadata.managedFields must be nil`): 400.
        case badRequest
        /// The applied object does not fit its schema (duplicate list keys, elements without keys): upstream
        /// returns the plain error, which kube-apiserver sends as a 500 with no reason.
        case invalidObject
    }

    let code: Code
    /// The Status message (`Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1:
    /// .spec.replicas`).
    public let message: String
    /// The Status causes: `{"reason":"FieldManagerConflict","message":"conflict with …","field":".spec.replicas"}`.
    public let causes: [JSONValue]

    /// Whether this is a conflict with other managers (which `force` overrides).
    public var isConflict: Bool { code == .conflict }

    public var description: String { message }

    /// The error as kube-apiserver answers it.
    public var kubeError: KubeError {
        switch code {
        case .conflict:
            var error = KubeError(code: 409, reason: "Conflict", message: message)
            error.causes = causes
            return error
        case .badRequest:
            return .badRequest(message)
        case .invalidObject:
            return KubeError(code: 500, reason: "", message: message)
        }
    }

    /// apimachinery's `NewConflictError` for conflicts, each a manager and a path: one message line per path,
    /// grouped by manager in the order of the managers' identifiers.
    static func conflicts(_ conflicts: [(manager: ManagerIdentity, path: ManagedFieldPath)]) -> ApplyError {
        let causes: [JSONValue] = conflicts.map { conflict in
            .object([
                "reason": "FieldManagerConflict", "message": .string("conflict with \(conflict.manager.printed)"),
                "field": .string(FieldPathText.pathText(conflict.path)),
            ])
        }
        if conflicts.count == 1, let only = conflicts.first {
            return ApplyError(
                code: .conflict,
                message:
                    "Apply failed with 1 conflict: conflict with \(only.manager.printed): \(FieldPathText.pathText(only.path))",
                causes: causes)
        }
        var lines: [String] = []
        var lastManager: ManagerIdentity?
        for conflict in conflicts {
            if conflict.manager != lastManager {
                lines.append("conflicts with \(conflict.manager.printed):")
                lastManager = conflict.manager
            }
            lines.append("- \(FieldPathText.pathText(conflict.path))")
        }
        return ApplyError(
            code: .conflict,
            message: "Apply failed with \(conflicts.count) conflicts: \(lines.joined(separator: "\n"))",
            causes: causes)
    }
}
