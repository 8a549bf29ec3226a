import DFTCore
import Foundation

/// The collective operations data parallelism needs, so that the training loop is written
/// once for one process and for N MPI ranks. `SingleProcessCommunicator` is the one-rank
/// case; the MPI implementation (Open MPI) plugs in behind the same protocol.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Element-wise sum across ranks, in place.
    func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// Element-wise sum across ranks, in place (metrics).
    func allreduceSum(_ values: inout [Double])
    /// Sum of one count across ranks (token counts; no allocation).
    func allreduceSum(_ value: Int) -> Int
    /// True on every rank if `flag` is true on any rank (one collective decision).
    func any(_ flag: Bool) -> Bool
    func barrier()
    /// Ends every rank of the job, with the message printed once by the failing rank.
    func abort(message: String, code: Int32) -> Never
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }
}

/// One process: every collective is the identity.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    public func allreduceSum(_ values: inout [Double]) {}
    public func allreduceSum(_ value: Int) -> Int { value }
    public func any(_ flag: Bool) -> Bool { flag }
    public func barrier() {}
    public func abort(message: String, code: Int32) -> Never {
        FileHandleOutput.standardError.write("error: \(message)\n")
        exit(code)
    }
}
