import DFTCore
import DFTGeneration
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

/// `dft-mpi export`: a checkpoint's weights as a Hugging Face model directory that
/// transformers (`AutoModelForCausalLM.from_pretrained`) and vLLM load: `config.json`,
/// `generation_config.json`, safetensors (sharded above 5 GB, with an index), and the
/// tokenizer files of the run: those of `--tokenizer` when it was given, else those of the
/// base model when the run started from a Hugging Face directory.
public enum Exporter {
    /// Files copied from the base model directory when present.
    public static let baseModelFiles = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
        "tokenizer.model", "added_tokens.json", "generation_config.json", "chat_template.jinja",
    ]

    /// The tokenizer's share of `baseModelFiles`.
    public static let tokenizerFiles = baseModelFiles.filter { $0 != "generation_config.json" }

    public struct Result {
        public let weightFiles: [String]
        public let copiedFiles: [String]
        public let step: Int
        /// What could not be exported and why (the export itself succeeded).
        public let warnings: [String]
    }

    /// A LoRA run's checkpoint becomes a PEFT adapter (`merge` false) or the full model with
    /// the adapters merged into the base weights (`merge` true); any other checkpoint becomes
    /// the full model.
    public static func export(checkpoint: String, to directory: String,
                              as type: SafetensorsWriter.OutputType, merge: Bool = false) throws -> Result {
        let reader = try CheckpointReader(path: checkpoint)
        let config = try reader.modelConfig()
        let lora = try reader.loraSettings()
        if let lora, !merge {
            let adapters = LoRAAdapters(config: config, settings: lora, maxTokens: 0)
            try reader.loadAdapters(into: adapters)
            let files = try PEFTAdapterWriter.write(adapters, baseModel: try reader.baseModel().model, to: directory, as: type)
            return Result(weightFiles: files, copiedFiles: [], step: try reader.step, warnings: [])
        }
        guard !merge || lora != nil else {
            throw CheckpointError(path: checkpoint, reason: "--merge merges LoRA adapters, and this checkpoint holds a whole "
                + "model (export it without --merge)")
        }
        let layout = ParameterLayout(config: config)
        let parameters = FloatBuffer(count: layout.count)
        try CheckpointModelSource(path: checkpoint).loadParameters(into: parameters, layout: layout)
        let weights = try HuggingFaceCheckpoint.save(parameters: parameters, layout: layout, config: config,
                                                     to: directory, as: type)

        // The tokenizer the run used (`--tokenizer DIR` or a tokenizer.json, else the base
        // model's) and the base model's generation settings go with the weights.
        var copied: [String] = []
        var warnings: [String] = []
        if let trained = reader.runNames {
            func copy(_ source: String, as name: String) throws {
                guard !copied.contains(name), FileManager.default.fileExists(atPath: source) else { return }
                let target = (directory as NSString).appendingPathComponent(name)
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: source, toPath: target)
                copied.append(name)
            }
            if !trained.tokenizer.isEmpty {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: trained.tokenizer, isDirectory: &isDirectory) {
                    // A tokenizer.json path brings the files beside it (tokenizer_config.json, ...).
                    let folder = isDirectory.boolValue ? trained.tokenizer : (trained.tokenizer as NSString).deletingLastPathComponent
                    if !isDirectory.boolValue { try copy(trained.tokenizer, as: "tokenizer.json") }
                    for name in tokenizerFiles {
                        try copy((folder as NSString).appendingPathComponent(name), as: name)
                    }
                } else {
                    warnings.append("the run's tokenizer '\(trained.tokenizer)' no longer exists: no tokenizer files exported")
                }
            }
            if HuggingFaceDirectory.isModelDirectory(trained.model) {
                // With --tokenizer, the base model's own tokenizer files are not the run's.
                let names = trained.tokenizer.isEmpty ? baseModelFiles : baseModelFiles.filter { !tokenizerFiles.contains($0) }
                for name in names {
                    try copy((trained.model as NSString).appendingPathComponent(name), as: name)
                }
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
        return Result(weightFiles: weights, copiedFiles: copied, step: try reader.step, warnings: warnings)
    }
}
