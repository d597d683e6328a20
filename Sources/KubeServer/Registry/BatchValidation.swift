import KubeAPI

/// Jobs' and CronJobs' validation, with kube-apiserver's field paths and wording
/// (k8s.io/kubernetes/pkg/apis/batch/validation).
enum BatchValidation {
    static func job(_ object: JSONValue) -> [FieldError] {
        let spec = FieldPath("spec")
        var errors = jobSpec(object["spec"], path: spec)
        let selector = object[path: "spec", "selector"]
        if selector == nil {
            errors.append(.required(spec.child("selector")))
        } else {
            errors += templateLabelErrors(object)
        }
        return errors
    }

    /// A controller's pod template must carry labels its selector matches, or what it creates would never count
    /// as its own (`ValidatePodTemplateSpecForReplicaSet` and the like).
    static func templateLabelErrors(_ object: JSONValue) -> [FieldError] {
        guard let parsed = try? LabelSelector(structured: object[path: "spec", "selector"]) else { return [] }
        let labels = object[path: "spec", "template", "metadata", "labels"]
        guard !parsed.matches(stringMap(labels)) else { return [] }
        return [
            .invalid(
                FieldPath("spec", "template", "metadata", "labels"), json: labels ?? .object(JSONObject()),
                "`selector` does not match template `labels`")
        ]
    }

    static func cronJob(_ object: JSONValue) -> [FieldError] {
        let spec = FieldPath("spec")
        var errors: [FieldError] = []
        let name = object[path: "metadata", "name"]?.stringValue ?? ""
        if name.utf8.count > 52 {
            errors.append(.invalid(FieldPath("metadata", "name"), name, "must be no more than 52 characters"))
        }
        let schedule = object[path: "spec", "schedule"]?.stringValue ?? ""
        let timeZone = object[path: "spec", "timeZone"]?.stringValue
        if schedule.isEmpty {
            errors.append(.required(spec.child("schedule")))
        } else {
            do {
                _ = try CronSchedule(schedule)
            } catch {
                errors.append(.invalid(spec.child("schedule"), schedule, error.message))
            }
            if schedule.contains("TZ") {
                errors.append(
                    .invalid(
                        spec.child("schedule"), schedule,
                        "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
            }
        }
        if let timeZone { errors += Self.timeZone(timeZone, path: spec.child("timeZone")) }
        errors += nonNegative(object[path: "spec", "startingDeadlineSeconds"], spec.child("startingDeadlineSeconds"))
        switch object[path: "spec", "concurrencyPolicy"]?.stringValue ?? "" {
        case "Allow", "Forbid", "Replace": break
        case "": errors.append(.required(spec.child("concurrencyPolicy")))
        case let other:
            errors.append(
                .notSupported(
                    spec.child("concurrencyPolicy"), .string(other), supported: ["Allow", "Forbid", "Replace"]))
        }
        let template = spec.child("jobTemplate", "spec")
        errors += jobSpec(object[path: "spec", "jobTemplate", "spec"], path: template)
        if let selector = object[path: "spec", "jobTemplate", "spec", "selector"] {
            errors.append(.invalid(template.child("selector"), json: selector, "`selector` will be auto-generated"))
        }
        if object[path: "spec", "jobTemplate", "spec", "manualSelector"]?.boolValue == true {
            errors.append(.notSupported(template.child("manualSelector"), .json(true), supported: ["nil", "false"]))
        }
        errors += nonNegative(
            object[path: "spec", "successfulJobsHistoryLimit"], spec.child("successfulJobsHistoryLimit"))
        errors += nonNegative(object[path: "spec", "failedJobsHistoryLimit"], spec.child("failedJobsHistoryLimit"))
        return errors
    }

    /// What a Job and a CronJob's job template share.
    static func jobSpec(_ spec: JSONValue?, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        for field in ["parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"]
        {
            errors += nonNegative(spec?[field], path.child(field))
        }
        let restartPolicy = spec?[path: "template", "spec", "restartPolicy"]?.stringValue ?? ""
        if restartPolicy != "OnFailure", restartPolicy != "Never" {
            errors.append(
                .notSupported(
                    path.child("template", "spec", "restartPolicy"), .string(restartPolicy),
                    supported: ["OnFailure", "Never"]))
        }
        return errors
    }

    /// `validateTimeZone`: a name of the zoneinfo database, never `Local`.
    static func timeZone(_ name: String, path: FieldPath) -> [FieldError] {
        if name.isEmpty { return [.invalid(path, name, "timeZone must be nil or non-empty string")] }
        for part in name.split(separator: "/", omittingEmptySubsequences: false) {
            let allowed =
                part.utf8.count >= 1 && part.utf8.count <= 14
                && part.unicodeScalars.allSatisfy { scalar in
                    scalar.isASCII
                        && (ZoneNameCharacters.alphanumerics(scalar) || ".-_+".unicodeScalars.contains(scalar))
                }
            if part == "." || part == ".." || part.hasPrefix("-") || !allowed {
                return [.invalid(path, name, "unknown time zone \(name)")]
            }
        }
        var errors: [FieldError] = []
        if name.lowercased() == "local" {
            errors.append(
                .invalid(
                    path, name, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
        }
        if TimeZones.load(name) == nil, name != "Local" {
            errors.append(.invalid(path, name, "unknown time zone \(name)"))
        }
        return errors
    }

    private static func nonNegative(_ value: JSONValue?, _ path: FieldPath) -> [FieldError] {
        guard let number = value?.intValue, number < 0 else { return [] }
        return [.invalid(path, json: .int(number), "must be greater than or equal to 0")]
    }

    private static func stringMap(_ value: JSONValue?) -> [String: String] {
        var map: [String: String] = [:]
        for (key, item) in value?.objectValue ?? JSONObject() { map[key] = item.stringValue ?? "" }
        return map
    }
}

private enum ZoneNameCharacters {
    static func alphanumerics(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}
