import CMPI
import Foundation

/// `Communicator` over Open MPI's C API, on MPI_COMM_WORLD.
///
/// Initialised with MPI_THREAD_FUNNELED: only the training thread calls MPI, while
/// OpenBLAS's threads compute. Counts above Int32.max are sent in pieces.
///
/// Every operation is started non-blocking and completed by polling, so that a collective
/// that a lost node or link will never complete is noticed here: after `timeout` seconds the
/// `CollectiveWatchdog` names what hung, asks which ranks still answer, and ends the job.
/// Polling is what a blocking MPI call does inside anyway (Open MPI's progress loop spins,
/// yielding the core when ranks oversubscribe it).
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let localSize: Int
    public var nodeCount: Int { watchdog.hostCount }
    public var activity = CommunicationActivity("start-up")
    /// Seconds a collective may take before the job is ended; 0 waits forever.
    public let timeout: Double
    private let world: MPI_Comm
    private let watchdog: CollectiveWatchdog
    /// The gradient buckets' outstanding allreduces, completed by `waitAll`.
    private var requests: [MPI_Request?] = []
    /// The pieces of the operation in flight (one unless a count exceeds Int32.max).
    private var pending: [MPI_Request?] = []
    private var finalized = false

    public init(timeout: Double) {
        var provided: Int32 = 0
        MPI_Init_thread(nil, nil, dft_MPI_THREAD_FUNNELED(), &provided)
        world = dft_MPI_COMM_WORLD()
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(world, &r)
        MPI_Comm_size(world, &s)
        rank = Int(r)
        size = Int(s)
        self.timeout = timeout
        // Ranks sharing this node's memory: the divisor of the node's cores.
        var node: MPI_Comm?
        MPI_Comm_split_type(world, dft_MPI_COMM_TYPE_SHARED(), r, dft_MPI_INFO_NULL(), &node)
        var local: Int32 = 1
        if node != nil {
            MPI_Comm_size(node, &local)
            MPI_Comm_free(&node)
        }
        localSize = Int(local)
        watchdog = CollectiveWatchdog(world: world, rank: rank, size: size)
        requests.reserveCapacity(256)
        pending.reserveCapacity(4)
    }

    /// Starts `body` on pieces of at most Int32.max elements, each adding its request.
    @inline(__always)
    private func pieces(_ count: Int, into list: inout [MPI_Request?], _ body: (Int, Int32, inout MPI_Request?) -> Void) {
        var start = 0
        repeat {
            let n = min(count - start, Int(Int32.max))
            var request: MPI_Request? = dft_MPI_REQUEST_NULL()
            body(start, Int32(n), &request)
            list.append(request)
            start += n
        } while start < count
    }

    /// Polls `list` until every request is done, or ends the job when `timeout` passes first.
    /// `operation` names what the requests are, for the error (built only then).
    private func complete(_ list: inout [MPI_Request?], _ operation: () -> String) {
        guard !list.isEmpty else { return }
        let n = Int32(list.count)
        var done: Int32 = 0
        let waitsForever = timeout <= 0
        list.withUnsafeMutableBufferPointer { r in
            if waitsForever {
                MPI_Waitall(n, r.baseAddress, dft_MPI_STATUSES_IGNORE())
                done = 1
                return
            }
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
            var polls: UInt = 0
            while true {
                MPI_Testall(n, r.baseAddress, &done, dft_MPI_STATUSES_IGNORE())
                if done != 0 { return }
                polls &+= 1
                // Reading the clock costs about what one poll does; every 64th is enough.
                if polls & 63 == 0 && DispatchTime.now().uptimeNanoseconds >= deadline { return }
            }
        }
        if done == 0 {
            watchdog.expire(operation: operation(), activity: activity, waited: timeout)
        }
        list.removeAll(keepingCapacity: true)
    }

    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        pieces(count, into: &pending) { start, n, request in
            MPI_Iallreduce(dft_MPI_IN_PLACE(), buffer + start, n, dft_MPI_FLOAT(), dft_MPI_SUM(), world, &request)
        }
        complete(&pending) { "allreduce (sum) of \(count) floats" }
    }

    public func allreduceSum(_ values: inout [Double]) {
        let n = Int32(values.count)
        values.withUnsafeMutableBufferPointer { v in
            var request: MPI_Request? = dft_MPI_REQUEST_NULL()
            MPI_Iallreduce(dft_MPI_IN_PLACE(), v.baseAddress, n, dft_MPI_DOUBLE(), dft_MPI_SUM(), world, &request)
            pending.append(request)
            complete(&pending) { "allreduce (sum) of \(n) metrics" }
        }
    }

    public func allreduceSum(_ value: Int) -> Int {
        var v = Int64(value)
        var request: MPI_Request? = dft_MPI_REQUEST_NULL()
        MPI_Iallreduce(dft_MPI_IN_PLACE(), &v, 1, dft_MPI_INT64_T(), dft_MPI_SUM(), world, &request)
        pending.append(request)
        complete(&pending) { "allreduce (sum) of a count" }
        return Int(v)
    }

    public func any(_ flag: Bool) -> Bool {
        var v: Int32 = flag ? 1 : 0
        var request: MPI_Request? = dft_MPI_REQUEST_NULL()
        MPI_Iallreduce(dft_MPI_IN_PLACE(), &v, 1, dft_MPI_INT(), dft_MPI_MAX(), world, &request)
        pending.append(request)
        complete(&pending) { "allreduce (max) of a decision flag" }
        return v != 0
    }

    public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        pieces(count, into: &requests) { start, n, request in
            MPI_Iallreduce(dft_MPI_IN_PLACE(), buffer + start, n, dft_MPI_FLOAT(), dft_MPI_SUM(), world, &request)
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
        let buckets = requests.count
        complete(&requests) { "allreduce (sum) of \(buckets) gradient bucket\(buckets == 1 ? "" : "s")" }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    public func reduceScatterSum(_ buffer: UnsafeMutablePointer<Float>, shardCount: Int) {
        precondition(shardCount <= Int(Int32.max), "ZeRO shard of \(shardCount) elements exceeds MPI's count limit")
        // In place, MPI leaves this rank's result at the start of the buffer; move it home.
        var request: MPI_Request? = dft_MPI_REQUEST_NULL()
        MPI_Ireduce_scatter_block(dft_MPI_IN_PLACE(), buffer, Int32(shardCount), dft_MPI_FLOAT(), dft_MPI_SUM(),
                                  world, &request)
        pending.append(request)
        complete(&pending) { "reduce-scatter (sum) of \(shardCount) floats per rank (ZeRO-1 gradients)" }
        if rank > 0 {
            (buffer + rank * shardCount).update(from: buffer, count: shardCount)
        }
    }

    public func allgather(_ buffer: UnsafeMutablePointer<Float>, shardCount: Int) {
        precondition(shardCount <= Int(Int32.max), "ZeRO shard of \(shardCount) elements exceeds MPI's count limit")
        var request: MPI_Request? = dft_MPI_REQUEST_NULL()
        MPI_Iallgather(dft_MPI_IN_PLACE(), 0, dft_MPI_DATATYPE_NULL(), buffer, Int32(shardCount), dft_MPI_FLOAT(),
                       world, &request)
        pending.append(request)
        complete(&pending) { "allgather of \(shardCount) floats per rank (ZeRO-1 parameters)" }
    }

    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) {
        pieces(count, into: &pending) { start, n, request in
            MPI_Ibcast(buffer + start, n, dft_MPI_FLOAT(), Int32(root), world, &request)
        }
        complete(&pending) { "broadcast of \(count) floats from rank \(root)" }
    }

    public func send(_ buffer: UnsafePointer<Float>, count: Int, to destination: Int) {
        pieces(count, into: &pending) { start, n, request in
            MPI_Isend(buffer + start, n, dft_MPI_FLOAT(), Int32(destination), 0, world, &request)
        }
        complete(&pending) { "send of \(count) floats to rank \(destination)" }
    }

    public func receive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from source: Int) {
        pieces(count, into: &pending) { start, n, request in
            MPI_Irecv(buffer + start, n, dft_MPI_FLOAT(), Int32(source), 0, world, &request)
        }
        complete(&pending) { "receive of \(count) floats from rank \(source)" }
    }

    public func barrier() {
        var request: MPI_Request? = dft_MPI_REQUEST_NULL()
        MPI_Ibarrier(world, &request)
        pending.append(request)
        complete(&pending) { "barrier" }
    }

    public func abort(message: String, code: Int32) -> Never {
        FileHandleOutput.standardError.write("rank \(rank): error: \(message)\n")
        CollectiveWatchdog.abort(world, code: code)
    }

    public func finalize() {
        guard !finalized else { return }
        finalized = true
        MPI_Finalize()
    }
}
