import Foundation
import KubeAPI

/// `POST …/serviceaccounts/{name}/token` (the TokenRequest subresource): a service-account token signed by the
/// server's key, for the audiences and lifetime asked for (kube-apiserver's defaults: its own issuer, one hour;
/// at least 10 minutes), optionally bound to a pod. `kubectl create token` and the node agent use it.
struct TokenRequests: Sendable {
    let registry: ObjectRegistry
    let tokens: ServiceAccountTokens
    let now: @Sendable () -> Date

    static let minimumExpirationSeconds: Int64 = 600

    func create(_ request: JSONValue, target: RequestTarget, name: String) async throws(KubeError) -> JSONValue {
        let account = try await registry.get(target, name: name)
        let namespace = target.namespace ?? ""
        var expiration = request[path: "spec", "expirationSeconds"]?.intValue ?? 3600
        if expiration < Self.minimumExpirationSeconds {
            throw .invalid(
                kind: "TokenRequest", group: "authentication.k8s.io", name: name,
                causes: [
                    (
                        "spec.expirationSeconds", "FieldValueInvalid",
                        "Invalid value: \(expiration): may not specify a duration less than 10 minutes"
                    )
                ],
                summary:
                    "spec.expirationSeconds: Invalid value: \(expiration): may not specify a duration less than 10 minutes"
            )
        }
        expiration = min(expiration, ServiceAccountTokens.expirationSecondsMaximum)
        var pod: TokenBoundObject?
        if let bound = request[path: "spec", "boundObjectRef"], bound["kind"]?.stringValue == "Pod" {
            pod = TokenBoundObject(name: bound["name"]?.stringValue ?? "", uid: bound["uid"]?.stringValue ?? "")
        }
        let audiences = request[path: "spec", "audiences"]?.arrayValue?.compactMap(\.stringValue)
        let token: String
        do {
            token = try tokens.issue(
                namespace: namespace,
                serviceAccount: TokenBoundObject(
                    name: name, uid: account[path: "metadata", "uid"]?.stringValue ?? ""),
                pod: pod, audiences: audiences?.isEmpty == false ? audiences : nil, expirationSeconds: expiration)
        } catch {
            throw .badRequest("\(error)")
        }
        var spec = request["spec"]?.objectValue ?? JSONObject()
        spec["audiences"] = .array((audiences?.isEmpty == false ? audiences! : tokens.audiences).map { .string($0) })
        spec["expirationSeconds"] = .int(expiration)
        spec["boundObjectRef"] = spec["boundObjectRef"] ?? .null
        return [
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": [
                "name": .string(name), "namespace": .string(namespace),
                "creationTimestamp": .string(APITime.format(now())),
            ],
            "spec": .object(spec),
            "status": [
                "token": .string(token),
                "expirationTimestamp": .string(APITime.format(now().addingTimeInterval(Double(expiration)))),
            ],
        ]
    }
}
