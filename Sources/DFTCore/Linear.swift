/// `y = x W^T + b`, the Hugging Face `nn.Linear` with `weight` stored [out, in]; in fp32
/// (OpenBLAS) or, given a `BF16Linear`, in bf16 (oneDNN) as PyTorch's CPU autocast runs it.
public enum Linear {
    /// out: [tokens, outFeatures]; input: [tokens, inFeatures]; weight: [outFeatures, inFeatures];
    /// bias: [outFeatures] or nil. `accumulate` adds to `out` (a residual; no bias then).
    /// `bf16`: the product runs on W's bf16 copy (W itself is then not read); `convertedInput`:
    /// the input already converted (`BF16Linear.convert`). `epilogue` adds to the product's
    /// tiles before they reach `out` (`TileEpilogue`).
    public static func forward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        tokens: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false, bf16: BF16Linear? = nil,
        convertedInput: UnsafePointer<UInt16>? = nil, epilogue: TileEpilogue = noEpilogue
    ) {
        precondition(!(accumulate && bias != nil), "a bias adds to a fresh output only")
        if let bias {
            for t in 0..<tokens {
                (out + t * outFeatures).update(from: bias, count: outFeatures)
            }
        }
        if let bf16, let convertedInput {
            bf16.forward.multiply(rows: tokens, bf16Input: convertedInput, output: out, accumulate: accumulate || bias != nil,
                                  workspace: bf16.workspace, epilogue: epilogue)
            return
        }
        if let bf16 {
            bf16.forward.multiply(rows: tokens, input: input, output: out, accumulate: accumulate || bias != nil,
                                  workspace: bf16.workspace, epilogue: epilogue)
            return
        }
        BLAS.gemm(transB: true, m: tokens, n: outFeatures, k: inFeatures,
                  a: input, b: weight, beta: bias == nil && !accumulate ? 0 : 1, c: out)
        epilogue(out, outFeatures, 0..<tokens, 0..<outFeatures)
    }

    /// Accumulates into dWeight and dBias (`+=`, so gradient accumulation over micro-batches
    /// is free); a frozen weight (dWeight nil) costs only the input gradient's product.
    /// dInput is overwritten unless `accumulateInput` is set.
    /// dOut: [tokens, outFeatures]; dInput: [tokens, inFeatures].
    public static func backward(
        dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        dBias: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        tokens: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = false, bf16: BF16Linear? = nil,
        convertedGradient: UnsafePointer<UInt16>? = nil, inputEpilogue: TileEpilogue = noEpilogue
    ) {
        if let bf16, let convertedGradient, dWeight == nil {
            // A frozen weight whose caller converted dY (for a LoRA adapter's product too).
            if let dInput {
                bf16.backward!.multiply(rows: tokens, bf16Input: convertedGradient, output: dInput,
                                        accumulate: accumulateInput, workspace: bf16.workspace, epilogue: inputEpilogue)
            }
            if let dBias { addBiasGradient(dBias, dOut: dOut, tokens: tokens, outFeatures: outFeatures) }
            return
        }
        precondition(convertedGradient == nil || dWeight == nil, "a converted dY is for a frozen weight's product")
        if let bf16, let dWeight, bf16.forward.kind == .bf16 {
            // dY feeds both products: converted to bf16 once.
            let halves = WeightGradient.convertGradient(dOut, tokens: tokens, outFeatures: outFeatures,
                                                        workspace: bf16.gradientWorkspace)
            bf16.backward(dInput: dInput, dWeight: dWeight, dOutHalves: halves, input: input, tokens: tokens,
                          accumulateInput: accumulateInput, inputEpilogue: inputEpilogue)
            if let dBias { addBiasGradient(dBias, dOut: dOut, tokens: tokens, outFeatures: outFeatures) }
            return
        }
        if let dInput {
            if let bf16 {
                precondition(bf16.backward != nil, "a bf16 weight packed without its backward copy")
                bf16.backward!.multiply(rows: tokens, input: dOut, output: dInput, accumulate: accumulateInput,
                                        workspace: bf16.workspace, epilogue: inputEpilogue)
            } else {
                BLAS.gemm(m: tokens, n: inFeatures, k: outFeatures,
                          a: dOut, b: weight, beta: accumulateInput ? 1 : 0, c: dInput)
                inputEpilogue(dInput, inFeatures, 0..<tokens, 0..<inFeatures)
            }
        }
        if let dWeight {
            if let bf16 {
                WeightGradient.accumulate(into: dWeight, dOut: dOut, input: input, tokens: tokens, outFeatures: outFeatures,
                                          inFeatures: inFeatures, kind: bf16.forward.kind, workspace: bf16.gradientWorkspace)
            } else {
                BLAS.gemm(transA: true, m: outFeatures, n: inFeatures, k: tokens,
                          a: dOut, b: input, beta: 1, c: dWeight)
            }
        }
        if let dBias { addBiasGradient(dBias, dOut: dOut, tokens: tokens, outFeatures: outFeatures) }
    }

    /// dBias[out] += the sum of dOut [tokens, out] over tokens.
    static func addBiasGradient(_ dBias: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, tokens: Int,
                                outFeatures: Int) {
        for t in 0..<tokens {
            let row = dOut + t * outFeatures
            for o in 0..<outFeatures { dBias[o] += row[o] }
        }
    }
}
