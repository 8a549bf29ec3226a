import Dispatch

/// The one owner of the trainer's threads. OpenBLAS runs single-threaded inside it: large
/// matrix products are cut into a fixed grid of blocks of the output (`BlockGrid`) that the
/// pool's workers compute with concurrent single-threaded sgemm calls, and the other kernels
/// are cut over tokens, rows or attention heads. Two pools never compete for the cores.
///
/// Work is split so that every output element is computed by exactly one worker in the same
/// order as serially: results do not depend on the thread count.
///
/// Regions run on `WorkerPool`'s helper threads, which stay awake briefly between regions; a
/// region asked for while another runs (nested, or from another thread) runs on Dispatch's.
public enum Parallel {
    /// Workers used by `forEach`; 1 runs everything on the calling thread.
    nonisolated(unsafe) public private(set) static var threads = 1

    /// Sets the pool size and makes OpenBLAS single-threaded under it.
    public static func configure(threads: Int) {
        self.threads = max(1, threads)
        BLAS.threads = 1
    }

    /// Calls `body(i)` for i in 0..<count, spread over the workers; returns when all are done.
    @inline(__always)
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if threads == 1 || count == 1 {
            for i in 0..<count { body(i) }
        } else if !WorkerPool.shared.run(count, threads: min(threads, count), body) {
            // Another region is running (a nested call, or concurrent tests): Dispatch's threads.
            // The kernels hand raw buffer pointers to disjoint parts of their work; the caller
            // waits for every iteration, so the closure never outlives the call.
            withoutActuallyEscaping(body) { escapable in
                let shared = unsafeBitCast(escapable, to: (@Sendable (Int) -> Void).self)
                DispatchQueue.concurrentPerform(iterations: count, execute: shared)
            }
        }
    }

    /// Calls `body(block)` for every block in 0..<count, the blocks shared out in contiguous
    /// runs over at most `threads` workers. Which worker runs a block never changes what the
    /// block computes: callers make blocks independent of each other.
    @inline(__always)
    public static func forBlocks(_ count: Int, _ body: (Int) -> Void) {
        let workers = min(threads, count)
        if workers <= 1 {
            for block in 0..<count { body(block) }
            return
        }
        forEach(workers) { w in
            for block in (count * w / workers)..<(count * (w + 1) / workers) { body(block) }
        }
    }

    /// Splits 0..<total into at most `threads` contiguous pieces of at least `minimum`
    /// elements and calls `body(range)` for each, in parallel.
    @inline(__always)
    public static func forRanges(_ total: Int, minimum: Int = 1, _ body: (Range<Int>) -> Void) {
        let pieces = max(1, min(threads, total / max(1, minimum)))
        if pieces == 1 {
            body(0..<total)
            return
        }
        forEach(pieces) { p in
            let lower = total * p / pieces, upper = total * (p + 1) / pieces
            if lower < upper { body(lower..<upper) }
        }
    }
}
