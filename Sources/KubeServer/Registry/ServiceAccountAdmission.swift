import KubeAPI

/// kube-apiserver's ServiceAccount admission for new pods: `serviceAccountName` defaults to `default`, and unless
/// the pod opts out (`automountServiceAccountToken: false`) or already mounts something there, a projected volume
/// `kube-api-access-<random>` (a bound token, the cluster CA from `kube-root-ca.crt`, the namespace) is added and
/// mounted read-only at `/var/run/secrets/kubernetes.io/serviceaccount` in every container. The node agent fills
/// the token through `serviceaccounts/{name}/token`.
enum ServiceAccountAdmission {
    static let mountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

    static func admit(_ pod: inout JSONValue) {
        let account =
            pod[path: "spec", "serviceAccountName"]?.stringValue ?? pod[path: "spec", "serviceAccount"]?
            .stringValue ?? ""
        let name = account.isEmpty ? "default" : account
        pod[path: "spec", "serviceAccountName"] = .string(name)
        pod[path: "spec", "serviceAccount"] = .string(name)
        guard pod[path: "spec", "automountServiceAccountToken"]?.boolValue != false else { return }
        let lists = ["initContainers", "containers", "ephemeralContainers"]
        let alreadyMounted = lists.contains { list in
            (pod[path: "spec", list]?.arrayValue ?? []).contains { container in
                (container["volumeMounts"]?.arrayValue ?? []).contains { $0["mountPath"]?.stringValue == mountPath }
            }
        }
        guard !alreadyMounted else { return }
        let volumeName = NameGenerator.generateName(base: "kube-api-access-")
        let volume: JSONValue = [
            "name": .string(volumeName),
            "projected": [
                "sources": [
                    ["serviceAccountToken": ["expirationSeconds": 3607, "path": "token"]],
                    ["configMap": ["name": "kube-root-ca.crt", "items": [["key": "ca.crt", "path": "ca.crt"]]]],
                    [
                        "downwardAPI": [
                            "items": [
                                [
                                    "path": "namespace",
                                    "fieldRef": ["apiVersion": "v1", "fieldPath": "metadata.namespace"],
                                ]
                            ]
                        ]
                    ],
                ],
                "defaultMode": 420,
            ],
        ]
        pod[path: "spec", "volumes"] = .array((pod[path: "spec", "volumes"]?.arrayValue ?? []) + [volume])
        let mount: JSONValue = ["name": .string(volumeName), "readOnly": true, "mountPath": .string(mountPath)]
        for list in ["initContainers", "containers"] {
            guard let containers = pod[path: "spec", list]?.arrayValue else { continue }
            pod[path: "spec", list] = .array(
                containers.map { container in
                    var container = container
                    container["volumeMounts"] = .array((container["volumeMounts"]?.arrayValue ?? []) + [mount])
                    return container
                })
        }
    }
}
