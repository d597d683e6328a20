import Testing

@testable import KubeAPI

// Bodies captured from real kubectl 1.33 (`--dry-run=server` against a loopback HTTP server that saved each
// request body; kubectl 1.32 sends the same bytes). Each decodes to the JSON Go's encoding/json writes for the same
// object (`kubectl create … --dry-run=client -o json`), less `creationTimestamp: null`, which Kubernetes 1.34+
// leaves out too (`omitzero`).

struct ProtobufKubectlBody: Sendable, CustomTestStringConvertible {
    let name: String
    let body: [UInt8]
    let json: String

    init(_ name: String, body: String, json: String) {
        self.name = name
        self.body = bytes(hex: body)
        self.json = json
    }

    var testDescription: String { name }
}

/// Bytes from hex digits, whitespace ignored.
private func bytes(hex: String) -> [UInt8] {
    let digits = hex.unicodeScalars.compactMap { UInt8(String($0), radix: 16) }
    return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}

private func text(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

private let kubectlBodies: [ProtobufKubectlBody] = [
    // kubectl create configmap cm --from-literal=a=b
    ProtobufKubectlBody(
        "configMap",
        body: """
            6b3873000a0f0a0276311209436f6e6669674d6170121c0a120a02636d12001a0022002a0032003800420012060a01611201621a
            002200
            """,
        json: #"""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"b"}}
            """#),
    // kubectl create secret generic s1 --from-literal=user=admin --from-literal=pw=p@ss
    ProtobufKubectlBody(
        "secret",
        body: """
            6b3873000a0c0a027631120653656372657412310a120a02733112001a0022002a00320038004200120a0a027077120470407373
            120d0a0475736572120561646d696e1a001a002200
            """,
        json: #"""
            {"apiVersion":"v1","kind":"Secret","metadata":{"name":"s1"},"data":{"pw":"cEBzcw==","user":
            "YWRtaW4="}}
            """#),
    // kubectl create secret docker-registry reg --docker-server=r.io --docker-username=u --docker-password=p
    ProtobufKubectlBody(
        "dockerRegistrySecret",
        body: """
            6b3873000a0c0a0276311206536563726574128c010a130a0372656712001a0022002a0032003800420012550a112e646f636b65
            72636f6e6669676a736f6e12407b226175746873223a7b22722e696f223a7b22757365726e616d65223a2275222c227061737377
            6f7264223a2270222c2261757468223a2264547077227d7d7d1a1e6b756265726e657465732e696f2f646f636b6572636f6e6669
            676a736f6e1a002200
            """,
        json: #"""
            {"apiVersion":"v1","kind":"Secret","metadata":{"name":"reg"},"data":{".dockerconfigjson":
            "eyJhdXRocyI6eyJyLmlvIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ=="},"type":
            "kubernetes.io/dockerconfigjson"}
            """#),
    // kubectl create namespace ns1
    ProtobufKubectlBody(
        "namespace",
        body: """
            6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a0022002a0032003800420012001a020a001a00
            2200
            """,
        json: #"""
            {"apiVersion":"v1","kind":"Namespace","metadata":{"name":"ns1"},"spec":{},"status":{}}
            """#),
    // kubectl create serviceaccount sa1
    ProtobufKubectlBody(
        "serviceAccount",
        body: """
            6b3873000a140a027631120e536572766963654163636f756e7412150a130a0373613112001a0022002a003200380042001a0022
            00
            """,
        json: #"""
            {"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa1"}}
            """#),
    // kubectl create deployment web --image=nginx --replicas=2 --port=80
    ProtobufKubectlBody(
        "deployment",
        body: """
            6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b8010a1f0a0377656212001a0022002a003200380042005a
            0a0a0361707012037765621286010802120c0a0a0a0361707012037765621a6c0a1c0a0012001a0022002a003200380042005a0a
            0a036170701203776562124c122e0a056e67696e7812056e67696e782a00320a0a001000185022002a0042006a00720080010088
            0100900100a201001a00320042004a0052005800600068008201008a01009a0100c2010022020a00280038001a0c080010001800
            2000280038001a002200
            """,
        json: #"""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},"spec":
            {"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":
            "web"}},"spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}],
            "resources":{}}]}},"strategy":{}},"status":{}}
            """#),
    // kubectl create job j1 --image=busybox -- echo hi
    ProtobufKubectlBody(
        "job",
        body: """
            6b3873000a0f0a0862617463682f763112034a6f621284010a120a026a3112001a0022002a00320038004200126432620a100a00
            12001a0022002a00320038004200124e122b0a026a31120762757379626f781a046563686f1a0268692a0042006a007200800100
            880100900100a201001a054e65766572320042004a0052005800600068008201008a01009a0100c201001a082000280030003a00
            1a002200
            """,
        json: #"""
            {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j1"},"spec":{"template":{"metadata":{},
            "spec":{"containers":[{"name":"j1","image":"busybox","command":["echo","hi"],"resources":{}}],
            "restartPolicy":"Never"}}},"status":{}}
            """#),
    // kubectl create cronjob cj --image=busybox --schedule='*/1 * * * *' -- date
    ProtobufKubectlBody(
        "cronJob",
        body: """
            6b3873000a130a0862617463682f7631120743726f6e4a6f6212a4010a120a02636a12001a0022002a00320038004200128b010a
            0b2a2f31202a202a202a202a1a002a7a0a120a02636a12001a0022002a00320038004200126432620a100a0012001a0022002a00
            320038004200124e12270a02636a120762757379626f781a04646174652a0042006a007200800100880100900100a201001a094f
            6e4661696c757265320042004a0052005800600068008201008a01009a0100c201001a001a002200
            """,
        json: #"""
            {"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"cj"},"spec":{"schedule":"*/1 * * * *",
            "jobTemplate":{"metadata":{"name":"cj"},"spec":{"template":{"metadata":{},"spec":{"containers":
            [{"name":"cj","image":"busybox","command":["date"],"resources":{}}],"restartPolicy":
            "OnFailure"}}}}},"status":{}}
            """#),
    // kubectl create job jf --from=cronjob/cj (a CronJob with a volume, limits, a probe and env)
    ProtobufKubectlBody(
        "jobFromCronJob",
        body: """
            6b3873000a0f0a0862617463682f763112034a6f6212ba020a5e0a026a6612001a0022002a00320038004200622b0a2163726f6e
            6a6f622e6b756265726e657465732e696f2f696e7374616e746961746512066d616e75616c6a1d0a0743726f6e4a6f621a02636a
            220275312a0862617463682f7631300112cd0132ca010a100a0012001a0022002a0032003800420012b5010a100a0176120b1209
            0a0012050a03314769127c0a0163120762757379626f782a003a060a014112013142220a0d0a0363707512060a043530306d0a11
            0a066d656d6f727912070a053132384d694a0d0a017610001a022f76220032005a210a1512130a012f120a080110001a04687474
            701a002200100018002005280030006a007200800100880100900100a201001a094f6e4661696c757265320042004a0052005800
            600068008201008a01009a0100c201001a082000280030003a001a002200
            """,
        json: #"""
            {"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"jf","annotations":
            {"cronjob.kubernetes.io/instantiate":"manual"},"ownerReferences":[{"apiVersion":"batch/v1","kind":
            "CronJob","name":"cj","uid":"u1","controller":true}]},"spec":{"template":{"metadata":{},"spec":
            {"volumes":[{"name":"v","emptyDir":{"sizeLimit":"1Gi"}}],"containers":[{"name":"c","image":
            "busybox","env":[{"name":"A","value":"1"}],"resources":{"limits":{"cpu":"500m","memory":"128Mi"}},
            "volumeMounts":[{"name":"v","mountPath":"/v"}],"readinessProbe":{"httpGet":{"path":"/","port":
            "http"},"periodSeconds":5}}],"restartPolicy":"OnFailure"}}},"status":{}}
            """#),
    // kubectl create service clusterip s --tcp=80:8080
    ProtobufKubectlBody(
        "clusterIPService",
        body: """
            6b3873000a0d0a02763112075365727669636512630a1b0a017312001a0022002a003200380042005a080a036170701201731240
            0a1b0a0738302d38303830120354435018502207080010903f1a00280012080a036170701201731a002209436c75737465724950
            3a00420052005a00600068001a020a001a002200
            """,
        json: #"""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"s","labels":{"app":"s"}},"spec":{"ports":
            [{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"s"},"type":
            "ClusterIP"},"status":{"loadBalancer":{}}}
            """#),
    // kubectl create service nodeport np --tcp=443:https
    ProtobufKubectlBody(
        "nodePortService",
        body: """
            6b3873000a0d0a027631120753657276696365126c0a1d0a026e7012001a0022002a003200380042005a090a0361707012026e70
            12470a220a093434332d6874747073120354435018bb03220b080110001a056874747073280012090a0361707012026e701a0022
            084e6f6465506f72743a00420052005a00600068001a020a001a002200
            """,
        json: #"""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"np","labels":{"app":"np"}},"spec":{"ports":
            [{"name":"443-https","protocol":"TCP","port":443,"targetPort":"https"}],"selector":{"app":"np"},
            "type":"NodePort"},"status":{"loadBalancer":{}}}
            """#),
    // kubectl create quota q --hard=cpu=1,memory=1Gi,pods=2
    ProtobufKubectlBody(
        "resourceQuota",
        body: """
            6b3873000a130a027631120d5265736f7572636551756f746112410a110a017112001a0022002a00320038004200122a0a0a0a03
            63707512030a01310a0f0a066d656d6f727912050a033147690a0b0a04706f647312030a01321a001a002200
            """,
        json: #"""
            {"apiVersion":"v1","kind":"ResourceQuota","metadata":{"name":"q"},"spec":{"hard":{"cpu":"1",
            "memory":"1Gi","pods":"2"}},"status":{}}
            """#),
    // kubectl create poddisruptionbudget pdb --selector=app=web --min-available=50%
    ProtobufKubectlBody(
        "podDisruptionBudget",
        body: """
            6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e427564676574123c0a130a0370646212001a0022
            002a0032003800420012190a09080110001a03353025120c0a0a0a0361707012037765621a0a080018002000280030001a002200
            """,
        json: #"""
            {"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"pdb"},"spec":
            {"minAvailable":"50%","selector":{"matchLabels":{"app":"web"}}},"status":{"disruptionsAllowed":0,
            "currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}
            """#),
    // kubectl create rolebinding rb --role=r --user=alice --serviceaccount=default:sa1
    ProtobufKubectlBody(
        "roleBinding",
        body: """
            6b3873000a2b0a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f7631120b526f6c6542696e64696e67128801
            0a120a02726212001a0022002a00320038004200122a0a04557365721219726261632e617574686f72697a6174696f6e2e6b3873
            2e696f1a05616c696365220012200a0e536572766963654163636f756e7412001a03736131220764656661756c741a240a197262
            61632e617574686f72697a6174696f6e2e6b38732e696f1204526f6c651a01721a002200
            """,
        json: #"""
            {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"rb"},
            "subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"},{"kind":
            "ServiceAccount","name":"sa1","namespace":"default"}],"roleRef":{"apiGroup":
            "rbac.authorization.k8s.io","kind":"Role","name":"r"}}
            """#),
    // kubectl create ingress ing --rule=foo.com/bar=svc1:8080
    ProtobufKubectlBody(
        "ingress",
        body: """
            6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e6772657373124a0a130a03696e6712001a002200
            2a00320038004200122f1a2d0a07666f6f2e636f6d12220a200a1e0a042f626172120f220d0a047376633112050a0010903f1a05
            45786163741a020a001a002200
            """,
        json: #"""
            {"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"ing"},"spec":{"rules":
            [{"host":"foo.com","http":{"paths":[{"path":"/bar","pathType":"Exact","backend":{"service":{"name":
            "svc1","port":{"number":8080}}}}]}}]},"status":{"loadBalancer":{}}}
            """#),
    // kubectl create token sa1 --duration=1h --audience=api
    ProtobufKubectlBody(
        "tokenRequest",
        body: """
            6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e5265717565737412220a100a00
            12001a0022002a0032003800420012080a0361706920901c1a040a0012001a002200
            """,
        json: #"""
            {"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","metadata":{},"spec":{"audiences":
            ["api"],"expirationSeconds":3600},"status":{"token":""}}
            """#),
]

/// Protobuf written by hand, for what kubectl does not send.
private enum Wire {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    static func field(_ number: Int, varint value: UInt64) -> [UInt8] { varint(UInt64(number << 3)) + varint(value) }

    static func field(_ number: Int, int value: Int64) -> [UInt8] { field(number, varint: UInt64(bitPattern: value)) }

    static func field(_ number: Int, bytes: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3 | 2)) + varint(UInt64(bytes.count)) + bytes
    }

    static func field(_ number: Int, _ string: String) -> [UInt8] { field(number, bytes: Array(string.utf8)) }

    static func body(_ apiVersion: String, _ kind: String, _ raw: [UInt8]) -> [UInt8] {
        KubeProtobuf.magic + field(1, bytes: field(1, apiVersion) + field(2, kind)) + field(2, bytes: raw)
    }

    static func metadata(name: String) -> [UInt8] { field(1, bytes: field(1, name)) }
}

private func decodingError(_ bytes: [UInt8]) -> KubeProtobufError? {
    do {
        _ = try KubeProtobuf.decodeObject(bytes)
        return nil
    } catch {
        return error
    }
}

/// `swift test --filter ProtobufDecodingTests` runs all three suites.
@Suite struct ProtobufDecodingTests {}

extension ProtobufDecodingTests {
    @Suite struct KubectlBodies {
        @Test(arguments: kubectlBodies)
        func decodesAsGoWritesJSON(_ body: ProtobufKubectlBody) throws {
            let decoded = try KubeProtobuf.decodeObject(body.body)
            let expected = try JSONValue.parse(body.json)
            #expect(decoded == expected)
            #expect(text(decoded) == text(expected), "same keys in the same order")
        }

        @Test func keyFieldsOfTheGenerators() throws {
            func decoded(_ name: String) throws -> JSONValue {
                try KubeProtobuf.decodeObject(#require(kubectlBodies.first { $0.name == name }).body)
            }
            let secret = try decoded("secret")
            #expect(secret[path: "data", "user"] == "YWRtaW4=")
            let deployment = try decoded("deployment")
            #expect(deployment[path: "spec", "replicas"] == 2)
            #expect(
                deployment[path: "spec", "template", "spec", "containers"] == [
                    ["name": "nginx", "image": "nginx", "ports": [["containerPort": 80]], "resources": [:]]
                ])
            #expect(
                try decoded("clusterIPService")[path: "spec", "ports"] == [
                    ["name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080]
                ])
            #expect(try decoded("nodePortService")[path: "spec", "ports"]?.arrayValue?.first?["targetPort"] == "https")
            #expect(try decoded("cronJob")[path: "spec", "schedule"] == "*/1 * * * *")
            #expect(try decoded("podDisruptionBudget")[path: "spec", "minAvailable"] == "50%")
            #expect(try decoded("resourceQuota")[path: "spec", "hard"] == ["cpu": "1", "memory": "1Gi", "pods": "2"])
            let job = try decoded("jobFromCronJob")
            let podSpec = try #require(job[path: "spec", "template", "spec"])
            // VolumeSource and ProbeHandler are embedded Go structs: their fields sit in the parent object.
            #expect(podSpec["volumes"] == [["name": "v", "emptyDir": ["sizeLimit": "1Gi"]]])
            #expect(
                podSpec["containers"]?.arrayValue?.first?["readinessProbe"] == [
                    "httpGet": ["path": "/", "port": "http"], "periodSeconds": 5,
                ])
            #expect(job[path: "metadata", "namespace"] == nil, "empty strings under omitempty are left out")
        }
    }
}

extension ProtobufDecodingTests {
    @Suite struct FieldRules {
        @Test func presentPointersAreWrittenEvenWhenZeroAndOmitemptyZerosAreNot() throws {
            let metadata = Wire.field(1, bytes: Wire.field(1, "web") + Wire.field(7, int: 0) + Wire.field(3, ""))
            let spec = Wire.field(1, int: 0) + Wire.field(5, int: 0) + Wire.field(7, varint: 0)
            let value = try KubeProtobuf.decodeObject(
                Wire.body("apps/v1", "Deployment", metadata + Wire.field(2, bytes: spec)))
            #expect(
                text(value)
                    == #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":0}}"#)
        }

        @Test func negativeIntegersAreTwosComplementVarints() throws {
            let spec = Wire.field(1, int: -1) + Wire.field(6, int: -2)
            let value = try KubeProtobuf.decodeObject(Wire.body("apps/v1", "Deployment", Wire.field(2, bytes: spec)))
            #expect(value["spec"] == ["replicas": -1, "revisionHistoryLimit": -2])
            let metadata = Wire.field(1, bytes: Wire.field(10, int: -30))
            let pod = try KubeProtobuf.decodeObject(Wire.body("v1", "Pod", metadata))
            #expect(pod[path: "metadata", "deletionGracePeriodSeconds"] == -30)
        }

        @Test func unknownFieldsOfEveryWireTypeAreSkipped() throws {
            let unknown =
                Wire.field(900, varint: 300) + Wire.field(901, "newer field") + Wire.varint(902 << 3 | 1)
                + [UInt8](repeating: 7, count: 8)
                + Wire.varint(903 << 3 | 5) + [1, 2, 3, 4]
            let raw =
                unknown + Wire.metadata(name: "cm")
                + Wire.field(2, bytes: Wire.field(1, "k") + Wire.field(2, "v") + unknown)
            let value = try KubeProtobuf.decodeObject(Wire.body("v1", "ConfigMap", raw))
            #expect(text(value) == #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"k":"v"}}"#)
        }

        @Test func repeatedMessageFieldsMergeAndMapsKeepTheLastValueInSortedOrder() throws {
            let raw =
                Wire.metadata(name: "cm") + Wire.field(1, bytes: Wire.field(3, "team"))
                + Wire.field(2, bytes: Wire.field(1, "z") + Wire.field(2, "1"))
                + Wire.field(2, bytes: Wire.field(1, "a") + Wire.field(2, "2"))
                + Wire.field(2, bytes: Wire.field(1, "z") + Wire.field(2, "3"))
                + Wire.field(3, bytes: Wire.field(1, "empty"))
            let value = try KubeProtobuf.decodeObject(Wire.body("v1", "ConfigMap", raw))
            #expect(
                text(value)
                    == #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","namespace":"team"},"#
                    + #""data":{"a":"2","z":"3"},"binaryData":{"empty":""}}"#
            )
        }

        @Test func packedAndUnpackedRepeatedScalarsBothRead() throws {
            // PodSecurityContext.supplementalGroups: repeated int64 = 4.
            let packed = Wire.field(4, bytes: Wire.varint(1) + Wire.varint(UInt64(bitPattern: -2)))
            let securityContext = packed + Wire.field(4, int: 3)
            let spec = Wire.field(14, bytes: securityContext)
            let value = try KubeProtobuf.decodeObject(
                Wire.body("v1", "Pod", Wire.metadata(name: "p") + Wire.field(2, bytes: spec)))
            #expect(value[path: "spec", "securityContext", "supplementalGroups"] == [1, -2, 3])
        }

        @Test func timesDurationsAndQuantities() throws {
            let january2026: Int64 = 1_767_225_600
            let timestamp = Wire.field(1, int: january2026) + Wire.field(2, int: 999_999_999)
            // Lease: acquireTime MicroTime = 3, renewTime MicroTime = 4; leaseDurationSeconds = 2.
            let spec =
                Wire.field(3, bytes: timestamp)
                + Wire.field(4, bytes: Wire.field(1, int: -1) + Wire.field(2, int: 1_500))
            let lease = try KubeProtobuf.decodeObject(
                Wire.body("coordination.k8s.io/v1", "Lease", Wire.metadata(name: "l") + Wire.field(2, bytes: spec)))
            #expect(
                lease["spec"] == [
                    "acquireTime": "2026-01-01T00:00:00.999999Z", "renewTime": "1969-12-31T23:59:59.000001Z",
                ])

            // ObjectMeta.creationTimestamp = 8 (Time: nanoseconds dropped), deletionTimestamp = 9; empty is the zero time.
            let metadata = Wire.field(8, bytes: timestamp) + Wire.field(9, bytes: [])
            let namespace = try KubeProtobuf.decodeObject(Wire.body("v1", "Namespace", Wire.field(1, bytes: metadata)))
            #expect(namespace["metadata"] == ["creationTimestamp": "2026-01-01T00:00:00Z"])

            #expect(KubeProtobufText.goDuration(nanoseconds: 0) == "0s")
            #expect(KubeProtobufText.goDuration(nanoseconds: 3_600_000_000_000) == "1h0m0s")
            #expect(KubeProtobufText.goDuration(nanoseconds: -90_500_000_000) == "-1m30.5s")
            #expect(KubeProtobufText.goDuration(nanoseconds: 1_500) == "1.5µs")
            #expect(KubeProtobufText.goDuration(nanoseconds: 2_000_000) == "2ms")
            #expect(KubeProtobufText.goDuration(nanoseconds: 7) == "7ns")
            #expect(KubeProtobufText.goDuration(nanoseconds: .min) == "-2562047h47m16.854775808s")
            #expect(KubeProtobufText.base64([0xFF, 0x00][...]) == "/wA=")
            #expect(try KubeProtobufText.rfc3339(seconds: -62_135_596_800) == "0001-01-01T00:00:00Z")
            #expect(try KubeProtobufText.rfc3339(seconds: 951_782_400) == "2000-02-29T00:00:00Z")

            // ResourceQuota.spec.hard: map<string, Quantity>; a Quantity with no string is zero.
            let hard =
                Wire.field(1, bytes: Wire.field(1, "cpu") + Wire.field(2, bytes: Wire.field(1, "500m")))
                + Wire.field(1, bytes: Wire.field(1, "pods") + Wire.field(2, bytes: []))
            let quota = try KubeProtobuf.decodeObject(Wire.body("v1", "ResourceQuota", Wire.field(2, bytes: hard)))
            #expect(quota[path: "spec", "hard"] == ["cpu": "500m", "pods": "0"])
        }

        @Test func rawExtensionAndFieldsV1HoldJSON() throws {
            // ControllerRevision.data = 2 (RawExtension), revision = 3; ObjectMeta.managedFields = 17, fieldsV1 = 7.
            let managedField = Wire.field(1, "kubectl") + Wire.field(7, bytes: Wire.field(1, #"{"f:data":{}}"#))
            let raw =
                Wire.field(1, bytes: Wire.field(1, "rev") + Wire.field(17, bytes: managedField))
                + Wire.field(2, bytes: Wire.field(1, #"{"spec":{"template":{"x":[1,2.5,null]}}}"#))
                + Wire.field(3, int: 4)
            let value = try KubeProtobuf.decodeObject(Wire.body("apps/v1", "ControllerRevision", raw))
            #expect(value["data"] == ["spec": ["template": ["x": [1, 2.5, nil]]]])
            #expect(value["revision"] == 4)
            #expect(value[path: "metadata", "managedFields"] == [["manager": "kubectl", "fieldsV1": ["f:data": [:]]]])
        }

        @Test func aliasVersionsReadAsTheStableMessage() throws {
            let cronJob = try KubeProtobuf.decodeObject(
                Wire.body(
                    "batch/v1beta1", "CronJob", Wire.metadata(name: "c") + Wire.field(2, bytes: Wire.field(1, "@daily"))
                ))
            #expect(
                text(cronJob)
                    == #"{"apiVersion":"batch/v1beta1","kind":"CronJob","metadata":{"name":"c"},"#
                    + #""spec":{"schedule":"@daily"}}"#
            )
            let deployment = try KubeProtobuf.decodeObject(
                Wire.body("extensions/v1beta1", "Deployment", Wire.metadata(name: "d")))
            #expect(deployment["metadata"] == ["name": "d"])
            // DeleteOptions is registered in every group version; gracePeriodSeconds = 1, propagationPolicy = 4.
            let options = try KubeProtobuf.decodeObject(
                Wire.body("apps/v1", "DeleteOptions", Wire.field(1, int: 0) + Wire.field(4, "Foreground")))
            #expect(
                text(options)
                    == #"{"apiVersion":"apps/v1","kind":"DeleteOptions","gracePeriodSeconds":0,"#
                    + #""propagationPolicy":"Foreground"}"#
            )
        }

        @Test func tablesCoverTheServedKinds() throws {
            let kinds = Set(KubeProtobuf.supportedKinds)
            for resource in BuiltinResources.all where resource.group != "apiextensions.k8s.io" {
                let kind = KubeGroupVersionKind(group: resource.group, version: resource.version, kind: resource.kind)
                #expect(kinds.contains(kind), "\(kind)")
                for alias in resource.aliases {
                    let aliasKind = KubeGroupVersionKind(
                        group: alias.group, version: alias.version, kind: resource.kind)
                    #expect(KubeProtobuf.messageName(for: aliasKind) != nil, "\(aliasKind)")
                }
            }
            #expect(
                KubeProtobuf.messageName(for: .init(group: "batch", version: "v1", kind: "CronJob"))
                    == "k8s.io.api.batch.v1.CronJob")
            #expect(KubeProtobuf.messageName(for: .init(group: "", version: "v1", kind: "Nope")) == nil)
            // The well-known types are read with fixed field numbers: the tables must agree.
            let schema = KubeProtobufSchema.builtIn
            func fields(_ name: String) -> [String] {
                schema.messageIndexes[name].map { schema.messages[$0].fields.map { "\($0.number) \($0.jsonName)" } }
                    ?? []
            }
            #expect(fields("k8s.io.apimachinery.pkg.apis.meta.v1.Time") == ["1 seconds", "2 nanos"])
            #expect(fields("k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime") == ["1 seconds", "2 nanos"])
            #expect(fields("k8s.io.apimachinery.pkg.apis.meta.v1.Duration") == ["1 duration"])
            #expect(fields("k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1") == ["1 Raw"])
            #expect(fields("k8s.io.apimachinery.pkg.runtime.RawExtension") == ["1 raw"])
            #expect(fields("k8s.io.apimachinery.pkg.util.intstr.IntOrString") == ["1 Type", "2 IntVal", "3 StrVal"])
            #expect(fields("k8s.io.apimachinery.pkg.api.resource.Quantity") == ["1 string"])
            #expect(
                fields("k8s.io.apimachinery.pkg.runtime.Unknown") == [
                    "1 typeMeta", "2 raw", "3 ContentEncoding", "4 ContentType",
                ])
        }
    }
}

extension ProtobufDecodingTests {
    @Suite struct MalformedBodies {
        @Test func envelopeErrors() {
            #expect(decodingError(Array("{\"kind\":\"Pod\"}".utf8))?.kind == .missingMagic)
            #expect(decodingError([0x6B, 0x38, 0x73])?.kind == .missingMagic)
            #expect(decodingError(KubeProtobuf.magic)?.kind == .truncated)
            #expect(
                decodingError(KubeProtobuf.magic + Wire.field(2, bytes: []))?.message
                    == "Object 'Kind' is missing in the protobuf envelope")
            #expect(
                decodingError(Wire.body("v1", "Widget", []))?.message
                    == #"no kind "Widget" is registered for version "v1""#
            )
            #expect(decodingError(Wire.body("", "ConfigMap", []))?.kind == .unknownKind)
            #expect(decodingError(KubeProtobuf.magic + Wire.field(1, varint: 5))?.kind == .malformed)
        }

        @Test func truncatedAndMalformedWire() throws {
            let configMap = Wire.body("v1", "ConfigMap", Wire.metadata(name: "cm"))
            // Every cut but the one between the envelope's typeMeta and raw (a body with no object) is caught.
            let typeMetaEnd =
                KubeProtobuf.magic.count + Wire.field(1, bytes: Wire.field(1, "v1") + Wire.field(2, "ConfigMap")).count
            for length in KubeProtobuf.magic.count + 1..<configMap.count where length != typeMetaEnd {
                let error = decodingError(Array(configMap.prefix(length)))
                #expect(error?.kind == .truncated, "cut at \(length): \(String(describing: error))")
            }
            #expect(
                try KubeProtobuf.decodeObject(Array(configMap.prefix(typeMetaEnd))) == [
                    "apiVersion": "v1", "kind": "ConfigMap",
                ])
            // ConfigMap.immutable (bool = 4) as a varint that never ends, then one longer than 10 bytes; field number 0;
            // a group; a wrong wire type; a string that is not UTF-8.
            #expect(decodingError(Wire.body("v1", "ConfigMap", [0x20, 0xFF, 0xFF]))?.kind == .truncated)
            #expect(
                decodingError(Wire.body("v1", "ConfigMap", [0x20] + [UInt8](repeating: 0xFF, count: 10) + [0x01]))?.kind
                    == .malformed)
            #expect(decodingError(Wire.body("v1", "ConfigMap", [0x00, 0x01]))?.kind == .malformed)
            #expect(decodingError(Wire.body("v1", "ConfigMap", [0x0B, 0x0C]))?.kind == .malformed)
            let wrongWireType = decodingError(Wire.body("v1", "ConfigMap", Wire.field(1, varint: 1)))
            #expect(
                wrongWireType?.message == "proto: wrong wireType = 0 for field k8s.io.api.core.v1.ConfigMap.metadata")
            #expect(
                decodingError(Wire.body("v1", "ConfigMap", Wire.field(2, bytes: Wire.field(1, bytes: [0xC3, 0x28]))))?
                    .kind
                    == .malformed)
        }

        @Test func valuesKubernetesRefuses() {
            let badIntOrString = Wire.field(3, bytes: Wire.field(1, varint: 2))  // PodDisruptionBudgetSpec.maxUnavailable
            #expect(
                decodingError(Wire.body("policy/v1", "PodDisruptionBudget", Wire.field(2, bytes: badIntOrString)))?
                    .message
                    == "impossible IntOrString.Type")
            let year10000 = Wire.field(1, bytes: Wire.field(8, bytes: Wire.field(1, int: 253_402_300_800)))
            #expect(decodingError(Wire.body("v1", "Namespace", year10000))?.kind == .invalidValue)
            let notJSON = Wire.field(2, bytes: Wire.field(1, "{nope"))
            #expect(decodingError(Wire.body("apps/v1", "ControllerRevision", notJSON))?.kind == .invalidValue)
        }

        @Test func nestingIsBounded() throws {
            // The built-in messages do not nest without end, so a self-referencing table stands in for one that does.
            let schema = try KubeProtobufSchema(
                text: "kelson-kube-protobuf-fields/1\npackage t t/v1\nmessage Node\n  1 child Node -")
            var message: [UInt8] = []
            // The object is depth 1; 99 messages nested in it reach the limit.
            for _ in 1..<KubeProtobuf.maximumNestingDepth { message = Wire.field(1, bytes: message) }
            let decoder = KubeProtobufDecoder(schema: schema, bytes: message)
            #expect(try decoder.decode(0, 0..<message.count, depth: 1) != nil)
            let deeper = Wire.field(1, bytes: message)
            #expect(throws: KubeProtobufError.self) {
                try KubeProtobufDecoder(schema: schema, bytes: deeper).decode(0, 0..<deeper.count, depth: 1)
            }
        }
    }
}
