import CMPI
import Foundation

/// `Communicator` over Open MPI's C API, on MPI_COMM_WORLD.
///
/// Initialised with MPI_THREAD_FUNNELED: only the training thread calls MPI, while
/// OpenBLAS's threads compute. Counts above Int32.max are sent in pieces.
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let localSize: Int
    private let world: MPI_Comm
    private var requests: [MPI_Request?] = []
    private var finalized = false

    public init() {
        var provided: Int32 = 0
        MPI_Init_thread(nil, nil, dft_MPI_THREAD_FUNNELED(), &provided)
        world = dft_MPI_COMM_WORLD()
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r)
        size = Int(s)
        // Ranks sharing this node's memory: the divisor of the node's cores.
        var node: MPI_Comm?
        MPI_Comm_split_type(world, dft_MPI_COMM_TYPE_SHARED(), r, dft_MPI_INFO_NULL(), &node)
        var local: Int32 = 1
        if node != nil {
            MPI_Comm_size(node, &local)
            MPI_Comm_free(&node)
        }
        localSize = Int(local)
        requests.reserveCapacity(256)
    }

    /// Calls `body` on pieces of at most Int32.max elements.
    @inline(__always)
    private func pieces(_ count: Int, _ body: (Int, Int32) -> Void) {
        var start = 0
        while start < count {
            let n = min(count - start, Int(Int32.max))
            body(start, Int32(n))
            start += n
        }
    }

    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        pieces(count) { start, n in
            MPI_Allreduce(dft_MPI_IN_PLACE(), buffer + start, n, dft_MPI_FLOAT(), dft_MPI_SUM(), world)
        }
    }

    public func allreduceSum(_ values: inout [Double]) {
        let n = Int32(values.count)
        values.withUnsafeMutableBufferPointer { v in
            _ = MPI_Allreduce(dft_MPI_IN_PLACE(), v.baseAddress, n, dft_MPI_DOUBLE(), dft_MPI_SUM(), world)
        }
    }

    public func allreduceSum(_ value: Int) -> Int {
        var v = Int64(value)
        MPI_Allreduce(dft_MPI_IN_PLACE(), &v, 1, dft_MPI_INT64_T(), dft_MPI_SUM(), world)
        return Int(v)
    }

    public func any(_ flag: Bool) -> Bool {
        var v: Int32 = flag ? 1 : 0
        MPI_Allreduce(dft_MPI_IN_PLACE(), &v, 1, dft_MPI_INT(), dft_MPI_MAX(), world)
        return v != 0
    }

    public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        pieces(count) { start, n in
            var request: MPI_Request? = dft_MPI_REQUEST_NULL()
            MPI_Iallreduce(dft_MPI_IN_PLACE(), buffer + start, n, dft_MPI_FLOAT(), dft_MPI_SUM(), world, &request)
            requests.append(request)
        }
    }

    public func progress() {
        guard !requests.isEmpty else { return }
        var done: Int32 = 0
        let n = Int32(requests.count)
        requests.withUnsafeMutableBufferPointer { r in
            _ = MPI_Testall(n, r.baseAddress, &done, dft_MPI_STATUSES_IGNORE())
        }
        if done != 0 { requests.removeAll(keepingCapacity: true) }
    }

    public func waitAll() -> Double {
        guard !requests.isEmpty else { return 0 }
        let start = DispatchTime.now().uptimeNanoseconds
        let n = Int32(requests.count)
        requests.withUnsafeMutableBufferPointer { r in
            _ = MPI_Waitall(n, r.baseAddress, dft_MPI_STATUSES_IGNORE())
        }
        requests.removeAll(keepingCapacity: true)
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    public func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, shardCount: Int) {
        precondition(shardCount <= Int(Int32.max), "ZeRO shard of \(shardCount) elements exceeds MPI's count limit")
        // In place, MPI leaves this rank's result at the start of the buffer; move it home.
        MPI_Reduce_scatter_block(dft_MPI_IN_PLACE(), buffer, Int32(shardCount), dft_MPI_FLOAT(), dft_MPI_SUM(), world)
        if rank > 0 {
            (buffer + rank * shardCount).update(from: buffer, count: shardCount)
        }
    }

    public func allgather(_ buffer: UnsafeMutablePointer<Float>, shardCount: Int) {
        precondition(shardCount <= Int(Int32.max), "ZeRO shard of \(shardCount) elements exceeds MPI's count limit")
        MPI_Allgather(dft_MPI_IN_PLACE(), 0, dft_MPI_DATATYPE_NULL(), buffer, Int32(shardCount), dft_MPI_FLOAT(), world)
    }

    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {
        pieces(count) { start, n in
            MPI_Bcast(buffer + start, n, dft_MPI_FLOAT(), Int32(root), world)
        }
    }

    public func send(_ buffer: UnsafePointer<Float>, count: Int, to destination: Int) {
        pieces(count) { start, n in
            MPI_Send(buffer + start, n, dft_MPI_FLOAT(), Int32(destination), 0, world)
        }
    }

    public func receive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from source: Int) {
        pieces(count) { start, n in
            MPI_Recv(buffer + start, n, dft_MPI_FLOAT(), Int32(source), 0, world, dft_MPI_STATUS_IGNORE())
        }
    }

    public func barrier() { MPI_Barrier(world) }

    public func abort(message: String, code: Int32) -> Never {
        FileHandleOutput.standardError.write("rank \(rank): error: \(message)\n")
        MPI_Abort(world, code)
        exit(code)  // MPI_Abort does not return; this satisfies the type checker.
    }

    public func finalize() {
        guard !finalized else { return }
        finalized = true
        MPI_Finalize()
    }
}
