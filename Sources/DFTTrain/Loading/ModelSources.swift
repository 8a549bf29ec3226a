import DFTModel
import DFTRuntime
import Foundation

/// What a `--model` name names: a preset (random init), a Hugging Face model directory, a
/// dft-mpi checkpoint, or a config.json (random init). Training, scoring, generation and export
/// load models through here, with nothing but the name, the seed of a random init, and an
/// optional PEFT adapter to merge.
public enum ModelSources {
    public static func named(_ name: String, seed: Int, adapter: String = "") throws -> any ModelSource {
        let base = try named(name, seed: seed)
        return adapter.isEmpty ? base : AdaptedModelSource(base: base, adapter: try PEFTAdapter(directory: adapter))
    }

    static func named(_ name: String, seed: Int) throws -> any ModelSource {
        if ModelPresets.names.contains(name) {
            return RandomInitialization(config: try ModelPresets.config(named: name), name: "preset \(name)", seed: UInt64(seed))
        }
        if HuggingFaceDirectory.isModelDirectory(name) {
            return HuggingFaceDirectory(path: name)
        }
        if name.hasSuffix(".h5") {
            return CheckpointModelSource(path: name)
        }
        if name.hasSuffix(".json") {
            return RandomInitialization(config: try ModelConfig.load(huggingFaceConfig: name), name: name, seed: UInt64(seed))
        }
        throw ConfigError("'model': unknown model '\(name)'; expected a preset ("
            + ModelPresets.names.joined(separator: ", ") + "), a Hugging Face model directory (config.json + safetensors), "
            + "a config.json file (random init), or a dft-mpi checkpoint (.h5)")
    }

    /// The tokenizer for text: `tokenizer` when given, else the model directory's tokenizer.json,
    /// else for a dft-mpi checkpoint the tokenizer of the run it came from (and of that run's
    /// model, for a run that started from another checkpoint); nil means text cannot be read
    /// (data must be pre-tokenized).
    public static func tokenizer(_ tokenizer: String, model: String) -> String? {
        var (tokenizer, model) = (tokenizer, model)
        for _ in 0..<16 {  // a chain of runs, each from the last one's checkpoint
            if !tokenizer.isEmpty { return tokenizer }
            let candidate = (model as NSString).appendingPathComponent("tokenizer.json")
            if FileManager.default.fileExists(atPath: candidate) { return model }
            guard model.hasSuffix(".h5"), let run = try? CheckpointReader(path: model).runNames, run.model != model else {
                return nil
            }
            (tokenizer, model) = (run.tokenizer, run.model)
        }
        return nil
    }
}
