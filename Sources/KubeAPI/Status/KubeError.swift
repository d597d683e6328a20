/// An API error as kube-apiserver answers it: an HTTP code, a `reason` clients switch on, and a message kubectl
/// prints as `Error from server (<reason>): <message>`. Constructors mirror apimachinery's `api/errors`, with its
/// exact wording (clients and people match on it).
public struct KubeError: Error, Sendable, Equatable {
    public var code: Int
    public var reason: String
    public var message: String
    /// `details`: the object's name, group, kind (the resource's plural, as the real server sends) and causes.
    public var name: String?
    public var group: String?
    public var kind: String?
    public var causes: [JSONValue] = []
    /// Seconds a client should wait (429, 503): sent as `Retry-After` and `details.retryAfterSeconds`.
    public var retryAfterSeconds: Int?

    public init(code: Int, reason: String, message: String) {
        self.code = code
        self.reason = reason
        self.message = message
    }

    /// The `Status` object sent as the body.
    public var status: JSONValue {
        var object: JSONObject = [
            "kind": "Status", "apiVersion": "v1", "metadata": .object(JSONObject()), "status": "Failure",
            "message": .string(message),
        ]
        if !reason.isEmpty { object["reason"] = .string(reason) }
        var details = JSONObject()
        if let name { details["name"] = .string(name) }
        if let group { details["group"] = .string(group) }
        if let kind { details["kind"] = .string(kind) }
        if !causes.isEmpty { details["causes"] = .array(causes) }
        if let retryAfterSeconds { details["retryAfterSeconds"] = .int(Int64(retryAfterSeconds)) }
        if !details.isEmpty { object["details"] = .object(details) }
        object["code"] = .int(Int64(code))
        return .object(object)
    }

    /// `group.resource` as apimachinery's `GroupResource.String()` prints it (`pods`, `deployments.apps`).
    static func qualified(_ resource: String, group: String) -> String {
        group.isEmpty ? resource : "\(resource).\(group)"
    }

    public static func notFound(_ resource: String, group: String, name: String) -> KubeError {
        var error = KubeError(
            code: 404, reason: "NotFound", message: "\(qualified(resource, group: group)) \"\(name)\" not found")
        error.name = name
        error.group = group.isEmpty ? nil : group
        error.kind = resource
        return error
    }

    public static func alreadyExists(_ resource: String, group: String, name: String) -> KubeError {
        var error = KubeError(
            code: 409, reason: "AlreadyExists",
            message: "\(qualified(resource, group: group)) \"\(name)\" already exists")
        error.name = name
        error.group = group.isEmpty ? nil : group
        error.kind = resource
        return error
    }

    /// A stale `resourceVersion` on update (`errors.NewConflict` with the registry's optimistic-lock message).
    public static func conflict(_ resource: String, group: String, name: String, detail: String) -> KubeError {
        var error = KubeError(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(qualified(resource, group: group)) \"\(name)\": \(detail)")
        error.name = name
        error.group = group.isEmpty ? nil : group
        error.kind = resource
        return error
    }

    public static let optimisticLockMessage =
        "the object has been modified; please apply your changes to the latest version and try again"

    public static func badRequest(_ message: String) -> KubeError {
        KubeError(code: 400, reason: "BadRequest", message: message)
    }

    /// 422 with the field errors as causes: `Pod "p" is invalid: spec.containers: Required value`.
    public static func invalid(
        kind: String, group: String, name: String, causes: [(field: String, reason: String, message: String)],
        summary: String
    ) -> KubeError {
        var error = KubeError(
            code: 422, reason: "Invalid",
            message: "\(kind.isEmpty ? "" : kind + " ")\"\(name)\" is invalid: \(summary)")
        error.name = name
        error.group = group.isEmpty ? nil : group
        error.kind = kind
        error.causes = causes.map {
            .object(["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)])
        }
        return error
    }

    /// 410 for a compacted `resourceVersion` or continue token (`errors.NewResourceExpired`).
    public static func expired(_ message: String) -> KubeError {
        KubeError(code: 410, reason: "Expired", message: message)
    }

    public static func gone(_ message: String) -> KubeError { KubeError(code: 410, reason: "Gone", message: message) }

    public static func methodNotSupported(_ resource: String, group: String, verb: String) -> KubeError {
        var error = KubeError(
            code: 405, reason: "MethodNotAllowed",
            message: "\(verb) is not supported on resources of kind \"\(qualified(resource, group: group))\"")
        error.group = group.isEmpty ? nil : group
        error.kind = resource
        return error
    }

    public static func unsupportedMediaType(_ contentType: String) -> KubeError {
        KubeError(
            code: 415, reason: "UnsupportedMediaType",
            message:
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
        )
    }

    public static let unknownPath = KubeError(
        code: 404, reason: "NotFound", message: "the server could not find the requested resource")

    public static func forbidden(_ resource: String, group: String, name: String, detail: String) -> KubeError {
        var error = KubeError(
            code: 403, reason: "Forbidden",
            message: "\(qualified(resource, group: group)) \"\(name)\" is forbidden: \(detail)")
        error.name = name
        error.group = group.isEmpty ? nil : group
        error.kind = resource
        return error
    }

    public static func internalError(_ message: String) -> KubeError {
        var error = KubeError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
        error.causes = [.object(["message": .string(message)])]
        return error
    }

    public static func serviceUnavailable(_ message: String) -> KubeError {
        KubeError(code: 503, reason: "ServiceUnavailable", message: message)
    }

    public static let unauthorized = KubeError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    public static func tooManyRequests(retryAfterSeconds: Int) -> KubeError {
        var error = KubeError(
            code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later.")
        error.retryAfterSeconds = retryAfterSeconds
        return error
    }

    public static let requestTooLarge = KubeError(
        code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is 3145728")

    public static func notAcceptable(_ accept: String) -> KubeError {
        KubeError(
            code: 406, reason: "NotAcceptable",
            message:
                "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf"
        )
    }
}
