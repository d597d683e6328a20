import RevisionLog

/// The log's file calls through the power-cut journals (`SimulatedPowerCut`): each write first records what it
/// replaces, each sync marks what it covered, so a simulated power cut takes back exactly what no sync covered.
public struct PowerCutLogIO: LogFileIO {
    private let system = SystemLogIO()

    public init() {}

    public func write(_ descriptor: Int32, path: String, bytes: UnsafeRawBufferPointer, at offset: Int64)
        throws(StoreError)
    {
        try SimulatedPowerCut.willWrite(descriptor: descriptor, path: path, offset: offset, length: bytes.count)
        try system.write(descriptor, path: path, bytes: bytes, at: offset)
    }

    public func sync(_ descriptor: Int32, path: String) throws(StoreError) {
        let mark = SimulatedPowerCut.syncStarting(path: path)
        try system.sync(descriptor, path: path)
        SimulatedPowerCut.didSync(path: path, mark)
    }

    public func didMove(_ path: String, to target: String?) {
        SimulatedPowerCut.forget(path: path)
        if let target { SimulatedPowerCut.forget(path: target) }
    }
}
