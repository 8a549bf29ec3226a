import DFTCore
import DFTGeneration
import DFTRuntime
import DFTTrain
import Foundation

/// The machine's sgemm limit with the current OpenBLAS threads: the best of a few square
/// products, the denominator of MFU.
public enum SGEMMRate {
    /// OpenBLAS runs the product with `threads` of its own threads (then goes back to one, as
    /// the trainer keeps it under `Parallel`).
    public static func measure(threads: Int, size: Int = 1536, repeats: Int = 4) -> Double {
        BLAS.threads = threads
        defer { BLAS.threads = 1 }
        let a = FloatBuffer(count: size * size), b = FloatBuffer(count: size * size), c = FloatBuffer(count: size * size)
        var rng = SplitMix64(seed: 1)
        for i in 0..<(size * size) {
            a[i] = Float(rng.nextUnitDouble()) - 0.5
            b[i] = Float(rng.nextUnitDouble()) - 0.5
        }
        var best = Double.infinity
        BLAS.gemm(m: size, n: size, k: size, a: a.pointer, b: b.pointer, c: c.pointer)  // warm-up
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(m: size, n: size, k: size, a: a.pointer, b: b.pointer, c: c.pointer)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return 2 * pow(Double(size), 3) / best
    }
}
