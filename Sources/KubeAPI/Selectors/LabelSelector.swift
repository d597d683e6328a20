// Label selectors as kube-apiserver reads them (k8s.io/apimachinery pkg/labels/selector.go): the string form of
// `?labelSelector=` (parsed in LabelSelectorParser.swift) and the structured metav1.LabelSelector of object specs
// (pkg/apis/meta/v1/helpers.go LabelSelectorAsSelector). Requirements are kept sorted by key, which is also the
// order of the canonical string. A parse error's text is the whole message of the 400 BadRequest kube-apiserver
// answers, so it must stay word for word.

/// A label selector: requirements that must all hold (or the selector that matches nothing).
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    /// One `key op values` condition.
    public struct Requirement: Sendable, Hashable, CustomStringConvertible {
        /// selection.Operator; the raw values are upstream's.
        public enum Operator: String, Sendable, Hashable, CaseIterable {
            case `in` = "in"
            case notIn = "notin"
            case equals = "="
            case doubleEquals = "=="
            case notEquals = "!="
            case exists = "exists"
            case doesNotExist = "!"
            case greaterThan = "gt"
            case lessThan = "lt"
        }

        /// The label key.
        public let key: String
        public let `operator`: Operator
        /// As given (the parser hands them over sorted and without duplicates).
        public let values: [String]

        /// `labels.NewRequirement`: checks the key, the values, and that their number suits the operator.
        /// `path` prefixes the error fields; kube-apiserver passes none (`FieldPath.none`).
        public init(
            key: String, operator: Operator, values: [String], path: FieldPath = .none
        ) throws(LabelSelectorError) {
            var errors: [FieldError] = []
            if let error = Self.keyError(key, path: path.child("key")) { errors.append(error) }
            let valuesPath = path.child("values")
            // Go's nil slice (no values) marshals as null.
            let valuesJSON: JSONValue = values.isEmpty ? .null : .array(values.map(JSONValue.string))
            switch `operator` {
            case .in, .notIn:
                if values.isEmpty {
                    errors.append(
                        .invalid(valuesPath, json: valuesJSON, "for 'in', 'notin' operators, values set can't be empty")
                    )
                }
            case .equals, .doubleEquals, .notEquals:
                if values.count != 1 {
                    errors.append(
                        .invalid(valuesPath, json: valuesJSON, "exact-match compatibility requires one single value"))
                }
            case .exists, .doesNotExist:
                if !values.isEmpty {
                    errors.append(
                        .invalid(valuesPath, json: valuesJSON, "values set must be empty for exists and does not exist")
                    )
                }
            case .greaterThan, .lessThan:
                if values.count != 1 {
                    errors.append(
                        .invalid(
                            valuesPath, json: valuesJSON, "for 'Gt', 'Lt' operators, exactly one value is required"))
                }
                for (index, value) in values.enumerated() where Int64(value) == nil {
                    errors.append(
                        .invalid(
                            valuesPath.index(index), value, "for 'Gt', 'Lt' operators, the value must be an integer"))
                }
            }
            for (index, value) in values.enumerated() {
                let messages = NameValidation.isValidLabelValue(value)
                if !messages.isEmpty {
                    errors.append(.invalid(valuesPath.index(index).key(key), value, messages.joined(separator: "; ")))
                }
            }
            if let message = FieldError.aggregateMessage(errors) { throw LabelSelectorError(message) }
            self.key = key
            self.operator = `operator`
            self.values = values
        }

        /// `validateLabelKey`: all the key's problems in one error.
        static func keyError(_ key: String, path: FieldPath) -> FieldError? {
            let messages = NameValidation.isQualifiedName(key)
            return messages.isEmpty ? nil : .invalid(path, key, messages.joined(separator: "; "))
        }

        /// Whether `labels` satisfy this requirement. A missing key satisfies only `notin`, `!=` and `!key`.
        public func matches(_ labels: [String: String]) -> Bool {
            switch `operator` {
            case .in, .equals, .doubleEquals:
                guard let value = labels[key] else { return false }
                return values.contains(value)
            case .notIn, .notEquals:
                guard let value = labels[key] else { return true }
                return !values.contains(value)
            case .exists:
                return labels[key] != nil
            case .doesNotExist:
                return labels[key] == nil
            case .greaterThan, .lessThan:
                guard let text = labels[key], let labelValue = Int64(text), values.count == 1,
                    let bound = Int64(values[0])
                else { return false }
                return `operator` == .greaterThan ? labelValue > bound : labelValue < bound
            }
        }

        /// `Requirement.String()`: `!key`, `key`, `key=v`, `key in (a,b)` (several values sorted).
        public var description: String {
            var text = `operator` == .doesNotExist ? "!" + key : key
            switch `operator` {
            case .exists, .doesNotExist: return text
            case .equals: text += "="
            case .doubleEquals: text += "=="
            case .notEquals: text += "!="
            case .in: text += " in "
            case .notIn: text += " notin "
            case .greaterThan: text += ">"
            case .lessThan: text += "<"
            }
            let joined = values.count == 1 ? values[0] : values.sorted(by: GoFormat.precedes).joined(separator: ",")
            return `operator` == .in || `operator` == .notIn ? text + "(" + joined + ")" : text + joined
        }
    }

    /// Sorted by key (stable among equal keys).
    public let requirements: [Requirement]
    /// True only for `nothing`.
    public let matchesNothing: Bool

    /// Matches every set of labels (the empty selector).
    public static let everything = LabelSelector(requirements: [], matchesNothing: false)
    /// Matches no set of labels (a nil structured selector).
    public static let nothing = LabelSelector(requirements: [], matchesNothing: true)

    private init(requirements: [Requirement], matchesNothing: Bool) {
        self.requirements = requirements
        self.matchesNothing = matchesNothing
    }

    /// A selector of these requirements, sorted by key.
    public init(_ requirements: [Requirement]) {
        self.init(requirements: Self.sortedByKey(requirements), matchesNothing: false)
    }

    /// `labels.Parse`: the string syntax of `?labelSelector=` (`a=b,c!=d,e in (x,y),f notin (z),g,!h,i>1`).
    /// The error's message is kube-apiserver's 400 message.
    public init(parsing text: String) throws(LabelSelectorError) {
        var parser = LabelSelectorParser(text)
        self.init(try parser.parse())
    }

    /// An equality selector for every pair (`SelectorFromSet`), not validated.
    public init(matchLabels: [String: String]) {
        let requirements = matchLabels.sorted { GoFormat.precedes($0.key, $1.key) }.map {
            Requirement(unchecked: $0.key, operator: .equals, values: [$0.value])
        }
        self.init(requirements: requirements, matchesNothing: false)
    }

    /// True when nothing is required (matches everything).
    public var isEmpty: Bool { requirements.isEmpty && !matchesNothing }

    /// Whether `labels` satisfy every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        !matchesNothing && requirements.allSatisfy { $0.matches(labels) }
    }

    /// The value `key` must have, if a requirement pins it to one (`key=v`, `key==v`, `key in (v)`).
    public func requiresExactMatch(_ key: String) -> String? {
        guard let requirement = requirements.first(where: { $0.key == key }) else { return nil }
        switch requirement.operator {
        case .equals, .doubleEquals, .in: return requirement.values.count == 1 ? requirement.values[0] : nil
        default: return nil
        }
    }

    /// The canonical string (requirements joined by `,`); empty for `everything` and `nothing`.
    public var description: String { requirements.map(\.description).joined(separator: ",") }

    static func sortedByKey(_ requirements: [Requirement]) -> [Requirement] {
        requirements.enumerated().sorted { left, right in
            if left.element.key != right.element.key { return GoFormat.precedes(left.element.key, right.element.key) }
            return left.offset < right.offset
        }.map(\.element)
    }
}

extension LabelSelector.Requirement {
    /// A requirement taken as is (selectors built from sets, as upstream's SelectorFromValidatedSet).
    init(unchecked key: String, operator: Operator, values: [String]) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }
}

/// A label selector that could not be built; `message` is kube-apiserver's text for it.
public struct LabelSelectorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 400 BadRequest message.
    public let message: String
    /// An error with this message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
