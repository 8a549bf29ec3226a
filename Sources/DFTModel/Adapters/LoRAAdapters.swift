import DFTCore
import Foundation

/// The trained half of a LoRA fine-tune: every factor in one flat buffer (`LoRALayout`), its
/// gradients beside it, and what the backward pass needs of the forward pass. The model calls
/// `forward` right after each frozen projection it adapts (adding scaling * x' A^T B^T into the
/// projection's output, x' the input after dropout) and `backward` right after that
/// projection's input gradient, so the frozen weights never get a gradient of their own.
///
/// Per factor and token the forward pass keeps x' A^T ([tokens, r], small); with dropout the
/// dropped input x' is not kept but drawn again in the backward pass from the same counter-
/// based hash, which depends on the run's seed, the step, the layer, the factor and the token's
/// position in the global batch: the same masks for any number of ranks or threads.
public final class LoRAAdapters: @unchecked Sendable {
    public let settings: LoRASettings
    public let layout: LoRALayout
    public let parameters: FloatBuffer  // [paddedCount] every A and B, PEFT names via layout.parameters
    public let gradients: FloatBuffer   // [paddedCount] same layout
    /// layout.parameters.count rounded up to `bufferMultiple` (ZeRO shards); the tail stays zero.
    public let paddedCount: Int
    public let scaling: Float
    let maxTokens: Int
    let kept: FloatBuffer     // [layers, products, maxTokens, factors of the product * r] x' A^T
    let dLow: FloatBuffer     // [maxTokens, factors of a product * r] gradient of x' A^T
    let dropped: FloatBuffer  // [maxTokens, maxInFeatures] x' (dropout only)
    let spread: FloatBuffer   // [maxTokens, maxInFeatures] dLow A before the dropout mask (dropout only)
    /// The products over whole activations in bf16 (nil: fp32, all sgemm).
    let bf16: LoRABF16Factors?

    /// Where this micro-batch sits, for dropout's masks; nil: no dropout (evaluation, scoring).
    public struct DropoutDraw: Sendable {
        public let seed: UInt64
        public let step: Int
        /// Token slot of the batch's first row in the global batch (first row x row length).
        public let firstSlot: Int
        public init(seed: UInt64, step: Int, firstSlot: Int) {
            self.seed = seed
            self.step = step
            self.firstSlot = firstSlot
        }
    }
    public var dropoutDraw: DropoutDraw?

    /// bf16: the model's products run in bf16 (`.bf16` or `.bf16Reference`), and so do the
    /// adapters' products over whole activations (`LoRABF16Factors`).
    public init(config: ModelConfig, settings: LoRASettings, maxTokens: Int, bufferMultiple: Int = 1,
                bf16: PackedMatrix.Kind? = nil) {
        self.settings = settings
        layout = LoRALayout(config: config, settings: settings)
        let count = layout.parameters.count
        paddedCount = (count + bufferMultiple - 1) / bufferMultiple * bufferMultiple
        parameters = FloatBuffer(count: paddedCount)
        gradients = FloatBuffer(count: paddedCount)
        scaling = settings.scaling
        self.maxTokens = maxTokens
        kept = FloatBuffer(count: config.numHiddenLayers * layout.factorsPerLayer * maxTokens * settings.r)
        dLow = FloatBuffer(count: maxTokens * layout.maxFactorsPerProduct * settings.r)
        let scratch = settings.dropout > 0 ? maxTokens * layout.maxInFeatures : 0
        dropped = FloatBuffer(count: scratch)
        spread = FloatBuffer(count: scratch)
        let (layout, parameters) = (layout, parameters)
        self.bf16 = bf16.map { LoRABF16Factors(layout: layout, parameters: parameters.pointer, kind: $0, maxTokens: maxTokens) }
    }

    public var bytes: Int {
        [parameters, gradients, kept, dLow, dropped, spread].reduce(bf16?.bytes ?? 0) { $0 + $1.bytes }
    }

    /// Packs the bf16 copies of the factors from their current values (a no-op in fp32). The
    /// model calls it at every forward pass: the factors change at every optimizer step.
    public func packBF16() {
        bf16?.pack(parameters.pointer, layout: layout, scaling: scaling)
    }
    public var parameterCount: Int { layout.parameters.count }

    /// PEFT's initialisation: A from kaiming_uniform(a = sqrt(5)), which is uniform in
    /// +-1 / sqrt(in); B zero, so the adapted model starts equal to the base.
    public func initialize(seed: UInt64) {
        var rng = SplitMix64(seed: seed ^ 0x10_2A_AD_A9_7E_25_0001)
        parameters.zero()
        for products in layout.layers {
            for factor in products.joined() {
                let bound = 1 / Double(factor.inFeatures).squareRoot()
                let a = parameters.pointer + factor.a
                for i in 0..<(layout.rank * factor.inFeatures) {
                    a[i] = Float((2 * rng.nextUnitDouble() - 1) * bound)
                }
            }
        }
    }

    /// Reads an existing PEFT adapter's factors (its settings must be these). A missing
    /// tensor, a wrong shape or a tensor the layout does not have is an error naming it.
    public func load(_ adapter: PEFTAdapter) throws {
        let path = (adapter.directory as NSString).appendingPathComponent("adapter_model.safetensors")
        let file = try SafetensorsFile(path: path)
        for entry in layout.parameters.entries {
            try file.read(entry.name, into: parameters.pointer + entry.offset, expectedShape: entry.shape)
        }
        if let stray = file.names.sorted().first(where: { layout.parameters[$0] == nil }) {
            throw AdapterError(file: path, field: nil, message: "tensor \(stray) is not a LoRA factor of a targeted "
                + "projection of this model (targets: \(settings.targets.joined(separator: ", ")), "
                + "\(layout.layers.count) layers)")
        }
    }

    /// Adds scaling * B A to every adapted weight of `parameters` (a copy of the base laid out
    /// by `layout`): the merged model, what peft's `merge_and_unload` computes.
    public func merge(into parameters: FloatBuffer, layout base: ParameterLayout) {
        for (l, products) in layout.layers.enumerated() {
            for factor in products.joined() {
                let name = "model.layers.\(l).\(PEFTAdapter.blockName(factor.projection)).\(factor.projection).weight"
                // W [out, in] += scaling * B [out, r] A [r, in]
                BLAS.gemm(m: factor.outFeatures, n: factor.inFeatures, k: layout.rank, alpha: scaling,
                          a: self.parameters.pointer + factor.b, b: self.parameters.pointer + factor.a, beta: 1,
                          c: parameters.pointer + base.offset(name))
            }
        }
    }

    /// The kept x' A^T of the product whose first factor is `factorIndex` ([maxTokens, count * r]
    /// from there: a product's block is as long as its factors' blocks together).
    func keptLow(_ layer: Int, _ factorIndex: Int) -> UnsafeMutablePointer<Float> {
        kept.pointer + ((layer * layout.factorsPerLayer + factorIndex) * maxTokens) * layout.rank
    }

    /// The index of a product's first factor among its layer's factors.
    func firstFactor(_ layer: Int, _ product: LoRALayout.Product) -> Int {
        layout.layers[layer][..<product.rawValue].reduce(0) { $0 + $1.count }
    }

    /// out[:, column ..< column + out] += scaling * x' A^T B^T for each factor of `product`.
    /// input: [tokens, in] the frozen projection's input; out: [tokens, outputWidth]. fp32 only:
    /// in bf16 the model runs the two halves itself, `lowRank` on its bf16 copy of the input,
    /// then `addExpansion` on the frozen product's tiles.
    public func forward(layer: Int, _ product: LoRALayout.Product, input: UnsafePointer<Float>,
                        out: UnsafeMutablePointer<Float>, tokens n: Int) {
        let factors = layout.layers[layer][product.rawValue]
        guard !factors.isEmpty else { return }
        lowRank(layer: layer, product, input: input, tokens: n)
        let r = layout.rank, width = factors.count * r
        let low = keptLow(layer, firstFactor(layer, product))
        for (f, factor) in factors.enumerated() {
            BLAS.gemm(transB: true, m: n, n: factor.outFeatures, k: r, alpha: scaling, a: low + f * r, lda: width,
                      b: parameters.pointer + factor.b, beta: 1, c: out + factor.column, ldc: factor.outputWidth)
        }
    }

    /// Keeps x' A^T ([tokens, count * r]) of every factor of `product`. convertedInput: the
    /// input in bf16 (`BF16Linear.convert`), read by the bf16 product instead of the input.
    public func lowRank(layer: Int, _ product: LoRALayout.Product, input: UnsafePointer<Float>,
                        convertedInput: UnsafePointer<UInt16>? = nil, tokens n: Int) {
        let factors = layout.layers[layer][product.rawValue]
        guard let first = factors.first else { return }
        let r = layout.rank, width = factors.count * r, firstIndex = firstFactor(layer, product)
        let low = keptLow(layer, firstIndex)  // [n, count * r] x' A^T of every factor, side by side
        if dropoutActive {
            // Each factor drops its own elements of x: one product per factor.
            for (f, factor) in factors.enumerated() {
                let source = droppedInput(input, layer: layer, factor: firstIndex + f, features: factor.inFeatures, tokens: n)
                BLAS.gemm(transB: true, m: n, n: r, k: factor.inFeatures, a: source, b: parameters.pointer + factor.a,
                          c: low + f * r, ldc: width)
            }
        } else if let bf16 {
            bf16.down(layer: layer, product, input: input, converted: convertedInput, low: low, tokens: n)
        } else {
            // The product's A factors are one [count * r, in] matrix.
            BLAS.gemm(transB: true, m: n, n: width, k: first.inFeatures, a: input, b: parameters.pointer + first.a, c: low)
        }
    }

    /// Adds the gradients of every factor of `product` and their share of the input gradient.
    /// dOut: [tokens, outputWidth] the gradient of the fused product's output; input: as in
    /// `forward`; dInput: [tokens, in], added to (nil: not wanted). fp32 only: in bf16 the
    /// model runs the parts itself: `lowRankGradient`, the frozen input-gradient product with
    /// `addInputGradient` on its tiles, `factorGradients`.
    public func backward(layer: Int, _ product: LoRALayout.Product, input: UnsafePointer<Float>,
                         dOut: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?, tokens n: Int) {
        lowRankGradient(layer: layer, product, dOut: dOut, tokens: n)
        factorGradients(layer: layer, product, input: input, dInput: dInput, inputGradientAdded: false, tokens: n)
    }

    /// dB += s dY^T low and dLow = s dY B of every factor of `product`. convertedGradient: dOut
    /// in bf16 (`BF16Linear.convert`), read by the bf16 product instead of dOut.
    public func lowRankGradient(layer: Int, _ product: LoRALayout.Product, dOut: UnsafePointer<Float>,
                                convertedGradient: UnsafePointer<UInt16>? = nil, tokens n: Int) {
        let factors = layout.layers[layer][product.rawValue]
        guard !factors.isEmpty else { return }
        let r = layout.rank, s = scaling, width = factors.count * r
        let low = keptLow(layer, firstFactor(layer, product))
        for (f, factor) in factors.enumerated() {
            let dY = dOut + factor.column, ld = factor.outputWidth
            // dB [out, r] += s dY^T low_f; dLow_f [n, r] = s dY B.
            BLAS.gemm(transA: true, m: factor.outFeatures, n: r, k: n, alpha: s, a: dY, lda: ld, b: low + f * r, ldb: width,
                      beta: 1, c: gradients.pointer + factor.b)
            if bf16 != nil { continue }
            BLAS.gemm(m: n, n: r, k: factor.outFeatures, alpha: s, a: dY, lda: ld, b: parameters.pointer + factor.b,
                      c: dLow.pointer + f * r, ldc: width)
        }
        bf16?.up(layer: layer, product, dOut: dOut, converted: convertedGradient, dLow: dLow.pointer, tokens: n)
    }

    /// dA += dLow^T x' of every factor of `product`, and dInput += their share (dLow A, each
    /// factor's under its dropout mask) unless `inputGradientAdded` says the frozen product's
    /// tiles took it (`addInputGradient`).
    public func factorGradients(layer: Int, _ product: LoRALayout.Product, input: UnsafePointer<Float>,
                                dInput: UnsafeMutablePointer<Float>?, inputGradientAdded: Bool, tokens n: Int) {
        let factors = layout.layers[layer][product.rawValue]
        guard let first = factors.first else { return }
        precondition(!inputGradientAdded || fusesInputGradient, "dropout's input gradient cannot be added tile by tile")
        let r = layout.rank, width = factors.count * r, firstIndex = firstFactor(layer, product)
        if !dropoutActive {
            // dA [count * r, in] += dLow^T x and dx += dLow A, all factors at once.
            BLAS.gemm(transA: true, m: width, n: first.inFeatures, k: n, a: dLow.pointer, b: input, beta: 1,
                      c: gradients.pointer + first.a)
            if let dInput, !inputGradientAdded {
                BLAS.gemm(m: n, n: first.inFeatures, k: width, a: dLow.pointer, b: parameters.pointer + first.a, beta: 1, c: dInput)
            }
            return
        }
        for (f, factor) in factors.enumerated() {
            // dA [r, in] += dLow_f^T x'_f, the factor's own dropped input drawn again.
            let source = droppedInput(input, layer: layer, factor: firstIndex + f, features: factor.inFeatures, tokens: n)
            BLAS.gemm(transA: true, m: r, n: factor.inFeatures, k: n, a: dLow.pointer + f * r, lda: width, b: source,
                      beta: 1, c: gradients.pointer + factor.a)
            // dx += mask_f(dLow_f A).
            guard let dInput, let mask = dropoutMask(layer: layer, factor: firstIndex + f) else { continue }
            BLAS.gemm(m: n, n: factor.inFeatures, k: r, a: dLow.pointer + f * r, lda: width, b: parameters.pointer + factor.a,
                      c: spread.pointer)
            mask.apply(spread.pointer, into: dInput, features: factor.inFeatures, tokens: n, accumulate: true)
        }
    }

    var dropoutActive: Bool { settings.dropout > 0 && dropoutDraw != nil }

    /// x itself without dropout; else x with the factor's mask applied, in `dropped`.
    private func droppedInput(_ input: UnsafePointer<Float>, layer: Int, factor: Int, features: Int,
                              tokens: Int) -> UnsafePointer<Float> {
        guard let mask = dropoutMask(layer: layer, factor: factor) else { return input }
        mask.apply(input, into: dropped.pointer, features: features, tokens: tokens, accumulate: false)
        return UnsafePointer(dropped.pointer)
    }

    private func dropoutMask(layer: Int, factor: Int) -> DropoutMask? {
        guard settings.dropout > 0, let draw = dropoutDraw else { return nil }
        // One key per (seed, step, layer, factor), each mixed in through SplitMix64.
        var run = SplitMix64(seed: draw.seed ^ 0xD80F_0A7E_0000_0000)
        var step = SplitMix64(seed: run.next() ^ UInt64(draw.step))
        var factorKey = SplitMix64(seed: step.next() ^ UInt64(layer << 8 | factor))
        return DropoutMask(key: factorKey.next(), firstSlot: draw.firstSlot, probability: settings.dropout)
    }
}

/// Inverted dropout from a counter-based hash: element (slot, i) is kept when the hash of
/// (key, slot * features + i) is at least p * 2^64, and kept elements are scaled by 1 / (1 - p).
struct DropoutMask {
    let key: UInt64
    let firstSlot: Int
    let threshold: UInt64
    let keptScale: Float

    init(key: UInt64, firstSlot: Int, probability p: Double) {
        self.key = key
        self.firstSlot = firstSlot
        threshold = UInt64(min(p * 18_446_744_073_709_551_616.0, 18_446_744_073_709_549_568.0))
        keptScale = Float(1 / (1 - p))
    }

    @inline(__always) func keeps(_ index: Int) -> Bool {
        var z = key &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) >= threshold
    }

    /// out = mask(x) (or out += mask(x)); x and out [tokens, features].
    func apply(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, features: Int, tokens: Int,
               accumulate: Bool) {
        let scale = keptScale
        Parallel.forRanges(tokens, minimum: 16) { range in
            for t in range {
                let base = (firstSlot + t) * features
                let row = x + t * features, target = out + t * features
                for i in 0..<features {
                    let value = keeps(base + i) ? row[i] * scale : 0
                    if accumulate { target[i] += value } else { target[i] = value }
                }
            }
        }
    }
}
