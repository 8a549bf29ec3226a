import DFTCore
import DFTGeneration
import DFTRuntime
import DFTTrain
import Foundation

/// The machine's memory bandwidth with the `Parallel` pool's current threads: a STREAM-like
/// triad `a[i] = b[i] + s * c[i]` over three fp32 arrays far larger than the caches, the
/// best of a few repetitions. Batch-1 decoding reads every weight once per token, so this is
/// the denominator of its bound (the decode benchmark's "% of bound").
public enum MemoryBandwidth {
    /// Elements per array by default: 3 x 64M floats = 768 MB, far past any L3.
    public static let defaultElements = 1 << 26

    /// Bytes per second of the triad on `Parallel.threads` workers (configure the pool first).
    ///
    /// Counts 3 x 4 bytes per element (two reads, one write), as STREAM counts 3 x 8 for its
    /// double triad. Write-allocate traffic is not counted: the stores are ordinary ones, so
    /// the CPU also reads every line of `a` before writing it (4 x 4 bytes actually move), but
    /// STREAM's convention leaves that read out, and so the figure is comparable with its.
    public static func triad(elements requested: Int = defaultElements, repeats: Int = 5) -> Double {
        // Keep the three arrays under an eighth of physical memory on small machines.
        let fit = Int(ProcessInfo.processInfo.physicalMemory / 8) / (3 * MemoryLayout<Float>.stride)
        let n = max(1 << 20, min(requested, fit))
        let a = FloatBuffer(count: n), b = FloatBuffer(count: n), c = FloatBuffer(count: n)  // [n] each
        let pa = a.pointer, pb = b.pointer, pc = c.pointer
        // Touch every page from the workers that will stream it (first-touch placement on
        // multi-socket machines), and give the operands non-trivial values.
        Parallel.forRanges(n, minimum: 1 << 16) { range in
            (pb + range.lowerBound).update(repeating: 1, count: range.count)
            (pc + range.lowerBound).update(repeating: 2, count: range.count)
        }
        let s: Float = 3
        func pass() {
            Parallel.forRanges(n, minimum: 1 << 16) { range in
                var i = range.lowerBound
                let scale = VectorMath.Lanes(repeating: s)
                while i + VectorMath.width <= range.upperBound {
                    VectorMath.store(VectorMath.load(pb + i) + scale * VectorMath.load(pc + i), pa + i)
                    i += VectorMath.width
                }
                while i < range.upperBound {
                    pa[i] = pb[i] + s * pc[i]
                    i += 1
                }
            }
        }
        pass()  // warm-up: faults in `a`, starts the workers
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            pass()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        precondition(pa[n - 1] == 1 + s * 2, "triad wrote \(pa[n - 1])")
        return Double(3 * MemoryLayout<Float>.stride * n) / best
    }
}
