extension ServerSideApply {
    /// One write's settings and SMD's `Updater` steps on them: apply (merge, prune, ownership), update, and the
    /// last-applied check.
    struct Writer {
        let type: ApplyType
        let apiVersion: String
        let subresource: String
        let resetFields: FieldSet
        let now: String

        struct ApplyOutcome {
            var object: JSONValue
            var managed: ManagedFieldsState
            var objectChanged: Bool
        }

        /// The kind's empty object as Kubernetes holds it: what an apply that creates starts from.
        var emptyObject: JSONValue { ApplyWalks.zeroFilled(.object(JSONObject()), type: type) }

        /// `Updater.Apply` under the before-first-apply, identity, time and strip steps.
        func apply(
            _ applied: JSONValue, to live: JSONValue, isNew: Bool, identity: ManagerIdentity,
            managed: ManagedFieldsState, force: Bool
        ) throws(ManagerConflicts) -> ApplyOutcome {
            var managed = managed
            if managed.isEmpty && !isNew {
                let before = ManagerIdentity(
                    manager: "before-first-apply", operation: "Update", apiVersion: apiVersion,
                    subresource: subresource)
                recordUpdate(from: emptyObject, to: live, identity: before, managed: &managed)
            }
            let merged = ApplyWalks.merge(live, applied, type: type) ?? live
            let previous = managed.managers[identity]
            managed.managers[identity] = ManagerFields(
                fields: ApplyWalks.fieldSet(of: applied, type: type).subtractingRecursively(resetFields),
                apiVersion: apiVersion, applied: true, time: previous?.time)
            let (compared, output) = prune(merged, managed: managed, lastSet: previous?.fields)
            try updateOwnership(from: live, to: compared, managed: &managed, workflow: identity, force: force)
            let changed = !ApplyWalks.valuesEqual(live, compared)
            if var own = managed.managers[identity] {
                own.fields = own.fields.subtracting(ManagedFields.serverOwnedFields)
                if changed { own.time = now }
                managed.managers[identity] = own.fields.isEmpty ? nil : own
            }
            return ApplyOutcome(object: changed ? output : live, managed: managed, objectChanged: changed)
        }

        /// `Updater.prune`: removes what the applier applied last time and no longer does, unless some manager
        /// (the applier's new intent included) owns it; fields nobody owned before are left alone. Returns the
        /// object as SMD has it (emptied maps and lists as null, for comparing) and as it is kept.
        func prune(
            _ merged: JSONValue, managed: ManagedFieldsState, lastSet: FieldSet?
        ) -> (compared: JSONValue, output: JSONValue) {
            guard let lastSet, !lastSet.isEmpty else { return (merged, merged) }
            let last = named(lastSet)
            let mergedSet = named(ApplyWalks.fieldSet(of: merged, type: type))
            // addBackOwnedItems: everything removed that somebody owns comes back.
            let withoutLast = ApplyWalks.removing(last, from: merged, type: type, dropsEmptied: false)
            let owned = managed.managers.values.reduce(FieldSet()) { $0.union($1.fields) }
            let unowned = mergedSet.subtracting(
                named(ApplyWalks.fieldSet(of: withoutLast, type: type)).union(named(owned)))
            let ownedKept = ApplyWalks.removing(unowned, from: merged, type: type, dropsEmptied: false)
            // addBackDanglingItems: only what the applier had last time goes.
            let removed = mergedSet.subtracting(named(ApplyWalks.fieldSet(of: ownedKept, type: type))).intersection(
                last)
            return (
                ApplyWalks.removing(removed, from: merged, type: type, dropsEmptied: false),
                ApplyWalks.removing(removed, from: merged, type: type, dropsEmptied: true)
            )
        }

        private func named(_ set: FieldSet) -> FieldSet { ApplyWalks.ensuringNamedFieldsAreMembers(set, type: type) }

        /// SMD's `Updater.update`: other managers lose the fields that changed (a conflict unless `force`) and
        /// the fields that went away. `workflow` is the writer itself, left alone.
        @discardableResult
        func updateOwnership(
            from old: JSONValue, to new: JSONValue, managed: inout ManagedFieldsState, workflow: ManagerIdentity?,
            force: Bool
        ) throws(ManagerConflicts) -> ApplyWalks.Comparison {
            var comparison = ApplyWalks.Comparison()
            var path: ManagedFieldPath = []
            ApplyWalks.compare(
                ApplyWalks.zeroFilled(old, type: type), ApplyWalks.zeroFilled(new, type: type), type: type,
                path: &path, into: &comparison)
            comparison = comparison.excluding(resetFields)
            let changed = comparison.modified.union(comparison.added)
            var conflicts: [ManagerIdentity: FieldSet] = [:]
            for (identity, fields) in managed.managers where identity != workflow {
                let taken = fields.fields.intersection(changed)
                if !taken.isEmpty { conflicts[identity] = taken }
            }
            if !force && !conflicts.isEmpty { throw ManagerConflicts(byManager: conflicts) }
            for (identity, taken) in conflicts { managed.managers[identity]?.fields.subtract(taken) }
            if !comparison.removed.isEmpty {
                for identity in managed.managers.keys where identity != workflow {
                    managed.managers[identity]?.fields.subtract(comparison.removed)
                }
            }
            managed.removeEmpty()
            return comparison
        }

        /// `Updater.Update` for the "current-operation" with the field manager's steps around it: what changed
        /// becomes `identity`'s (merged into its entry, stamped `now`), then the Update managers are capped.
        func recordUpdate(
            from old: JSONValue, to new: JSONValue, identity: ManagerIdentity, managed: inout ManagedFieldsState
        ) {
            let comparison: ApplyWalks.Comparison
            do {
                comparison = try updateOwnership(from: old, to: new, managed: &managed, workflow: nil, force: true)
            } catch {
                return  // Unreachable: a forced update has no conflicts.
            }
            let fields = comparison.modified.union(comparison.added).subtractingRecursively(resetFields)
                .subtracting(ManagedFields.serverOwnedFields)
            if !fields.isEmpty {
                let previous = managed.managers[identity]?.fields ?? FieldSet()
                managed.managers[identity] = ManagerFields(
                    fields: fields.union(previous), apiVersion: apiVersion, applied: false, time: now)
            }
            managed.capUpdateManagers()
        }

        /// `allowedConflictsFromLastApplied`: the fields of the last-applied annotation whose live values still
        /// match it; nil when there is no usable annotation for this apiVersion.
        func allowedConflictsFromLastApplied(_ live: JSONValue?) -> FieldSet? {
            guard let live,
                case .string(let text) = live[path: "metadata", "annotations", ServerSideApply.lastAppliedAnnotation],
                !text.isEmpty, let lastApplied = try? JSONValue.parse(text),
                lastApplied["apiVersion"]?.stringValue == apiVersion
            else { return nil }
            var problems: [ApplyValueError] = []
            ApplyWalks.validate(lastApplied, type: type, path: "", errors: &problems)
            guard problems.isEmpty else { return nil }
            var comparison = ApplyWalks.Comparison()
            var path: ManagedFieldPath = []
            let liveObject = ApplyWalks.zeroFilled(ServerSideApply.withoutManagedFields(live), type: type)
            ApplyWalks.compare(lastApplied, liveObject, type: type, path: &path, into: &comparison)
            return ApplyWalks.fieldSet(of: lastApplied, type: type).subtracting(comparison.modified)
                .subtracting(comparison.added).subtracting(comparison.removed)
        }
    }
}

extension FieldSet {
    mutating func subtract(_ other: FieldSet) { self = subtracting(other) }
}
