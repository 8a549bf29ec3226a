import DFTCore
import DFTModel

/// What a checkpoint holds: enough to resume the run exactly, or to export the model.
public struct TrainingState {
    /// Optimizer steps completed.
    public var step: Int
    public var epoch: Int
    /// The resolved configuration, as written to OUT/config.yaml.
    public var configYAML: String
    public var modelConfig: ModelConfig
    public var layout: ParameterLayout
    public var parameters: FloatBuffer           // [layout.count]
    /// Optimizer state buffers by name ("exp_avg", "exp_avg_sq"), each [layout.count].
    public var optimizerState: [(name: String, buffer: FloatBuffer)]
    public var ranks: Int
}

/// Writes checkpoints. The HDF5 writer (`OUT/checkpoints/step-NNNNNNNN.h5`, written to a
/// temporary name and renamed so a crash never leaves a half-written file where a good one
/// was) implements this; the training loop only knows the protocol.
public protocol CheckpointWriter {
    func save(_ state: TrainingState) throws
}
