/// `y = x W^T + b`, the Hugging Face `nn.Linear` with `weight` stored [out, in].
public enum Linear {
    /// out: [tokens, outFeatures]; input: [tokens, inFeatures]; weight: [outFeatures, inFeatures];
    /// bias: [outFeatures] or nil.
    public static func forward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        tokens: Int, inFeatures: Int, outFeatures: Int
    ) {
        if let bias {
            for t in 0..<tokens {
                (out + t * outFeatures).update(from: bias, count: outFeatures)
            }
        }
        BLAS.gemm(transB: true, m: tokens, n: outFeatures, k: inFeatures,
                  a: input, b: weight, beta: bias == nil ? 0 : 1, c: out)
    }

    /// Accumulates into dWeight and dBias (`+=`, so gradient accumulation over micro-batches
    /// is free); a frozen weight (dWeight nil) costs only the input gradient's product.
    /// dInput is overwritten unless `accumulateInput` is set.
    /// dOut: [tokens, outFeatures]; dInput: [tokens, inFeatures].
    public static func backward(
        dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        dBias: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        tokens: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = false
    ) {
        if let dInput {
            BLAS.gemm(m: tokens, n: inFeatures, k: outFeatures,
                      a: dOut, b: weight, beta: accumulateInput ? 1 : 0, c: dInput)
        }
        if let dWeight {
            BLAS.gemm(transA: true, m: outFeatures, n: inFeatures, k: tokens,
                      a: dOut, b: input, beta: 1, c: dWeight)
        }
        if let dBias {
            for t in 0..<tokens {
                let row = dOut + t * outFeatures
                for o in 0..<outFeatures { dBias[o] += row[o] }
            }
        }
    }
}
