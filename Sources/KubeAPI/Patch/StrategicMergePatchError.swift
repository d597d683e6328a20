/// A strategic merge patch that cannot be applied, with apimachinery's message for it.
///
/// kube-apiserver answers some of these as 400 `BadRequest`, two as 422, and passes the rest through unclassified,
/// which clients see as 500 with no reason (`Error from server: unknown patch type: …`): `response` says which, as
/// `interpretStrategicMergePatchError` in apiserver's handlers/patch.go decides it.
public struct StrategicMergePatchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// How kube-apiserver answers the error.
    public enum Response: Hashable, Sendable {
        /// 400, reason `BadRequest`.
        case badRequest
        /// 422, no reason (`NewGenericServerResponse(422, …)`).
        case unprocessableEntity
        /// 500, no reason: the error reaches the client as it is.
        case internalError
    }

    private enum Code: Hashable, Sendable {
        case badJSONDocument, badPrimitiveListFormat, badRetainKeysFormat, badSetElementOrderFormat
        case listOfLists, other
    }

    private let code: Code
    /// apimachinery's text for the error.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var response: Response {
        switch code {
        case .badJSONDocument, .badPrimitiveListFormat, .badRetainKeysFormat, .badSetElementOrderFormat: .badRequest
        case .listOfLists: .unprocessableEntity
        case .other: .internalError
        }
    }

    public var description: String { message }

    // The texts below are apimachinery's (pkg/util/mergepatch/errors.go, pkg/util/strategicpatch/patch.go).

    /// The patch body is not a JSON object (kube-apiserver's decoder says so in Go's words).
    static func patchNotAnObject(_ patch: JSONValue) -> Self {
        let found: String
        switch patch {
        case .array: found = "array"
        case .string: found = "string"
        case .bool: found = "bool"
        case .int, .double: found = "number"
        case .null, .object: found = "object"
        }
        return Self(.badJSONDocument, "json: cannot unmarshal \(found) into Go value of type map[string]interface {}")
    }

    static let badPrimitiveListFormat = Self(.badPrimitiveListFormat, "invalid patch format of primitive list")
    static let badRetainKeysFormat = Self(.badRetainKeysFormat, "invalid patch format of retainKeys")
    static let badSetElementOrderFormat = Self(
        .badSetElementOrderFormat, "invalid patch format of setElementOrder list")
    static let listOfLists = Self(.listOfLists, "lists of lists are not supported")

    static func noMergeKey(_ map: JSONValue, _ mergeKey: String) -> Self {
        Self(.other, "map: \(GoMessageText.value(map)) does not contain declared merge key: \(mergeKey)")
    }

    /// `ErrBadArgType`: a map or a list was needed and something else was found.
    static func badArgumentType(expected: JSONValue, actual: JSONValue?) -> Self {
        Self(.other, "expected a \(GoMessageText.typeName(expected)), but received a \(GoMessageText.typeName(actual))")
    }

    static func unknownPatchType(_ directive: JSONValue, in map: JSONObject) -> Self {
        Self(
            .other,
            "unknown patch type: \(GoMessageText.percentS(directive)) in map: \(GoMessageText.value(.object(map)))")
    }

    static let mergeDirectiveInList = Self(.other, "merging lists cannot yet be specified in the patch")

    static func noMergeKeyDeclared(elementKind: String) -> Self {
        Self(.other, "cannot merge lists without merge key for \(elementKind)")
    }

    static func elementTypesDiffer(_ lists: [[JSONValue]]) -> Self {
        Self(.other, "list element types are not identical: \(GoMessageText.value(.array(lists.map { .array($0) })))")
    }

    static let noElements = Self(.other, "no elements in any of the given slices")

    static func notAMap(at index: Int) -> Self { Self(.other, "value for key \(index) is not a map") }

    static func unexpectedPatchStrategy(_ strategies: [String]) -> Self {
        Self(.other, "unexpected patch strategy: [\(strategies.joined(separator: " "))]")
    }

    static func orderMismatch(patch: [JSONValue], order: [JSONValue]) -> Self {
        let patchText = GoMessageText.value(.array(patch))
        let orderText = GoMessageText.value(.array(order))
        return Self(
            .other, "The order in patch list:\n\(patchText)\n doesn't match $setElementOrder list:\n\(orderText)\n")
    }
}
