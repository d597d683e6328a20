// libFuzzer target `requests`: the first byte picks an etcd RPC, the rest is its request message (see
// `FuzzTraffic`). Built and run by `scripts/fuzz`.
import Foundation
import Robustness

/// Started on first use, kept for the whole run: one server, as a real one lives through many requests.
let fuzzServer: FuzzServer = {
    guard let server = FuzzTraffic.blocking(timeout: .seconds(60), { try? await FuzzServer.start() }) ?? nil else {
        fatalError("the fuzz server did not start")
    }
    return server
}()

/// The entry point. SwiftPM links executables with `main` renamed to `<module>_main`, which hides libFuzzer's own
/// `main`; so this is it: write seeds if asked, start the server, then hand over to libFuzzer's driver.
@_cdecl("FuzzRequests_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    FuzzSeedWriter.writeIfAsked(FuzzSeeds.requests())
    _ = fuzzServer
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, fuzzRequests)
}

/// libFuzzer's entry for programs with their own `main` (compiler-rt `FuzzerInterface.h`).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequests(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    do {
        try FuzzTraffic.sendRequest(Array(UnsafeBufferPointer(start: data, count: size)), client: fuzzServer.client)
    } catch {
        FileHandle.standardError.write(Data("VIOLATION: \(error)\n".utf8))
        abort()
    }
    return 0
}
