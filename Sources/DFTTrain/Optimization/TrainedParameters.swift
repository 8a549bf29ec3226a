import DFTCore
import DFTModel
import DFTRuntime

/// The buffers a run trains, as the optimizer, the gradient norm, the allreduce, ZeRO and the
/// checkpoint see them: every weight of the model (full fine-tuning), or only the LoRA
/// factors of its adapters, the weights staying frozen.
public struct TrainedParameters {
    /// Names and shapes: Hugging Face checkpoint keys, or PEFT adapter keys.
    public let layout: ParameterLayout
    public let values: FloatBuffer      // [paddedCount]
    public let gradients: FloatBuffer   // [paddedCount]
    /// layout.count rounded up to a multiple of the ZeRO rank count; the tail stays zero.
    public let paddedCount: Int
    public let adapters: LoRAAdapters?

    public init(model: Transformer) {
        adapters = model.adapters
        if let adapters = model.adapters {
            layout = adapters.layout.parameters
            values = adapters.parameters
            gradients = adapters.gradients
            paddedCount = adapters.paddedCount
        } else {
            layout = model.layout
            values = model.parameters
            gradients = model.gradients
            paddedCount = model.paddedCount
        }
    }

    public var count: Int { layout.count }
    public var isAdapters: Bool { adapters != nil }
}
