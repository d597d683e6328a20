import Foundation

/// apps/v1 and batch/v1 printers: deployments, replicasets, statefulsets, daemonsets, jobs, cronjobs (and core
/// replicationcontrollers, which print like replicasets).
enum WorkloadPrinters {
    /// `spec.replicas`, defaulting to 1 as apps/v1 does when the field was never set.
    private static func desiredReplicas(_ object: PrintedObject) -> Int64 {
        object["spec", "replicas"].optionalInt ?? 1
    }

    static let deployments = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Ready", type: "string", description: "Number of the pod with ready state"),
            TableColumn(name: "Up-to-date", type: "string", description: "Total number of updated pods."),
            TableColumn(name: "Available", type: "string", description: "Total number of available pods."),
            .ageColumn, .containersColumn, .imagesColumn, .selectorColumn,
        ]
    ) { object, now in
        let deployment = PrintedObject(object)
        let status = deployment["status"]
        let (names, images) = LabelText.containerCells(deployment["spec", "template", "spec", "containers"])
        return [
            .string(deployment.name), .string("\(status["readyReplicas"].int)/\(desiredReplicas(deployment))"),
            .int(status["updatedReplicas"].int), .int(status["availableReplicas"].int),
            .string(deployment.age(now: now)), names, images,
            .string(LabelText.selectorString(deployment["spec", "selector"]) ?? "<invalid>"),
        ]
    }

    private static let replicaColumns: [TableColumn] = [
        .nameColumn,
        TableColumn(name: "Desired", type: "integer", description: "Number of desired pods."),
        TableColumn(name: "Current", type: "integer", description: "Number of pods currently present."),
        TableColumn(name: "Ready", type: "integer", description: "Number of ready pods."),
        .ageColumn, .containersColumn, .imagesColumn, .selectorColumn,
    ]

    static let replicaSets = ResourcePrinter(columnDefinitions: replicaColumns) { object, now in
        let replicaSet = PrintedObject(object)
        let (names, images) = LabelText.containerCells(replicaSet["spec", "template", "spec", "containers"])
        return [
            .string(replicaSet.name), .int(desiredReplicas(replicaSet)), .int(replicaSet["status", "replicas"].int),
            .int(replicaSet["status", "readyReplicas"].int), .string(replicaSet.age(now: now)), names, images,
            .string(LabelText.formatLabelSelector(replicaSet["spec", "selector"])),
        ]
    }

    /// Replication controllers select with a plain label map rather than a label selector.
    static let replicationControllers = ResourcePrinter(columnDefinitions: replicaColumns) { object, now in
        let controller = PrintedObject(object)
        let (names, images) = LabelText.containerCells(controller["spec", "template", "spec", "containers"])
        return [
            .string(controller.name), .int(desiredReplicas(controller)), .int(controller["status", "replicas"].int),
            .int(controller["status", "readyReplicas"].int), .string(controller.age(now: now)), names, images,
            .string(LabelText.formatLabels(controller["spec", "selector"])),
        ]
    }

    /// `kubectl get controllerrevisions`: the controller as `kind.group/name` (`statefulset.apps/web`), as
    /// upstream's `formatResourceName` writes it, and the revision number.
    static let controllerRevisions = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Controller", type: "string", description: "Controller of the object"),
            TableColumn(
                name: "Revision", type: "string",
                description: "Revision indicates the revision of the state represented by Data."),
            .ageColumn,
        ]
    ) { object, now in
        let revision = PrintedObject(object)
        var controller = "<none>"
        if let reference = revision["metadata", "ownerReferences"].array.first(where: { $0["controller"].bool }) {
            let group = reference["apiVersion"].string.split(separator: "/").dropLast().joined()
            let kind = reference["kind"].string.lowercased()
            controller = (group.isEmpty ? kind : "\(kind).\(group)") + "/" + reference["name"].string
        }
        return [
            .string(revision.name), .string(controller), .int(revision["revision"].int),
            .string(revision.age(now: now)),
        ]
    }

    static let statefulSets = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Ready", type: "string", description: "Number of the pod with ready state"),
            .ageColumn, .containersColumn, .imagesColumn,
        ]
    ) { object, now in
        let statefulSet = PrintedObject(object)
        let (names, images) = LabelText.containerCells(statefulSet["spec", "template", "spec", "containers"])
        return [
            .string(statefulSet.name),
            .string("\(statefulSet["status", "readyReplicas"].int)/\(desiredReplicas(statefulSet))"),
            .string(statefulSet.age(now: now)), names, images,
        ]
    }

    static let daemonSets = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Desired", type: "integer", description: "Number of nodes that should run the pod."),
            TableColumn(name: "Current", type: "integer", description: "Number of nodes running at least one pod."),
            TableColumn(name: "Ready", type: "integer", description: "Number of nodes with a ready pod."),
            TableColumn(name: "Up-to-date", type: "integer", description: "Number of nodes with an updated pod."),
            TableColumn(name: "Available", type: "integer", description: "Number of nodes with an available pod."),
            TableColumn(name: "Node Selector", type: "string", description: "The pod template's node selector."),
            .ageColumn, .containersColumn, .imagesColumn, .selectorColumn,
        ]
    ) { object, now in
        let daemonSet = PrintedObject(object)
        let status = daemonSet["status"]
        let podSpec = daemonSet["spec", "template", "spec"]
        let (names, images) = LabelText.containerCells(podSpec["containers"])
        return [
            .string(daemonSet.name), .int(status["desiredNumberScheduled"].int),
            .int(status["currentNumberScheduled"].int), .int(status["numberReady"].int),
            .int(status["updatedNumberScheduled"].int), .int(status["numberAvailable"].int),
            .string(LabelText.formatLabels(podSpec["nodeSelector"])), .string(daemonSet.age(now: now)),
            names, images, .string(LabelText.formatLabelSelector(daemonSet["spec", "selector"])),
        ]
    }

    static let jobs = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Status", type: "string", description: "Status of the job."),
            TableColumn(name: "Completions", type: "string", description: "The number of pods which succeeded."),
            TableColumn(name: "Duration", type: "string", description: "Time required to complete the job."),
            .ageColumn, .containersColumn, .imagesColumn, .selectorColumn,
        ]
    ) { object, now in
        let job = PrintedObject(object)
        let (names, images) = LabelText.containerCells(job["spec", "template", "spec", "containers"])
        return [
            .string(job.name), .string(jobStatus(job)), .string(jobCompletions(job)),
            .string(jobDuration(job, now: now)), .string(job.age(now: now)), names, images,
            .string(LabelText.formatLabelSelector(job["spec", "selector"])),
        ]
    }

    static func jobCompletions(_ job: PrintedObject) -> String {
        let succeeded = job["status", "succeeded"].int
        if let completions = job["spec", "completions"].optionalInt { return "\(succeeded)/\(completions)" }
        let parallelism = job["spec", "parallelism"].int
        return parallelism > 1 ? "\(succeeded)/1 of \(parallelism)" : "\(succeeded)/1"
    }

    static func jobDuration(_ job: PrintedObject, now: Date) -> String {
        guard let start = job["status", "startTime"].timestamp else { return "" }
        let end = job["status", "completionTime"].timestamp ?? now
        return HumanDuration.format(end.timeIntervalSince(start))
    }

    static func jobStatus(_ job: PrintedObject) -> String {
        // Only the first condition of a type counts, as in `hasJobCondition`.
        let conditions = job["status", "conditions"]
        func isTrue(_ type: String) -> Bool { conditions.condition(type)?["status"].string == "True" }
        if isTrue("Complete") { return "Complete" }
        if isTrue("Failed") { return "Failed" }
        if job.isBeingDeleted { return "Terminating" }
        if isTrue("Suspended") { return "Suspended" }
        if isTrue("FailureTarget") { return "FailureTarget" }
        return "Running"
    }

    static let cronJobs = ResourcePrinter(
        columnDefinitions: [
            .nameColumn,
            TableColumn(name: "Schedule", type: "string", description: "The schedule in Cron format."),
            TableColumn(name: "Timezone", type: "string", description: "The time zone of the schedule."),
            TableColumn(name: "Suspend", type: "boolean", description: "Whether new runs are suspended."),
            TableColumn(name: "Active", type: "integer", description: "The number of currently running jobs."),
            TableColumn(name: "Last Schedule", type: "string", description: "When a job was last scheduled."),
            .ageColumn, .containersColumn, .imagesColumn, .selectorColumn,
        ],
        cells: cronJobCells
    )

    // A function of its own rather than a closure: Swift 6.3.1's optimizer crashed (CopyPropagation) on the
    // closure form in release builds.
    private static func cronJobCells(_ object: JSONValue, _ now: Date) -> [JSONValue] {
        let cronJob = PrintedObject(object)
        let spec = cronJob["spec"]
        var suspend = "<unset>"
        if let value = spec["suspend"].optionalBool { suspend = value ? "True" : "False" }
        var lastSchedule = "<none>"
        if let time = cronJob["status", "lastScheduleTime"].timestamp {
            lastSchedule = HumanDuration.age(of: time, now: now)
        }
        var timeZone = "<none>"
        if let zone = spec["timeZone"].optionalString { timeZone = zone }
        let jobSpec = spec["jobTemplate", "spec"]
        let containers = LabelText.containerCells(jobSpec["template", "spec", "containers"])
        var cells: [JSONValue] = [.string(cronJob.name), .string(spec["schedule"].string), .string(timeZone)]
        cells.append(.string(suspend))
        cells.append(.int(Int64(cronJob["status", "active"].count)))
        cells.append(.string(lastSchedule))
        cells.append(.string(cronJob.age(now: now)))
        cells.append(containers.0)
        cells.append(containers.1)
        cells.append(.string(LabelText.formatLabelSelector(jobSpec["selector"])))
        return cells
    }
}
