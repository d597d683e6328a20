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
            handler(message, call) { call.respond(Self.encode($0)) }
        }
    }

    /// `registerUnary` for an async handler (GRPCWire runs it in a task of its own): the few calls that await
    /// several steps, such as auth changes with their password hashing.
    mutating func registerAsyncUnary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ path: String, _ request: Request.Type,
        _ handler: @escaping @Sendable (Request, GRPCUnaryCall) async -> Result<Response, GRPCStatus>
    ) {
        registerAsyncUnary(path) { call in
            let message: Request
            do {
                message = try Request(serializedBytes: call.request)
            } catch {
                return .failure(
                    GRPCStatus(code: .internalError, message: "grpc: error unmarshalling request: \(error)"))
            }
            return Self.encode(await handler(message, call))
        }
    }

    private static func encode<Response: SwiftProtobuf.Message>(
        _ result: Result<Response, GRPCStatus>
    ) -> Result<[UInt8], GRPCStatus> {
        result.flatMap { response in
            do {
                return .success(try response.serializedBytes())
            } catch {
                return .failure(GRPCStatus(code: .internalError, message: "grpc: error while marshaling: \(error)"))
            }
        }
    }
}

extension GRPCServerRouter {
    /// `registerUnary` behind an auth check: a call whose metadata fails the request's requirement
    /// (nil = none) gets the auth error and never reaches `handler`.
    mutating func registerUnary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ path: String, _ request: Request.Type, auth: AuthStore,
        requires requirement: @escaping @Sendable (Request) -> AuthRequirement?,
        _ handler:
            @escaping @Sendable (
                Request, GRPCUnaryCall, _ respond: @escaping @Sendable (Result<Response, GRPCStatus>) -> Void
            ) -> Void
    ) {
        registerUnary(path, request) {
            (message: Request, call, respond: @escaping @Sendable (Result<Response, GRPCStatus>) -> Void) in
            guard let needed = requirement(message) else { return handler(message, call, respond) }
            auth.authorize(call.metadata, [needed]) { denied, _ in
                if let denied { return respond(.failure(denied.grpcStatus)) }
                handler(message, call, respond)
            }
        }
    }
}
