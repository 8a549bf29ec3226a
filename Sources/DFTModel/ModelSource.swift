import DFTCore

/// Where a model's configuration and starting weights come from. Random initialisation
/// lives here; Hugging Face safetensors directories and dft-mpi checkpoints plug in as
/// further sources.
public protocol ModelSource: Sendable {
    /// Shown in logs, e.g. "preset demo (random init, seed 1)".
    var description: String { get }
    func config() throws -> ModelConfig
    /// Writes every tensor of `layout` into `parameters`, calling `written(entry)` as soon as
    /// each tensor holds its final values, so that a caller can use it and let it go before
    /// the next is read (a decode-only job packs each matrix in bf16 and releases its fp32
    /// pages: `PackedDecodeWeights.loadDecodeOnly`). Sources that can only finish the whole
    /// model at once (an adapter merged into its base) call it for every entry at the end.
    func loadParameters(into parameters: FloatBuffer, layout: ParameterLayout,
                        written: (ParameterLayout.Entry) throws -> Void) throws
}

extension ModelSource {
    /// Writes every tensor of `layout` into `parameters`.
    public func loadParameters(into parameters: FloatBuffer, layout: ParameterLayout) throws {
        try loadParameters(into: parameters, layout: layout, written: { _ in })
    }
}

/// Hugging Face's `_init_weights` for Llama/Qwen2: linear and embedding weights from
/// N(0, initializer_range^2), biases 0, RMSNorm scales 1.
public struct RandomInitialization: ModelSource {
    public let modelConfig: ModelConfig
    public let name: String
    public let seed: UInt64

    public init(config: ModelConfig, name: String, seed: UInt64) {
        modelConfig = config
        self.name = name
        self.seed = seed
    }

    public var description: String { "\(name) (random init, seed \(seed))" }

    public func config() throws -> ModelConfig { modelConfig }

    public func loadParameters(into parameters: FloatBuffer, layout: ParameterLayout,
                               written: (ParameterLayout.Entry) throws -> Void) throws {
        var rng = SplitMix64(seed: seed ^ 0x5EED_1A7E_0000_0001)
        let std = modelConfig.initializerRange
        for entry in layout.entries {
            let start = parameters.pointer + entry.offset
            if entry.name.hasSuffix("norm.weight") {
                start.update(repeating: 1, count: entry.count)
            } else if entry.name.hasSuffix(".bias") {
                start.update(repeating: 0, count: entry.count)
            } else {
                for i in 0..<entry.count { start[i] = Float(rng.nextNormal() * std) }
            }
            try written(entry)
        }
    }
}
