import KubeAPI

/// Which field selectors each kind takes (kube-apiserver's field label conversions), and the 400 for others.
enum FieldSelectorSupport {
    static func conversion(for resource: ResourceType) -> FieldLabelConversion {
        if resource.group.isEmpty, let conversion = FieldLabelConversion.core(kind: resource.kind) { return conversion }
        switch (resource.group, resource.kind) {
        case ("events.k8s.io", "Event"): return .event
        case ("apps", "ReplicaSet"): return .supporting(["metadata.name", "metadata.namespace", "status.replicas"])
        case ("batch", "Job"):
            return .supporting(["metadata.name", "metadata.namespace", "status.successful"]) {
                "field label \"\($0)\" not supported for Job"
            }
        default: return .metadataOnly
        }
    }

    /// The selector with old labels renamed, or kube-apiserver's 400 for a label the kind does not have.
    static func convert(_ selector: FieldSelector, resource: ResourceType) throws(KubeError) -> FieldSelector {
        do {
            return try selector.transformed(by: conversion(for: resource))
        } catch {
            throw .badRequest(error.description)
        }
    }
}
