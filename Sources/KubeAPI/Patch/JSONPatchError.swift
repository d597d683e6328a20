// Why a JSON patch was refused, with evanphx/json-patch v4's error texts (kube-apiserver's JSON patch library,
// as gopkg.in/evanphx/json-patch.v4): kube-apiserver puts them verbatim in the Status it answers with.
// Its errors wrap one another as `context: cause`; the causes it ends in are fixed texts, kept here.

/// A JSON patch kube-apiserver would refuse, and the status class it would refuse it with.
public struct JSONPatchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// How kube-apiserver answers the error.
    public enum Code: Sendable, Equatable {
        /// The patch is not a list of operations: 400 Bad Request.
        case malformedPatch
        /// More operations than `JSONPatch.maximumOperations`: 413 Request Entity Too Large.
        case tooManyOperations
        /// An operation does not apply to the document: 422 Unprocessable Entity.
        case operationFailed
    }

    /// How kube-apiserver answers it.
    public let code: Code
    /// The error text as evanphx/json-patch words it, which kube-apiserver puts in its Status.
    public let message: String
    public var description: String { message }

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    static func failed(_ message: String) -> JSONPatchError { JSONPatchError(.operationFailed, message) }

    /// `errors.Wrapf(cause, context)`: `context: cause`.
    func wrapped(_ context: String) -> JSONPatchError { JSONPatchError(code, context + ": " + message) }

    // The causes at the end of evanphx/json-patch's chains.
    static let missingValue = "missing value"
    static let invalidIndex = "invalid index referenced"
    static let testFailed = "test failed"
}
