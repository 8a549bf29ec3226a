import DFTBuiltin
import DFTCore
import DFTData
import DFTModel
import DFTRuntime
import Foundation

/// Turns the names in a configuration into the things they name: a model source, a data
/// set and an objective. Hugging Face directories, checkpoints and tokenized data formats
/// are added here as the loaders arrive.
public enum RunComponents {
    public static func modelSource(_ config: TrainConfig) throws -> any ModelSource {
        if ModelPresets.names.contains(config.model) {
            return RandomInitialization(config: try ModelPresets.config(named: config.model),
                                        name: "preset \(config.model)", seed: UInt64(config.seed))
        }
        if HuggingFaceDirectory.isModelDirectory(config.model) {
            return HuggingFaceDirectory(path: config.model)
        }
        if config.model.hasSuffix(".h5") {
            return CheckpointModelSource(path: config.model)
        }
        if config.model.hasSuffix(".json") {
            let modelConfig = try ModelConfig.load(huggingFaceConfig: config.model)
            return RandomInitialization(config: modelConfig, name: config.model, seed: UInt64(config.seed))
        }
        throw ConfigError("'model': unknown model '\(config.model)'; expected a preset ("
            + ModelPresets.names.joined(separator: ", ") + "), a Hugging Face model directory (config.json + safetensors), "
            + "a config.json file (random init), or a dft-mpi checkpoint (.h5)")
    }

    /// The model source with a PEFT LoRA adapter merged into its weights (`--adapter`; "" = none).
    public static func modelSource(_ config: TrainConfig, adapter: String) throws -> any ModelSource {
        let base = try modelSource(config)
        return adapter.isEmpty ? base : AdaptedModelSource(base: base, adapter: try PEFTAdapter(directory: adapter))
    }

    /// What a LoRA run trains (nil: full fine-tuning): `lora_adapter`'s settings when one is
    /// given (`lora_r`, if set, must agree), else `lora_r` and the other lora_ keys.
    public static func loraSettings(_ config: TrainConfig) throws -> LoRASettings? {
        if !config.loraAdapter.isEmpty {
            let adapter = try PEFTAdapter(directory: config.loraAdapter)
            guard config.loraR == 0 || config.loraR == adapter.r else {
                throw ConfigError("'lora_r' is \(config.loraR) but 'lora_adapter' \(config.loraAdapter) has r \(adapter.r) "
                    + "(leave lora_r out to take the adapter's)")
            }
            return LoRASettings(r: adapter.r, alpha: adapter.alpha, dropout: config.loraDropout, targets: adapter.targets,
                                useRSLoRA: adapter.useRSLoRA)
        }
        guard config.loraR > 0 else { return nil }
        guard case .success(let targets) = LoRASettings.parseTargets(config.loraTargets) else {
            throw ConfigError("'lora_targets': '\(config.loraTargets)' is not all-linear or a list of projections")
        }
        return LoRASettings(r: config.loraR, alpha: config.loraAlpha, dropout: config.loraDropout, targets: targets,
                            useRSLoRA: config.useRslora)
    }

    public static func dataset(_ config: TrainConfig, model: ModelConfig) throws -> any Dataset {
        if config.data == "embedded" {
            return EmbeddedArithmetic()
        }
        if config.data.hasSuffix(".jsonl") {
            guard let source = tokenizerSource(config) else {
                do {
                    return try PretokenizedJSONL(path: config.data, vocabularySize: model.vocabSize, padId: 0)
                } catch let error as DataError where error.kind == .missingField && error.field == PretokenizedJSONL.idsField {
                    throw ConfigError(withoutTokenizer: config, data: error)
                }
            }
            let tokenizer = try TokenizerLoader.load(source)
            guard tokenizer.vocabularySize <= model.vocabSize else {
                throw ConfigError("tokenizer '\(source)' has \(tokenizer.vocabularySize) tokens but the model's vocabulary has \(model.vocabSize)")
            }
            let template = try ChatTemplates.named(config.template, systemPrompt: config.systemPrompt.isEmpty ? nil : config.systemPrompt)
            let format = try recordFormat(config)
            return try TokenizedJSONL(path: config.data, tokenizer: tokenizer, template: template,
                                      options: .init(format: format, skipInvalid: config.skipInvalid,
                                                     maxLength: config.maxLength, vocabularySize: model.vocabSize))
        }
        if config.data.hasSuffix(".h5") {
            return try PreparedDataset(path: config.data, vocabularySize: model.vocabSize)
        }
        throw ConfigError("'data': '\(config.data)' is neither 'embedded', a .jsonl file of records, "
            + "nor a .h5 file written by `dft-mpi prepare`")
    }

    /// The record format the field-name and format settings ask for; nil means detect it.
    public static func recordFormat(_ config: TrainConfig) throws -> RecordFormat? {
        if !config.promptField.isEmpty || !config.responseField.isEmpty {
            return .promptResponse(prompt: config.promptField.isEmpty ? "prompt" : config.promptField,
                                   response: config.responseField.isEmpty ? "response" : config.responseField)
        }
        if !config.messagesField.isEmpty {
            return .messages(field: config.messagesField, role: "role", content: "content")
        }
        if !config.textField.isEmpty {
            return .text(field: config.textField)
        }
        guard config.format != "auto" else { return nil }
        guard let named = RecordFormat.named(config.format) else {
            throw ConfigError("'format' must be auto or one of \(RecordFormat.names.joined(separator: ", ")), got '\(config.format)'")
        }
        return named
    }

    /// The tokenizer for text data: `--tokenizer`, else the model directory when it ships a
    /// tokenizer.json; nil means the data must be pre-tokenized.
    public static func tokenizerSource(_ config: TrainConfig) -> String? {
        if !config.tokenizer.isEmpty { return config.tokenizer }
        let candidate = (config.model as NSString).appendingPathComponent("tokenizer.json")
        return FileManager.default.fileExists(atPath: candidate) ? config.model : nil
    }

    public static func objective(_ config: TrainConfig) throws -> Objective {
        let parameter: Float? = switch config.objective {
        case "dft-clamp": Float(config.clampFloor)
        case "dft-power": Float(config.powerAlpha)
        case "asft": Float(config.asftLambda)
        default: nil
        }
        guard let objective = Objective(name: config.objective, parameter: parameter,
                                        clip: (Float(config.iwClipLow), Float(config.iwClipHigh))) else {
            throw ConfigError("'objective' must be one of \(Objective.names.joined(separator: ", ")), got '\(config.objective)'")
        }
        return objective
    }
}

extension ConfigError {
    /// Text records met by a model that has no tokenizer (a preset, a config.json, a checkpoint
    /// of such a run): say so, and the three ways out, rather than only that `input_ids` is missing.
    init(withoutTokenizer config: TrainConfig, data error: DataError) {
        let model = ModelPresets.names.contains(config.model) ? "is a preset (random weights) with no tokenizer"
            : "has no tokenizer.json"
        let data = BuiltinAssets.abbreviate(config.data)
        self.init("--model \(config.model) \(model), so it cannot read the text records of \(data) "
            + "(line \(error.line ?? 1) has no \"\(PretokenizedJSONL.idsField)\"). Pass one of: --data embedded "
            + "(byte-level arithmetic, with --model demo); pre-tokenized data ({\"input_ids\": [...], \"loss_mask\": [...]} "
            + "records, or a .h5 of `dft-mpi prepare`); or --tokenizer DIR (a Hugging Face tokenizer directory or "
            + "tokenizer.json whose vocabulary fits the model's)")
    }
}
