import DFTCore
import DFTModel
import Foundation

/// `dft-mpi export`: a checkpoint's weights as a Hugging Face model directory that
/// transformers (`AutoModelForCausalLM.from_pretrained`) and vLLM load: `config.json`,
/// `generation_config.json`, safetensors (sharded above 5 GB, with an index), and the
/// tokenizer files of the base model when the run started from a Hugging Face directory.
public enum Exporter {
    /// Files copied from the base model directory when present.
    public static let baseModelFiles = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
        "tokenizer.model", "added_tokens.json", "generation_config.json", "chat_template.jinja",
    ]

    public struct Result {
        public let weightFiles: [String]
        public let copiedFiles: [String]
        public let step: Int
    }

    public static func export(checkpoint: String, to directory: String,
                              as type: SafetensorsWriter.OutputType) throws -> Result {
        let reader = try CheckpointReader(path: checkpoint)
        let config = try reader.modelConfig()
        let layout = ParameterLayout(config: config)
        let parameters = FloatBuffer(count: layout.count)
        try reader.loadParameters(into: parameters, layout: layout)
        let weights = try HuggingFaceCheckpoint.save(parameters: parameters, layout: layout, config: config,
                                                     to: directory, as: type)

        // The base model, if the run started from a Hugging Face directory, lends its
        // tokenizer and generation settings.
        var copied: [String] = []
        if let yaml = try? reader.configYAML, let trained = try? TrainConfig.decode(yaml: yaml),
           HuggingFaceDirectory.isModelDirectory(trained.model) {
            for name in baseModelFiles {
                let source = (trained.model as NSString).appendingPathComponent(name)
                let target = (directory as NSString).appendingPathComponent(name)
                guard FileManager.default.fileExists(atPath: source) else { continue }
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: source, toPath: target)
                copied.append(name)
            }
        }
        if !copied.contains("generation_config.json") {
            var generation: [String: Any] = ["_from_model_config": true]
            if let bos = config.bosTokenId { generation["bos_token_id"] = bos }
            if let eos = config.eosTokenId { generation["eos_token_id"] = eos }
            let data = try JSONSerialization.data(withJSONObject: generation, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent("generation_config.json")),
                           options: .atomic)
        }
        return Result(weightFiles: weights, copiedFiles: copied, step: try reader.step)
    }
}
