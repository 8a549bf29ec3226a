import DFTCore
import Foundation

/// The machine's bf16 product limit through the path training's products take (oneDNN's packed
/// bf16 matmul, cut into blocks over `Parallel`'s pool with its current threads): the best of a
/// few square products, the denominator of a bf16 run's MFU. The input's conversion to bf16
/// is timed with it, as every training product pays it.
public enum BF16Rate {
    public static func measure(size: Int = 1536, repeats: Int = 4) -> Double {
        var rng = SplitMix64(seed: 1)
        let a = FloatBuffer(count: size * size), b = FloatBuffer(count: size * size), c = FloatBuffer(count: size * size)
        for i in 0..<(size * size) {
            a[i] = Float(rng.nextUnitDouble()) - 0.5
            b[i] = Float(rng.nextUnitDouble()) - 0.5
        }
        let matrix = PackedMatrix(weight: b.pointer, outFeatures: size, inFeatures: size, kind: .bf16)
        let workspace = MatmulWorkspace(capacity: size * size)
        matrix.multiply(rows: size, input: a.pointer, output: c.pointer, workspace: workspace)  // warm-up
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            matrix.multiply(rows: size, input: a.pointer, output: c.pointer, workspace: workspace)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return 2 * pow(Double(size), 3) / best
    }
}
