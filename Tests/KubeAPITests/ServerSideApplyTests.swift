import Testing

@testable import KubeAPI

/// Server-side apply on realistic Deployments against the built-in catalogue, with expectations taken from
/// structured-merge-diff's test data and from what kube-apiserver records for kubectl.
@Suite struct ServerSideApplyTests {
    let deploymentSchema = KubeSchemaCatalogue.shared.definition(forGroup: "apps", version: "v1", kind: "Deployment")
    let podSchema = KubeSchemaCatalogue.shared.definition(forGroup: "", version: "v1", kind: "Pod")
    let now = "2026-03-01T10:00:00Z"
    let later = "2026-03-01T10:05:00Z"

    func json(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    func text(_ value: JSONValue) -> String { String(decoding: value.serialized(), as: UTF8.self) }

    /// What `kubectl apply --server-side` sends for a small nginx Deployment.
    func appliedDeployment(replicas: Int = 2, image: String = "nginx:1.27", labels: String = #""app":"nginx""#)
        throws -> JSONValue
    {
        try json(
            #"""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"nginx","namespace":"default","labels":{\#(labels)}},
             "spec":{"replicas":\#(replicas),"selector":{"matchLabels":{"app":"nginx"}},
              "template":{"metadata":{"labels":{"app":"nginx"}},
               "spec":{"containers":[{"name":"nginx","image":"\#(image)","ports":[{"containerPort":80}]}]}}}}
            """#)
    }

    /// A stored Deployment as kube-apiserver holds it after `kubectl create deployment nginx --image=nginx`.
    func createdDeployment(replicas: Int = 1) throws -> JSONValue {
        try json(
            #"""
            {"apiVersion":"apps/v1","kind":"Deployment",
             "metadata":{"name":"nginx","namespace":"default","uid":"6d0c3b1e-0000-4000-8000-000000000001",
              "resourceVersion":"100","generation":1,"creationTimestamp":"2026-03-01T09:00:00Z","labels":{"app":"nginx"}},
             "spec":{"replicas":\#(replicas),"selector":{"matchLabels":{"app":"nginx"}},
              "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"nginx"}},
               "spec":{"containers":[{"name":"nginx","image":"nginx","resources":{},
                 "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"Always"}],
                "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},
                "schedulerName":"default-scheduler"}},
              "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},
              "revisionHistoryLimit":10,"progressDeadlineSeconds":600},
             "status":{}}
            """#)
    }

    func entry(_ object: JSONValue, manager: String) -> JSONValue? {
        object[path: "metadata", "managedFields"]?.arrayValue?.first { $0["manager"] == .string(manager) }
    }

    func fields(_ object: JSONValue, manager: String) throws -> FieldSet {
        try ManagedFields.decode(entry(object, manager: manager)?["fieldsV1"] ?? .null)
    }

    func path(_ elements: FieldPathElement...) -> ManagedFieldPath { elements }

    func apply(
        _ applied: JSONValue, to live: JSONValue?, manager: String = "kubectl", force: Bool = false,
        at time: String? = nil
    ) throws(ApplyError) -> ApplyResult {
        try ServerSideApply.apply(
            applied, to: live, manager: manager, apiVersion: "apps/v1", force: force, schema: deploymentSchema,
            resetFields: FieldSet(fieldNames: [["status"]]), now: time ?? now)
    }

    /// `new` stored with the managed fields an ordinary write by `manager` records.
    func updated(_ old: JSONValue?, to new: JSONValue, manager: String, at time: String? = nil) -> JSONValue {
        let entries = ServerSideApply.update(
            old: old, new: new, manager: manager, apiVersion: "apps/v1", schema: deploymentSchema,
            resetFields: FieldSet(fieldNames: [["status"]]), now: time ?? now)
        return ServerSideApply.settingManagedFields(entries, in: new)
    }

    // MARK: FieldsV1

    /// structured-merge-diff's `fieldpath/serialize_test.go` round trips: decoded and written again, byte for byte.
    @Test(arguments: [
        #"{"f:aaa":{},"f:aab":{},"f:aac":{},"f:aad":{},"f:aae":{},"f:aaf":{},"k:{\"name\":\"first\"}":{},"k:{\"name\":\"second\"}":{},"k:{\"port\":443,\"protocol\":\"tcp\"}":{},"k:{\"port\":443,\"protocol\":\"udp\"}":{},"v:1":{},"v:2":{},"v:3":{},"v:\"aa\"":{},"v:\"ab\"":{},"v:true":{},"i:1":{},"i:2":{},"i:3":{},"i:4":{}}"#,
        #"{"f:aaa":{"k:{\"name\":\"second\"}":{"v:3":{"f:aab":{}}},"v:3":{},"v:true":{}},"f:aab":{"f:aaa":{},"f:aaf":{"k:{\"port\":443,\"protocol\":\"udp\"}":{"k:{\"port\":443,\"protocol\":\"tcp\"}":{}}},"k:{\"name\":\"first\"}":{}},"f:aac":{"f:aaa":{"v:1":{}},"f:aac":{},"v:3":{"k:{\"name\":\"second\"}":{}}},"f:aad":{"f:aac":{"v:1":{}},"f:aaf":{"k:{\"name\":\"first\"}":{"k:{\"name\":\"first\"}":{}}},"i:1":{"i:1":{},"i:3":{"v:true":{}}}},"f:aae":{"f:aae":{},"k:{\"port\":443,\"protocol\":\"tcp\"}":{"k:{\"port\":443,\"protocol\":\"udp\"}":{}},"i:4":{"f:aaf":{}}},"f:aaf":{"i:1":{"f:aac":{}},"i:2":{},"i:3":{}},"k:{\"name\":\"first\"}":{"f:aad":{"f:aaf":{}}},"k:{\"port\":443,\"protocol\":\"tcp\"}":{"f:aaa":{"f:aad":{}}},"k:{\"port\":443,\"protocol\":\"udp\"}":{"f:aac":{},"k:{\"name\":\"first\"}":{"i:3":{}},"k:{\"port\":443,\"protocol\":\"udp\"}":{"i:4":{}}},"v:1":{"f:aac":{"i:4":{}},"f:aaf":{},"k:{\"port\":443,\"protocol\":\"tcp\"}":{}},"v:2":{"f:aad":{"f:aaf":{}},"i:1":{}},"v:3":{"f:aaa":{},"k:{\"name\":\"first\"}":{},"i:2":{}},"v:\"aa\"":{"f:aab":{"f:aaf":{}},"f:aae":{},"k:{\"name\":\"first\"}":{"f:aad":{}},"i:2":{}},"v:\"ab\"":{"f:aaf":{"i:4":{}},"k:{\"port\":443,\"protocol\":\"tcp\"}":{},"k:{\"port\":443,\"protocol\":\"udp\"}":{},"v:1":{"k:{\"port\":443,\"protocol\":\"udp\"}":{}},"i:1":{"f:aae":{"i:4":{}}}},"v:true":{"k:{\"name\":\"second\"}":{"f:aaa":{}},"i:2":{"k:{\"port\":443,\"protocol\":\"tcp\"}":{}}},"i:1":{"i:3":{"f:aaf":{}}},"i:2":{"f:aae":{},"k:{\"port\":443,\"protocol\":\"tcp\"}":{"v:1":{}}},"i:3":{"f:aab":{"v:true":{"v:\"aa\"":{}}},"f:aaf":{},"i:1":{}},"i:4":{"v:\"aa\"":{"f:aab":{"k:{\"name\":\"second\"}":{}}}}}"#,
        #"{"f:spec":{".":{},"f:apps":{".":{},"k:{\"name\":\" app-💻\"}":{".":{},"f:container":{".":{},"f:image":{},"f:name":{},"f:ports":{".":{},"k:{\"name\":\"port 🔑\"}":{".":{},"f:containerPort":{},"f:name":{}}}},"f:name":{}},"k:{\"name\":\" app-🚀\"}":{".":{},"f:container":{".":{},"f:image":{},"f:name":{},"f:ports":{".":{},"k:{\"name\":\"port-✅ \"}":{".":{},"f:containerPort":{},"f:name":{}}}},"f:name":{}}}}}"#,
    ])
    func fieldsV1RoundTripsByteForByte(encoded: String) throws {
        let set = try ManagedFields.decode(try json(encoded))
        #expect(text(ManagedFields.encode(set)) == encoded)
    }

    /// Out-of-order input is read into SMD's order, and `.` marks a node that is also owned.
    @Test func fieldsV1DecodesIntoTheSetsOrder() throws {
        let set = try ManagedFields.decode(
            try json(#"{"f:spec":{"f:replicas":{}},"f:metadata":{"f:labels":{"f:b":{},".":{},"f:a":{}}},"x:new":{}}"#))
        #expect(
            set.paths.map(FieldPathText.pathText) == [
                ".metadata.labels", ".metadata.labels.a", ".metadata.labels.b", ".spec.replicas",
            ])
        #expect(
            text(ManagedFields.encode(set))
                == #"{"f:metadata":{"f:labels":{".":{},"f:a":{},"f:b":{}}},"f:spec":{"f:replicas":{}}}"#)
        #expect(throws: FieldsV1Error.self) { try ManagedFields.decode(try json(#"{"f:spec":{"k:not json":{}}}"#)) }
        #expect(throws: FieldsV1Error.self) { try ManagedFields.decode(try json(#"{"fspec":{}}"#)) }
    }

    /// structured-merge-diff's `internal/testdata/podset.json`: the fields added going from an empty Pod to
    /// `pod.yaml` (`smd fieldset`), byte for byte, with our catalogue's Pod schema.
    @Test func addedFieldsOfAPodMatchSMDTestData() throws {
        var comparison = ApplyWalks.Comparison()
        var path: ManagedFieldPath = []
        ApplyWalks.compare(
            .object(JSONObject()), try json(Self.smdPod), type: ApplyType(podSchema), path: &path, into: &comparison)
        // Since that schema was generated, OwnerReference and SecretKeySelector became atomic structs
        // (`x-kubernetes-map-type: atomic`): today they are owned whole.
        let expected = Self.smdPodSet
            .replacing(
                #"{".":{},"f:apiVersion":{},"f:blockOwnerDeletion":{},"f:controller":{},"f:kind":{},"f:name":{},"f:uid":{}}"#,
                with: "{}"
            )
            .replacing(#""f:secretKeyRef":{".":{},"f:key":{},"f:name":{}}"#, with: #""f:secretKeyRef":{}"#)
        #expect(expected != Self.smdPodSet)
        #expect(text(ManagedFields.encode(comparison.added)) == expected)
        #expect(comparison.modified.isEmpty && comparison.removed.isEmpty)
    }

    /// What an applier owns: leaves and list elements, keys with the schema's defaults (`protocol: TCP`), atomic
    /// maps and lists whole (`selector`), granular maps only through their entries.
    @Test func fieldSetOfAnAppliedDeployment() throws {
        let set = ManagedFields.fieldSet(of: try appliedDeployment(), schema: deploymentSchema)
        #expect(
            text(ManagedFields.encode(set.subtracting(ManagedFields.serverOwnedFields)))
                == #"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}"#
        )
        #expect(
            set.contains(
                path(
                    .field("spec"), .field("template"), .field("spec"), .field("containers"),
                    .key([FieldPathKeyField(name: "name", value: "nginx")]), .field("image"))))
        #expect(!set.contains(path(.field("spec"), .field("selector"), .field("matchLabels"))))
    }

    /// Set operations keep SMD's semantics: `subtracting` goes path by path, `subtractingRecursively` by subtree.
    @Test func setOperations() throws {
        let set = FieldSet(fieldNames: [["status"], ["status", "replicas"], ["spec", "replicas"]])
        let status = FieldSet(fieldNames: [["status"]])
        #expect(set.subtracting(status).paths.map(FieldPathText.pathText) == [".spec.replicas", ".status.replicas"])
        #expect(set.subtractingRecursively(status).paths.map(FieldPathText.pathText) == [".spec.replicas"])
        #expect(set.leaves.paths.map(FieldPathText.pathText) == [".spec.replicas", ".status.replicas"])
        #expect(set.intersection(status).paths.map(FieldPathText.pathText) == [".status"])
        #expect(set.union(FieldSet(fieldNames: [["kind"]])).paths.first.map(FieldPathText.pathText) == ".kind")
        #expect(FieldSet().isEmpty && !set.isEmpty)
    }

    // MARK: Apply and update

    /// The first apply creates the object as applied and records one `Apply` entry.
    @Test func firstApplyCreatesTheObjectWithAnApplyEntry() throws {
        let applied = try appliedDeployment()
        let result = try apply(applied, to: nil)
        #expect(result.objectChanged)
        #expect(ServerSideApply.withoutManagedFields(result.object) == applied)
        #expect(
            result.managedFields == [
                try json(
                    #"""
                    {"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1","time":"2026-03-01T10:00:00Z","fieldsType":"FieldsV1",
                     "fieldsV1":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}}
                    """#)
            ])
        #expect(
            text(result.managedFields[0]).hasPrefix(
                #"{"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1","time":"2026-03-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata""#
            ))
    }

    /// A create records an `Update` entry like kube-apiserver's for `kubectl create deployment`: nodes that did not
    /// exist in the empty object carry `.`; Go structs present in it (spec, strategy, template) do not.
    @Test func createRecordsAnUpdateEntryAsKubeApiserverDoes() throws {
        let created = updated(nil, to: try createdDeployment(), manager: "kubectl-create")
        let entries = created[path: "metadata", "managedFields"]?.arrayValue ?? []
        #expect(entries.count == 1)
        #expect(entries.first?["operation"] == "Update")
        #expect(entries.first?["time"] == .string(now))
        #expect(
            text(entries.first?["fieldsV1"] ?? .null)
                == #"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}"#
        )
    }

    /// Another manager's changed value conflicts, named as kube-apiserver names it; `force` moves ownership.
    @Test func changingAnotherManagersFieldConflictsUnlessForced() throws {
        let created = updated(nil, to: try createdDeployment(replicas: 1), manager: "kubectl-client-side-apply")
        var scaled = created
        scaled[path: "spec", "replicas"] = 3
        let live = updated(created, to: scaled, manager: "kubectl-client-side-apply", at: later)
        #expect(entry(live, manager: "kubectl-client-side-apply")?["time"] == .string(later))

        var applied = try appliedDeployment(replicas: 5, image: "nginx")
        applied[path: "spec", "template", "spec", "containers"] = [["name": "nginx", "image": "nginx"]]
        let error = #expect(throws: ApplyError.self) { try apply(applied, to: live) }
        #expect(error?.isConflict == true)
        #expect(
            error?.message
                == #"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
        )
        #expect(
            error?.causes == [
                [
                    "reason": "FieldManagerConflict",
                    "message": #"conflict with "kubectl-client-side-apply" using apps/v1"#,
                    "field": ".spec.replicas",
                ]
            ])
        let status = error?.kubeError.status ?? .null
        #expect(
            text(status)
                == #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas","reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"kubectl-client-side-apply\" using apps/v1","field":".spec.replicas"}]},"code":409}"#
        )

        let forced = try apply(applied, to: live, force: true)
        #expect(forced.object[path: "spec", "replicas"] == 5)
        let replicas = path(.field("spec"), .field("replicas"))
        #expect(try fields(forced.object, manager: "kubectl").contains(replicas))
        #expect(try !fields(forced.object, manager: "kubectl-client-side-apply").contains(replicas))
        // Fields both set to the same value are shared, not taken.
        let image = path(
            .field("spec"), .field("template"), .field("spec"), .field("containers"),
            .key([FieldPathKeyField(name: "name", value: "nginx")]), .field("image"))
        #expect(try fields(forced.object, manager: "kubectl").contains(image))
        #expect(try fields(forced.object, manager: "kubectl-client-side-apply").contains(image))
        // Entries: Apply first, then Update.
        #expect(forced.managedFields.map { $0["operation"] } == ["Apply", "Update"])
    }

    /// Several conflicts: grouped by manager, list elements named by their keys.
    @Test func severalConflictsAreListedByManager() throws {
        let created = updated(nil, to: try createdDeployment(replicas: 1), manager: "kubectl-client-side-apply")
        let applied = try appliedDeployment(replicas: 4, image: "nginx:1.28")
        let error = #expect(throws: ApplyError.self) { try apply(applied, to: created, manager: "deployer") }
        #expect(
            error?.message == """
                Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:
                - .spec.replicas
                - .spec.template.spec.containers[name="nginx"].image
                """)
        #expect(
            error?.causes.map { $0["field"] } == [
                ".spec.replicas", #".spec.template.spec.containers[name="nginx"].image"#,
            ])
    }

    /// An apply that stops setting a label removes it, unless another manager owns it; labels it never set stay.
    @Test func applyRemovesWhatItNoLongerAppliesUnlessOthersOwnIt() throws {
        let labels = #""app":"nginx","tier":"web","stage":"prod""#
        var live = try apply(try appliedDeployment(labels: labels), to: nil).object
        // What the server sets on create, which nobody owns.
        live[path: "metadata", "uid"] = "6d0c3b1e-0000-4000-8000-000000000002"
        live[path: "metadata", "resourceVersion"] = "7"
        live[path: "spec", "revisionHistoryLimit"] = 10
        // Another applier shares `stage` (same value: no conflict).
        let other = try json(
            #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"nginx","namespace":"default","labels":{"stage":"prod"}}}"#
        )
        live = try apply(other, to: live, manager: "release-tool").object
        // An ordinary write adds `team` (kubectl label).
        var labelled = live
        labelled[path: "metadata", "labels", "team"] = "payments"
        live = updated(live, to: labelled, manager: "kubectl-label")

        let result = try apply(try appliedDeployment(labels: #""app":"nginx""#), to: live, at: later)
        #expect(result.object[path: "metadata", "labels"] == ["app": "nginx", "stage": "prod", "team": "payments"])
        let owned = try fields(result.object, manager: "kubectl")
        #expect(!owned.contains(path(.field("metadata"), .field("labels"), .field("stage"))))
        #expect(
            try fields(result.object, manager: "release-tool").contains(
                path(.field("metadata"), .field("labels"), .field("stage"))))
        #expect(entry(result.object, manager: "kubectl")?["time"] == .string(later))
        #expect(result.object[path: "metadata", "uid"] == "6d0c3b1e-0000-4000-8000-000000000002")
        #expect(result.object[path: "metadata", "resourceVersion"] == "7")
        #expect(result.object[path: "spec", "revisionHistoryLimit"] == 10)

        // Dropping the last label it owns leaves the others; dropping every label removes the map.
        let alone = try apply(try appliedDeployment(labels: #""app":"nginx""#), to: nil).object
        var bare = try appliedDeployment()
        bare[path: "metadata", "labels"] = nil
        let cleared = try apply(bare, to: alone).object
        #expect(cleared[path: "metadata", "labels"] == nil)
        #expect(cleared[path: "metadata", "name"] == "nginx")
    }

    /// Containers merge by name: the applier's container changes, another manager's container stays where it was,
    /// a new one follows; a container the applier stops applying goes. (The injector's update owns `resources`
    /// too: decoded into Go, a new container has `resources: {}`.)
    @Test func containersMergeByName() throws {
        var applied = try appliedDeployment()
        applied[path: "spec", "template", "spec", "containers"] = [
            ["name": "nginx", "image": "nginx:1.27"], ["name": "metrics", "image": "exporter:1"],
        ]
        var live = try apply(applied, to: nil).object
        var injected = live
        injected[path: "spec", "template", "spec", "containers"] = [
            ["name": "nginx", "image": "nginx:1.27"], ["name": "sidecar", "image": "proxy:2"],
            ["name": "metrics", "image": "exporter:1"],
        ]
        live = updated(live, to: injected, manager: "injector")

        applied[path: "spec", "template", "spec", "containers"] = [
            ["name": "nginx", "image": "nginx:1.28"], ["name": "debug", "image": "busybox"],
        ]
        let result = try apply(applied, to: live, at: later)
        #expect(
            result.object[path: "spec", "template", "spec", "containers"] == [
                ["name": "nginx", "image": "nginx:1.28"], ["name": "sidecar", "image": "proxy:2"],
                ["name": "debug", "image": "busybox"],
            ])
        let encoded = text(entry(result.object, manager: "kubectl")?["fieldsV1"] ?? .null)
        #expect(
            encoded.contains(
                #""f:containers":{"k:{\"name\":\"debug\"}":{".":{},"f:image":{},"f:name":{}},"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:name":{}}}"#
            ))
        #expect(
            text(entry(result.object, manager: "injector")?["fieldsV1"] ?? .null)
                == #"{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"sidecar\"}":{".":{},"f:image":{},"f:name":{},"f:resources":{}}}}}}}"#
        )
    }

    /// Applying again what is already there changes nothing and keeps the entry's time.
    @Test func reapplyingIsANoOp() throws {
        let first = try apply(try appliedDeployment(), to: nil)
        let again = try apply(try appliedDeployment(), to: first.object, at: later)
        #expect(!again.objectChanged)
        #expect(again.object == first.object)
        #expect(again.managedFields == first.managedFields)
    }

    /// `kubectl apply --server-side` after client-side apply: conflicts on fields the last-applied annotation still
    /// matches are taken over, and the annotation now holds the applied object.
    @Test func kubectlTakesOverFromClientSideApply() throws {
        var created = try createdDeployment(replicas: 3)
        let lastApplied =
            #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"name":"nginx","namespace":"default"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"nginx"}},"template":{"metadata":{"labels":{"app":"nginx"}},"spec":{"containers":[{"image":"nginx","name":"nginx"}]}}}}"#
            + "\n"
        created[path: "metadata", "annotations"] = [
            "kubectl.kubernetes.io/last-applied-configuration": .string(lastApplied)
        ]
        let live = updated(nil, to: created, manager: "kubectl-client-side-apply")

        var applied = try appliedDeployment(replicas: 4, image: "nginx")
        applied[path: "spec", "template", "spec", "containers"] = [["name": "nginx", "image": "nginx"]]
        let result = try apply(applied, to: live)
        #expect(result.object[path: "spec", "replicas"] == 4)
        #expect(
            try !fields(result.object, manager: "kubectl-client-side-apply").contains(
                path(.field("spec"), .field("replicas"))))
        #expect(
            result.object[path: "metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"]
                == .string(
                    #"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"labels":{"app":"nginx"},"name":"nginx","namespace":"default"},"spec":{"replicas":4,"selector":{"matchLabels":{"app":"nginx"}},"template":{"metadata":{"labels":{"app":"nginx"}},"spec":{"containers":[{"image":"nginx","name":"nginx"}]}}}}"#
                        + "\n"))

        // Another manager name gets no such help.
        #expect(throws: ApplyError.self) { try apply(applied, to: live, manager: "ci") }
    }

    /// Status in a main-resource apply is a reset field: merged but neither owned nor a conflict.
    @Test func resetFieldsAreNotOwned() throws {
        var applied = try appliedDeployment()
        applied["status"] = ["replicas": 7]
        let result = try apply(applied, to: nil)
        #expect(try !fields(result.object, manager: "kubectl").contains(path(.field("status"), .field("replicas"))))
    }

    /// An object nobody tracked gets a `before-first-apply` entry for what it holds on its first apply, and an
    /// ordinary update of it records nothing.
    @Test func untrackedObjects() throws {
        let stored = try createdDeployment()
        var edited = stored
        edited[path: "spec", "replicas"] = 2
        #expect(
            ServerSideApply.update(
                old: stored, new: edited, manager: "kubectl-edit", apiVersion: "apps/v1", schema: deploymentSchema,
                now: now
            ).isEmpty)

        var applied = try appliedDeployment(replicas: 1, image: "nginx")
        applied[path: "spec", "template", "spec", "containers"] = [["name": "nginx", "image": "nginx"]]
        let result = try apply(applied, to: stored)
        #expect(result.managedFields.map { $0["manager"] } == ["kubectl", "before-first-apply"])
        #expect(
            try fields(result.object, manager: "before-first-apply").contains(
                path(.field("spec"), .field("revisionHistoryLimit"))))
    }

    /// Errors kube-apiserver gives before merging.
    @Test func invalidApplies() throws {
        var duplicated = try appliedDeployment()
        duplicated[path: "spec", "template", "spec", "containers"] = [["name": "a"], ["name": "a"]]
        let error = #expect(throws: ApplyError.self) { try apply(duplicated, to: nil) }
        #expect(
            error?.message
                == #"failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name="a"]"#
        )
        #expect(error?.kubeError.code == 500)

        var withEntries = try appliedDeployment()
        withEntries[path: "metadata", "managedFields"] = []
        let badRequest = #expect(throws: ApplyError.self) { try apply(withEntries, to: nil) }
        #expect(badRequest?.kubeError.code == 400)
        #expect(badRequest?.message == "metadata.managedFields must be nil")
    }

    /// A second applier's change to the first applier's field names it without an apiVersion; status writes are
    /// their own managers; sets are owned by value.
    @Test func appliersSubresourcesAndSets() throws {
        let live = try apply(try appliedDeployment(), to: nil).object
        let error = #expect(throws: ApplyError.self) {
            try apply(try appliedDeployment(replicas: 9), to: live, manager: "autoscaler")
        }
        #expect(error?.message == #"Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas"#)

        var withStatus = live
        withStatus["status"] = ["replicas": 2]
        let entries = ServerSideApply.update(
            old: live, new: withStatus, manager: "kube-controller-manager", apiVersion: "apps/v1",
            subresource: "status",
            schema: deploymentSchema, resetFields: FieldSet(fieldNames: [["spec"], ["metadata", "labels"]]), now: later)
        let status = entries.first { $0["manager"] == "kube-controller-manager" }
        #expect(
            text(status ?? .null)
                == #"{"manager":"kube-controller-manager","operation":"Update","apiVersion":"apps/v1","time":"2026-03-01T10:05:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:replicas":{}}},"subresource":"status"}"#
        )

        var finalized = try appliedDeployment()
        finalized[path: "metadata", "finalizers"] = ["example.com/a", "example.com/b"]
        let set = ManagedFields.fieldSet(of: finalized, schema: deploymentSchema)
        #expect(
            text(ManagedFields.encode(set.withPrefix(.field("metadata"))))
                == #"{"f:finalizers":{"v:\"example.com/a\"":{},"v:\"example.com/b\"":{}},"f:labels":{"f:app":{}},"f:name":{},"f:namespace":{}}"#
        )
    }

    /// More than ten `Update` managers: the oldest are merged into `ancient-changes`.
    @Test func updateManagersAreCapped() throws {
        var live = updated(nil, to: try createdDeployment(), manager: "creator", at: "2026-03-01T09:00:00Z")
        for index in 1...11 {
            var next = live
            next[path: "metadata", "annotations", "note-\(index)"] = .string("\(index)")
            live = updated(live, to: next, manager: "writer-\(index)", at: "2026-03-01T09:\(10 + index):00Z")
        }
        let managers = live[path: "metadata", "managedFields"]?.arrayValue?.compactMap { $0["manager"]?.stringValue }
        #expect(managers?.count == 10)
        #expect(managers?.first == "ancient-changes")
        #expect(managers?.contains("creator") == false && managers?.contains("writer-1") == false)
        #expect(managers?.last == "writer-11")
    }

    static let smdPodSet = [
        #"{"f:apiVersion":{},"f:kind":{},"f:metadata":{".":{},"f:labels":{".":{},"f:app":{},"f:plugin1":{}"#,
        #","f:plugin2":{},"f:plugin3":{},"f:plugin4":{}},"f:name":{},"f:namespace":{},"f:ownerReferences":"#,
        #"{".":{},"k:{\"uid\":\"0a9d2b9e-779e-11e7-b422-42010a8001be\"}":{".":{},"f:apiVersion":{},"f:bloc"#,
        #"kOwnerDeletion":{},"f:controller":{},"f:kind":{},"f:name":{},"f:uid":{}}}},"f:spec":{".":{},"f:c"#,
        #"ontainers":{".":{},"k:{\"name\":\"some-name\"}":{".":{},"f:args":{},"f:env":{".":{},"k:{\"name\""#,
        #":\"VAR_1\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:secretKeyRef":{".":{},"f:key":{},"f:na"#,
        #"me":{}}}},"k:{\"name\":\"VAR_2\"}":{".":{},"f:name":{},"f:valueFrom":{".":{},"f:secretKeyRef":{""#,
        #".":{},"f:key":{},"f:name":{}}}},"k:{\"name\":\"VAR_3\"}":{".":{},"f:name":{},"f:valueFrom":{".":"#,
        #"{},"f:secretKeyRef":{".":{},"f:key":{},"f:name":{}}}}},"f:image":{},"f:imagePullPolicy":{},"f:na"#,
        #"me":{},"f:resources":{".":{},"f:requests":{".":{},"f:cpu":{}}},"f:terminationMessagePath":{},"f:"#,
        #"terminationMessagePolicy":{},"f:volumeMounts":{".":{},"k:{\"mountPath\":\"/var/run/secrets/kuber"#,
        #"netes.io/serviceaccount\"}":{".":{},"f:mountPath":{},"f:name":{},"f:readOnly":{}}}}},"f:dnsPolic"#,
        #"y":{},"f:nodeName":{},"f:priority":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityConte"#,
        #"xt":{},"f:serviceAccount":{},"f:serviceAccountName":{},"f:terminationGracePeriodSeconds":{},"f:t"#,
        #"olerations":{},"f:volumes":{".":{},"k:{\"name\":\"default-token-hu5jz\"}":{".":{},"f:name":{},"f"#,
        #":secret":{".":{},"f:defaultMode":{},"f:secretName":{}}}}},"f:status":{".":{},"f:conditions":{".""#,
        #":{},"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f"#,
        #":status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTran"#,
        #"sitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"PodScheduled\"}":{".":{},"f:lastProbeTi"#,
        #"me":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:"#,
        #"lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{}"#,
        #","f:hostIP":{},"f:phase":{},"f:podIP":{},"f:qosClass":{},"f:startTime":{}}}"#,
    ].joined()

    static let smdPod = [
        #"{"apiVersion":"v1","kind":"Pod","metadata":{"labels":{"app":"some-app","plugin1":"some-value","p"#,
        #"lugin2":"some-value","plugin3":"some-value","plugin4":"some-value"},"name":"some-name","namespac"#,
        #"e":"default","ownerReferences":[{"apiVersion":"apps/v1","blockOwnerDeletion":true,"controller":t"#,
        #"rue,"kind":"ReplicaSet","name":"some-name","uid":"0a9d2b9e-779e-11e7-b422-42010a8001be"}]},"spec"#,
        #"":{"containers":[{"args":["one","two","three","four","five","six","seven","eight","nine"],"env":"#,
        #"[{"name":"VAR_3","valueFrom":{"secretKeyRef":{"key":"some-other-key","name":"some-oher-name"}}},"#,
        #"{"name":"VAR_2","valueFrom":{"secretKeyRef":{"key":"other-key","name":"other-name"}}},{"name":"V"#,
        #"AR_1","valueFrom":{"secretKeyRef":{"key":"some-key","name":"some-name"}}}],"image":"some-image-n"#,
        #"ame","imagePullPolicy":"IfNotPresent","name":"some-name","resources":{"requests":{"cpu":"0"}},"t"#,
        #"erminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","volumeMounts":["#,
        #"{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"default-token-hu5jz","readO"#,
        #"nly":true}]}],"dnsPolicy":"ClusterFirst","nodeName":"node-name","priority":0,"restartPolicy":"Al"#,
        #"ways","schedulerName":"default-scheduler","securityContext":{},"serviceAccount":"default","servi"#,
        #"ceAccountName":"default","terminationGracePeriodSeconds":30,"tolerations":[{"effect":"NoExecute""#,
        #","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300},{"effect":"No"#,
        #"Execute","key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":300}],"v"#,
        #"olumes":[{"name":"default-token-hu5jz","secret":{"defaultMode":420,"secretName":"default-token-h"#,
        #"u5jz"}}]},"status":{"conditions":[{"lastProbeTime":null,"lastTransitionTime":"2019-07-08T09:31:1"#,
        #"8Z","status":"True","type":"Initialized"},{"lastProbeTime":null,"lastTransitionTime":"2019-07-08"#,
        #"T09:41:59Z","status":"True","type":"Ready"},{"lastProbeTime":null,"lastTransitionTime":null,"sta"#,
        #"tus":"True","type":"ContainersReady"},{"lastProbeTime":null,"lastTransitionTime":"2019-07-08T09:"#,
        #"31:18Z","status":"True","type":"PodScheduled"}],"containerStatuses":[{"containerID":"docker://88"#,
        #"5e82a1ed0b7356541bb410a0126921ac42439607c09875cd8097dd5d7b5376","image":"some-image-name","image"#,
        #"ID":"docker-pullable://some-image-id","lastState":{"terminated":{"containerID":"docker://d57290f"#,
        #"9e00fad626b20d2dd87a3cf69bbc22edae07985374f86a8b2b4e39565","exitCode":255,"finishedAt":"2019-07-"#,
        #"08T09:39:09Z","reason":"Error","startedAt":"2019-07-08T09:38:54Z"}},"name":"name","ready":true,""#,
        #"restartCount":6,"state":{"running":{"startedAt":"2019-07-08T09:41:59Z"}}}],"hostIP":"10.0.0.1",""#,
        #"phase":"Running","podIP":"10.0.0.1","qosClass":"BestEffort","startTime":"2019-07-08T09:31:18Z"}}"#,
    ].joined()
}
