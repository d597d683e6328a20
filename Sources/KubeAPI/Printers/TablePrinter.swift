import Foundation

/// Server-side table rendering for `kubectl get` (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`).
///
/// kubectl prints only NAME and AGE unless the server renders the columns, so the built-in printers reproduce
/// kube-apiserver's (`pkg/printers/internalversion/printers.go`) cell for cell. Resources without a built-in printer
/// get the generic convertor's `Name` + `Created At`; custom resources get their CRD's printer columns.
public enum TablePrinter {
    /// The printer for a resource: the built-in one for `group`/`resource` (plural, lowercase; "" is the core
    /// group), else `defaultPrinter`. Custom resources should use `customResourcePrinter(definition:version:)`.
    public static func printer(group: String, resource: String) -> ResourcePrinter {
        builtInPrinter(group: group, resource: resource) ?? defaultPrinter
    }

    /// The built-in printer for `group`/`resource`, if kube-apiserver has a dedicated one that Kelson ports.
    public static func builtInPrinter(group: String, resource: String) -> ResourcePrinter? {
        builtIn["\(group)/\(resource)"]
    }

    /// The column definitions for a resource (`columns(for: "pods")`, `columns(for: "deployments", group: "apps")`).
    public static func columns(for resource: String, group: String = "") -> [TableColumn] {
        printer(group: group, resource: resource).columnDefinitions
    }

    /// The row cells of `object`, a member of `resource`, with ages measured against `now`.
    public static func cells(for object: JSONValue, resource: String, group: String = "", now: Date) -> [JSONValue] {
        printer(group: group, resource: resource).cells(for: object, now: now)
    }

    /// apiserver's default table convertor: `Name` and `Created At` (a `date` cell in RFC 3339, UTC). Also what
    /// `customresourcedefinitions` print.
    public static let defaultPrinter = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(
                name: "Created At", type: "date",
                description: "CreationTimestamp is the server time when this object was created."),
        ]
    ) { object, _ in
        let metadata = PrintedObject(object)
        let created = metadata.creationTimestamp.map(KubeTimestamp.formatRFC3339) ?? KubeTimestamp.zeroTimeText
        return [.string(metadata.name), .string(created)]
    }

    /// A custom-resource printer from `additionalPrinterColumns` entries (`name`, `type`, `format`, `description`,
    /// `priority`, `jsonPath`). An empty list gives the default `Age` column.
    public static func customResourcePrinter(columns: [JSONValue]) -> ResourcePrinter {
        CustomResourcePrinter.printer(columns: columns)
    }

    /// The printer for `version` of the CustomResourceDefinition `definition`; nil if it has no such version.
    public static func customResourcePrinter(definition: JSONValue, version: String) -> ResourcePrinter? {
        CustomResourcePrinter.printer(definition: definition, version: version)
    }

    private static let builtIn: [String: ResourcePrinter] = [
        "/pods": PodPrinter.printer,
        "/services": CorePrinters.services,
        "/nodes": CorePrinters.nodes,
        "/namespaces": CorePrinters.namespaces,
        "/configmaps": CorePrinters.configMaps,
        "/secrets": CorePrinters.secrets,
        "/serviceaccounts": CorePrinters.serviceAccounts,
        "/endpoints": CorePrinters.endpoints,
        "/events": EventPrinter.coreEvents,
        "/replicationcontrollers": WorkloadPrinters.replicationControllers,
        "apps/deployments": WorkloadPrinters.deployments,
        "apps/replicasets": WorkloadPrinters.replicaSets,
        "apps/statefulsets": WorkloadPrinters.statefulSets,
        "apps/daemonsets": WorkloadPrinters.daemonSets,
        "apps/controllerrevisions": WorkloadPrinters.controllerRevisions,
        "batch/jobs": WorkloadPrinters.jobs,
        "batch/cronjobs": WorkloadPrinters.cronJobs,
        "discovery.k8s.io/endpointslices": CorePrinters.endpointSlices,
        "events.k8s.io/events": EventPrinter.eventsAPIEvents,
        "coordination.k8s.io/leases": CorePrinters.leases,
    ]
}
