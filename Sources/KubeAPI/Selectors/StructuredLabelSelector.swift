// The structured metav1.LabelSelector of object specs (`{"matchLabels": {...}, "matchExpressions": [...]}`):
// turning it into a selector (pkg/apis/meta/v1/helpers.go LabelSelectorAsSelector) and validating it as a field of
// an object (pkg/apis/meta/v1/validation ValidateLabelSelector, whose errors go into a 422 Invalid Status).

extension LabelSelector {
    /// `LabelSelectorAsSelector`: absent or null matches nothing, `{}` everything. Members of the wrong JSON type,
    /// which kube-apiserver's decoder would refuse, are refused here with our own words.
    public init(structured selector: JSONValue?) throws(LabelSelectorError) {
        guard let selector, !selector.isNull else {
            self = .nothing
            return
        }
        let parts = try StructuredParts(selector)
        var requirements: [Requirement] = []
        for (key, value) in parts.matchLabels {
            requirements.append(try Requirement(key: key, operator: .equals, values: [value]))
        }
        for expression in parts.matchExpressions {
            let op: Requirement.Operator
            switch expression.operator {
            case "In": op = .in
            case "NotIn": op = .notIn
            case "Exists": op = .exists
            case "DoesNotExist": op = .doesNotExist
            default:
                throw LabelSelectorError(
                    "\(GoFormat.quoted(expression.operator)) is not a valid label selector operator")
            }
            requirements.append(try Requirement(key: expression.key, operator: op, values: expression.values))
        }
        self.init(requirements)
    }

    /// `ValidateLabelSelector`: the field errors of a structured selector at `path` (e.g. `spec.selector`).
    /// `allowInvalidLabelValues` keeps stored objects with once-accepted values updatable, as upstream's option.
    public static func validate(
        structured selector: JSONValue?, path: FieldPath, allowInvalidLabelValues: Bool = false
    ) -> [FieldError] {
        guard let selector, !selector.isNull else { return [] }
        var errors = MetadataValidation.validateLabels(selector["matchLabels"], path: path.child("matchLabels"))
        for (index, element) in (selector["matchExpressions"]?.arrayValue ?? []).enumerated() {
            let expression = StructuredParts.Expression(element)
            let expressionPath = path.child("matchExpressions").index(index)
            switch expression.operator {
            case "In", "NotIn":
                if expression.values.isEmpty {
                    errors.append(
                        .required(
                            expressionPath.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
                }
            case "Exists", "DoesNotExist":
                if !expression.values.isEmpty {
                    errors.append(
                        .forbidden(
                            expressionPath.child("values"),
                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
                }
            default:
                // The operator is a named string type upstream, so its value prints as JSON.
                errors.append(
                    .invalid(
                        expressionPath.child("operator"), json: .string(expression.operator),
                        "not a valid selector operator"))
            }
            for message in NameValidation.isQualifiedName(expression.key) {
                errors.append(.invalid(expressionPath.child("key"), expression.key, message))
            }
            guard !allowInvalidLabelValues else { continue }
            for (valueIndex, value) in expression.values.enumerated() {
                for message in NameValidation.isValidLabelValue(value) {
                    errors.append(.invalid(expressionPath.child("values").index(valueIndex), value, message))
                }
            }
        }
        return errors
    }
}

/// The members of a structured selector, type-checked.
private struct StructuredParts {
    struct Expression {
        var key: String
        var `operator`: String
        var values: [String]

        init(_ value: JSONValue) {
            key = value["key"]?.stringValue ?? ""
            `operator` = value["operator"]?.stringValue ?? ""
            values = (value["values"]?.arrayValue ?? []).compactMap(\.stringValue)
        }
    }

    var matchLabels: [(String, String)] = []
    var matchExpressions: [Expression] = []

    init(_ selector: JSONValue) throws(LabelSelectorError) {
        guard let object = selector.objectValue else {
            throw LabelSelectorError("invalid label selector: must be an object")
        }
        if let labels = object["matchLabels"], !labels.isNull {
            guard let entries = labels.objectValue?.entries, entries.allSatisfy({ $0.value.stringValue != nil })
            else { throw LabelSelectorError("invalid label selector: matchLabels must map keys to strings") }
            matchLabels = entries.map { ($0.key, $0.value.stringValue ?? "") }
        }
        if let expressions = object["matchExpressions"], !expressions.isNull {
            guard let elements = expressions.arrayValue, elements.allSatisfy(Self.isWellTyped) else {
                throw LabelSelectorError(
                    "invalid label selector: matchExpressions must be a list of {key, operator, values}")
            }
            matchExpressions = elements.map(Expression.init)
        }
    }

    private static func isWellTyped(_ element: JSONValue) -> Bool {
        guard let object = element.objectValue else { return false }
        for member in ["key", "operator"] {
            if let value = object[member], value.stringValue == nil && !value.isNull { return false }
        }
        guard let values = object["values"], !values.isNull else { return true }
        return values.arrayValue?.allSatisfy { $0.stringValue != nil } == true
    }
}
