/// Where every LoRA factor lives in the adapters' one flat buffer, under its PEFT name
/// (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight` [r, in], `...lora_B.weight`
/// [out, r]), layer by layer in the model's order and, inside a layer, product by product as
/// the model runs them (q/k/v, o, gate/up, down), each product's A factors stacked before its
/// B factors: so the optimizer, the gradient norm and the allreduce each run over one small
/// contiguous buffer, a product's A factors form one [count * r, in] matrix, and export is a
/// walk over `parameters.entries`.
public struct LoRALayout: Sendable {
    /// One targeted projection: its factors and where its output lands in the fused product
    /// the model computes it in (q/k/v as one [N, qkv width] product, gate/up as one [N, 2 ffn]).
    public struct Factor: Sendable {
        public let projection: String
        public let a: Int             // offset of A [r, inFeatures]
        public let b: Int             // offset of B [outFeatures, r]
        public let inFeatures: Int
        public let outFeatures: Int
        public let column: Int        // first column of the fused product's output
        public let outputWidth: Int   // the fused product's row length (its leading dimension)
    }

    /// The fused products of a layer, as the model runs them.
    public enum Product: Int, CaseIterable, Sendable {
        case qkv, oProj, gateUp, down
    }

    public let parameters: ParameterLayout
    /// [layers][Product.rawValue] the factors applied to that product (none when untargeted).
    public let layers: [[[Factor]]]
    public let rank: Int
    /// The widest input of any factor (hidden, or ffn for down_proj).
    public let maxInFeatures: Int
    /// Factors per layer.
    public let factorsPerLayer: Int
    /// The most factors one product has (3: q, k, v).
    public let maxFactorsPerProduct: Int

    public init(config c: ModelConfig, settings: LoRASettings) {
        let h = c.hiddenSize, d = c.headDim, f = c.intermediateSize, r = settings.r
        let q = c.numAttentionHeads * d, kv = c.numKeyValueHeads * d
        let qkvWidth = q + 2 * kv
        // (in, out, fused product, first column, fused width) of each projection.
        let shapes: [String: (Int, Int, Product, Int, Int)] = [
            "q_proj": (h, q, .qkv, 0, qkvWidth), "k_proj": (h, kv, .qkv, q, qkvWidth),
            "v_proj": (h, kv, .qkv, q + kv, qkvWidth), "o_proj": (q, h, .oProj, 0, h),
            "gate_proj": (h, f, .gateUp, 0, 2 * f), "up_proj": (h, f, .gateUp, f, 2 * f),
            "down_proj": (f, h, .down, 0, h),
        ]
        var tensors: [(name: String, shape: [Int])] = []
        var offset = 0
        var layers: [[[Factor]]] = []
        for l in 0..<c.numHiddenLayers {
            var products = [[Factor]](repeating: [], count: Product.allCases.count)
            for product in Product.allCases {
                let projections = settings.targets.filter { shapes[$0]!.2 == product }
                // The A factors of a product's projections first, back to back: they share the
                // product's input, so x A^T of all of them is one sgemm ([N, count * r]); then
                // the B factors, each for its own block of the output columns.
                var aOffset = offset
                var bOffset = offset + projections.reduce(0) { $0 + r * shapes[$1]!.0 }
                for projection in projections {
                    let (input, output, _, column, width) = shapes[projection]!
                    products[product.rawValue].append(Factor(projection: projection, a: aOffset, b: bOffset,
                                                             inFeatures: input, outFeatures: output,
                                                             column: column, outputWidth: width))
                    aOffset += r * input
                    bOffset += output * r
                }
                for projection in projections {
                    tensors.append((PEFTAdapter.tensorName(layer: l, projection: projection, factor: "A"), [r, shapes[projection]!.0]))
                }
                for projection in projections {
                    tensors.append((PEFTAdapter.tensorName(layer: l, projection: projection, factor: "B"), [shapes[projection]!.1, r]))
                }
                offset = bOffset
            }
            layers.append(products)
        }
        parameters = ParameterLayout(tensors: tensors)
        precondition(parameters.count == offset, "LoRA factors must be laid out back to back")
        self.layers = layers
        rank = r
        maxInFeatures = settings.targets.map { shapes[$0]!.0 }.max() ?? h
        factorsPerLayer = settings.targets.count
        maxFactorsPerProduct = layers.first?.map(\.count).max() ?? 0
    }
}
