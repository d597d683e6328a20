import GRPCWire
import SwiftProtobuf

extension GRPCServerRouter {
    /// Registers a unary RPC with protobuf messages: decodes the request (a malformed one gets
    /// grpc-go's `Internal` error), runs `handler`, and encodes whatever it answers. The handler
    /// answers through `respond` from any thread; no task is created per call.
    mutating func registerUnary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ path: String, _ request: Request.Type,
        _ handler:
            @escaping @Sendable (
                Request, GRPCUnaryCall, _ respond: @escaping @Sendable (Result<Response, GRPCStatus>) -> Void
            ) -> Void
    ) {
        registerUnary(path) { call in
            let message: Request
            do {
                message = try Request(serializedBytes: call.request)
            } catch {
                call.respond(
                    .failure(GRPCStatus(code: .internalError, message: "grpc: error unmarshalling request: \(error)")))
                return
            }
            handler(message, call) { result in
                call.respond(
                    result.flatMap { response in
                        do {
                            return .success(try response.serializedBytes())
                        } catch {
                            return .failure(
                                GRPCStatus(code: .internalError, message: "grpc: error while marshaling: \(error)"))
                        }
                    })
            }
        }
    }
}
