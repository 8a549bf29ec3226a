import DFTBuiltin
import DFTCore
import DFTModel
import DFTRuntime
import Foundation
import Yams

/// Everything a training run is configured by. YAML keys are the snake_case names below;
/// command-line flags are the same names in kebab-case (`global_batch` = `--global-batch`).
///
/// Resolution, later layers winning: built-in defaults (the paper's reference recipe), then
/// for a built-in data set its demo settings (`TrainConfig.demoSettings`,
/// `embeddedSettings`), then the YAML file, then flags. The names of built-in assets
/// (`arith-base`, `arith-cot`, ...) are then replaced by their paths. The resolved
/// configuration is written to OUT/config.yaml.
public struct TrainConfig: Codable, Equatable, Sendable {
    /// A model directory, checkpoint, config.json, preset, or `arith-base` (the built-in
    /// pretrained base, `BuiltinAssets`).
    public var model = BuiltinAssets.baseModel
    /// A data file, `arith-cot` (the built-in demonstrations), or `embedded` (the byte-level
    /// arithmetic set of the random-init `demo` preset).
    public var data = BuiltinAssets.demonstrations
    /// Held-out data (same formats as `data`), evaluated before training, every `eval_every`
    /// steps and at the end; empty: none.
    public var evalData = ""
    /// Steps between evaluations of `eval_data` (0: only before training and at the end).
    public var evalEvery = 0
    /// Samples generated per `eval_data` problem at each evaluation, graded against its gold
    /// answer (avg@n, pass@n in metrics.h5); 0: no generation.
    public var evalGenerate = 0
    public var evalTemperature = 1.0
    public var evalTopP = 1.0
    public var evalMaxNewTokens = 512
    /// Prompt template of the generations (empty: `template`).
    public var evalTemplate = ""
    /// Tokenizer for text data: a Hugging Face tokenizer directory or tokenizer.json, or
    /// `byte`; empty means the model directory's own when it has one.
    public var tokenizer = ""
    /// Chat template for prompt/response and messages records.
    public var template = "chatml"
    /// System prompt added by the template (empty: none, except qwen-math-boxed's own).
    public var systemPrompt = ""
    /// Record shape of the JSONL file: auto (detected) or one of RecordFormat.names.
    public var format = "auto"
    /// Skip malformed or untrainable records (counted and reported) instead of failing.
    public var skipInvalid = false
    /// Field names of the record shapes, for files that name them differently; setting one
    /// selects that shape (empty: the standard names, shape detected).
    public var promptField = ""
    public var responseField = ""
    public var messagesField = ""
    public var textField = ""
    public var objective = "dft"
    /// `global`: every token's loss divided by the trained tokens of the whole step (all
    /// micro-batches and ranks; TRL's, ms-swift's, axolotl's). `micro-batch`: each micro-batch
    /// divided by its own token count, averaged over micro-batches and ranks (the DFT authors'
    /// verl code; for reproducing their numbers: it depends on how the batch is split).
    public var lossNormalization = "global"
    /// Optimizer steps at the start trained with `sft` before `objective` takes over.
    public var sftWarmupSteps = 0
    public var clampFloor = 0.01
    public var powerAlpha = 1.0
    /// asft: weight of KL(pi_ref || pi_theta), pi_ref the frozen starting model.
    public var asftLambda = 0.1
    /// iw-sft: bounds of the importance weight p / p_ref.
    public var iwClipLow = 0.2
    public var iwClipHigh = 1.8
    /// LoRA rank: 0 trains every weight (full fine-tuning); r > 0 trains rank-r adapters
    /// beside the frozen weights (docs/LORA.md).
    public var loraR = 0
    public var loraAlpha = 16.0
    public var loraDropout = 0.0
    /// `all-linear` or a comma-separated list of q_proj, k_proj, v_proj, o_proj, gate_proj,
    /// up_proj, down_proj.
    public var loraTargets = "all-linear"
    /// Scaling alpha / sqrt(r) instead of alpha / r.
    public var useRslora = false
    /// A PEFT adapter directory to start from instead of PEFT's initialisation (its r, alpha,
    /// targets and rsLoRA flag are the run's; empty: none).
    public var loraAdapter = ""
    public var optimizer = "adamw"
    public var lr = 5e-5
    public var minLr = 0.0
    public var schedule = "cosine"
    public var warmupRatio = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var adamEps = 1e-8
    public var weightDecay = 0.01
    public var clip = 1.0
    /// Optimizer steps; 0 means derive from `epochs`.
    public var steps = 0
    public var epochs = 1.0
    public var globalBatch = 256
    public var microBatch = 4
    public var maxLength = 2048
    public var packing = false
    public var seed = 42
    public var out = "runs/default"
    public var logEvery = 10
    /// OpenBLAS threads per rank; 0 means SLURM_CPUS_PER_TASK, OMP_NUM_THREADS, or the
    /// node's cores divided by its ranks (see `ThreadPolicy`).
    public var threads = 0
    /// 1 shards AdamW's moments across ranks (ZeRO stage 1).
    public var zero = 0
    /// What the backward pass recomputes instead of keeping: none, selective (attention
    /// probabilities) or full (everything but each layer's input); see `Recompute`.
    public var recompute = "none"
    /// Size of a gradient allreduce bucket, in MB (10^6 bytes).
    public var bucketMb = 25.0
    /// Consecutive skipped (non-finite) steps after which training aborts.
    public var maxSkips = 10
    /// Every rank prints its progress, prefixed by its rank.
    public var logAllRanks = false
    /// Checkpoint every this many steps (0: only at the end and on a stop signal).
    public var saveEvery = 100
    /// Checkpoints kept besides those kept by keep_every.
    public var keepLast = 3
    /// Also keep every checkpoint whose step is a multiple of this (0: none).
    public var keepEvery = 0
    /// `auto` (newest loadable checkpoint in OUT, if any), `never`, or a checkpoint path.
    public var resume = "auto"

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, data, evalData = "eval_data", evalEvery = "eval_every", tokenizer, template, systemPrompt = "system_prompt", format, skipInvalid = "skip_invalid"
        case evalGenerate = "eval_generate", evalTemperature = "eval_temperature", evalTopP = "eval_top_p"
        case evalMaxNewTokens = "eval_max_new_tokens", evalTemplate = "eval_template"
        case promptField = "prompt_field", responseField = "response_field", messagesField = "messages_field"
        case textField = "text_field"
        case objective, lossNormalization = "loss_normalization"
        case sftWarmupSteps = "sft_warmup_steps"
        case clampFloor = "clamp_floor", powerAlpha = "power_alpha"
        case asftLambda = "asft_lambda", iwClipLow = "iw_clip_low", iwClipHigh = "iw_clip_high"
        case loraR = "lora_r", loraAlpha = "lora_alpha", loraDropout = "lora_dropout", loraTargets = "lora_targets"
        case useRslora = "use_rslora", loraAdapter = "lora_adapter"
        case optimizer, lr, minLr = "min_lr", schedule, warmupRatio = "warmup_ratio"
        case beta1, beta2, adamEps = "adam_eps", weightDecay = "weight_decay", clip
        case steps, epochs, globalBatch = "global_batch", microBatch = "micro_batch"
        case maxLength = "max_length", packing, seed, out, logEvery = "log_every", threads
        case zero, recompute, bucketMb = "bucket_mb", maxSkips = "max_skips", logAllRanks = "log_all_ranks"
        case saveEvery = "save_every", keepLast = "keep_last", keepEvery = "keep_every", resume
    }

    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// Settings of the built-in demo (`data: arith-cot`): the built-in base model fine-tuned on
    /// its chain-of-thought demonstrations, with its accuracy on the held-out problems measured
    /// before and after (4 answers per problem at temperature 1, the paper's sampling), in a few
    /// minutes on two cores. A 3M-parameter model wants a higher rate than a 1.5B one.
    public static var demoSettings: [String: Any] {
        ["template": "plain", "eval_data": BuiltinAssets.heldOut, "eval_generate": 4, "eval_max_new_tokens": 96,
         "lr": 3e-4, "global_batch": 32, "micro_batch": 16, "max_length": 128, "packing": true, "epochs": 1.0,
         "log_every": 10, "out": "runs/demo"]
    }

    /// Settings of the byte-level arithmetic set (`data: embedded`), meant for the random-init
    /// `demo` preset: DFT weights each token's gradient by its probability, so from random
    /// weights (p = 1/vocab everywhere) it starves every token it does not already predict and
    /// collapses; these settings first build a base with SFT steps, then fine-tune it with the
    /// configured objective.
    public static var embeddedSettings: [String: Any] {
        ["lr": 2e-3, "global_batch": 32, "micro_batch": 16, "max_length": 128,
         "packing": true, "epochs": 1.5, "sft_warmup_steps": 60, "log_every": 10, "out": "runs/embedded"]
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainConfig()
        func v<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        model = try v(.model, d.model); data = try v(.data, d.data)
        evalData = try v(.evalData, d.evalData); evalEvery = try v(.evalEvery, d.evalEvery)
        evalGenerate = try v(.evalGenerate, d.evalGenerate); evalTemperature = try v(.evalTemperature, d.evalTemperature)
        evalTopP = try v(.evalTopP, d.evalTopP); evalMaxNewTokens = try v(.evalMaxNewTokens, d.evalMaxNewTokens)
        evalTemplate = try v(.evalTemplate, d.evalTemplate)
        tokenizer = try v(.tokenizer, d.tokenizer); template = try v(.template, d.template)
        systemPrompt = try v(.systemPrompt, d.systemPrompt); format = try v(.format, d.format)
        skipInvalid = try v(.skipInvalid, d.skipInvalid)
        promptField = try v(.promptField, d.promptField); responseField = try v(.responseField, d.responseField)
        messagesField = try v(.messagesField, d.messagesField); textField = try v(.textField, d.textField)
        objective = try v(.objective, d.objective)
        lossNormalization = try v(.lossNormalization, d.lossNormalization)
        sftWarmupSteps = try v(.sftWarmupSteps, d.sftWarmupSteps)
        clampFloor = try v(.clampFloor, d.clampFloor); powerAlpha = try v(.powerAlpha, d.powerAlpha)
        asftLambda = try v(.asftLambda, d.asftLambda)
        iwClipLow = try v(.iwClipLow, d.iwClipLow); iwClipHigh = try v(.iwClipHigh, d.iwClipHigh)
        loraR = try v(.loraR, d.loraR); loraAlpha = try v(.loraAlpha, d.loraAlpha)
        loraDropout = try v(.loraDropout, d.loraDropout); loraTargets = try v(.loraTargets, d.loraTargets)
        useRslora = try v(.useRslora, d.useRslora); loraAdapter = try v(.loraAdapter, d.loraAdapter)
        optimizer = try v(.optimizer, d.optimizer); lr = try v(.lr, d.lr); minLr = try v(.minLr, d.minLr)
        schedule = try v(.schedule, d.schedule); warmupRatio = try v(.warmupRatio, d.warmupRatio)
        beta1 = try v(.beta1, d.beta1); beta2 = try v(.beta2, d.beta2); adamEps = try v(.adamEps, d.adamEps)
        weightDecay = try v(.weightDecay, d.weightDecay); clip = try v(.clip, d.clip)
        steps = try v(.steps, d.steps); epochs = try v(.epochs, d.epochs)
        globalBatch = try v(.globalBatch, d.globalBatch); microBatch = try v(.microBatch, d.microBatch)
        maxLength = try v(.maxLength, d.maxLength); packing = try v(.packing, d.packing)
        seed = try v(.seed, d.seed); out = try v(.out, d.out); logEvery = try v(.logEvery, d.logEvery)
        threads = try v(.threads, d.threads)
        zero = try v(.zero, d.zero); recompute = try v(.recompute, d.recompute); bucketMb = try v(.bucketMb, d.bucketMb)
        maxSkips = try v(.maxSkips, d.maxSkips); logAllRanks = try v(.logAllRanks, d.logAllRanks)
        saveEvery = try v(.saveEvery, d.saveEvery); keepLast = try v(.keepLast, d.keepLast)
        keepEvery = try v(.keepEvery, d.keepEvery); resume = try v(.resume, d.resume)
    }
}

extension TrainConfig {
    /// Reads a YAML config file into a key -> value layer, rejecting unknown keys (a typo
    /// must never silently drop a hyper-parameter).
    public static func layer(fromYAMLFile path: String) throws -> [String: Any] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("config file '\(path)': cannot be read")
        }
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch {
            throw ConfigError("config file '\(path)': not valid YAML: \(error)")
        }
        guard let node else { return [:] }
        guard let mapping = node as? [String: Any] else {
            throw ConfigError("config file '\(path)': expected a mapping of keys to values at the top level")
        }
        for key in mapping.keys.sorted() where !keys.contains(key) {
            let hint = keys.first { $0.replacingOccurrences(of: "_", with: "") == key.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") }
            throw ConfigError("config file '\(path)': unknown key '\(key)'"
                + (hint.map { " (did you mean '\($0)'?)" } ?? "")
                + "; known keys: \(keys.joined(separator: ", "))")
        }
        return mapping
    }

    /// Merges layers (later wins) over the defaults, applying a built-in data set's demo
    /// settings underneath, replaces built-in asset names by their paths, and validates.
    public static func resolve(layers: [[String: Any]], source: String = "configuration") throws -> TrainConfig {
        var merged: [String: Any] = [:]
        for layer in layers { merged.merge(layer) { _, new in new } }
        let data = merged["data"] as? String ?? TrainConfig().data
        if data == BuiltinAssets.demonstrations {
            merged = demoSettings.merging(merged) { _, user in user }
        } else if data == "embedded" {
            merged = embeddedSettings.merging(merged) { _, user in user }
        }
        var config: TrainConfig
        do {
            let json = try JSONSerialization.data(withJSONObject: merged.mapValues(jsonCompatible))
            config = try JSONDecoder().decode(TrainConfig.self, from: json)
        } catch let DecodingError.typeMismatch(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigError("\(source): '\(key)' must be \(describe(type)), got \(merged[key].map { "\($0)" } ?? "nothing")")
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        config.model = BuiltinAssets.resolve(config.model)
        config.data = BuiltinAssets.resolve(config.data)
        config.evalData = BuiltinAssets.resolve(config.evalData)
        try config.validate()
        return config
    }

    private static func jsonCompatible(_ value: Any) -> Any {
        if let v = value as? Date { return "\(v)" }
        return value
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }

    /// Range checks, each naming the key and what it expects.
    public func validate() throws {
        func require(_ ok: Bool, _ key: String, _ expected: String) throws {
            if !ok { throw ConfigError("'\(key)' must be \(expected)") }
        }
        try require(Objective.names.contains(objective), "objective",
                    "one of \(Objective.names.joined(separator: ", ")), got '\(objective)'")
        try require(["adamw", "sgd"].contains(optimizer), "optimizer", "adamw or sgd, got '\(optimizer)'")
        try require(["cosine", "constant"].contains(schedule), "schedule", "cosine or constant, got '\(schedule)'")
        try require(lr > 0 && lr.isFinite, "lr", "a positive number, got \(lr)")
        try require(minLr >= 0 && minLr <= lr, "min_lr", "between 0 and lr (\(lr)), got \(minLr)")
        try require((0...1).contains(warmupRatio), "warmup_ratio", "in [0, 1], got \(warmupRatio)")
        try require((0..<1).contains(beta1), "beta1", "in [0, 1), got \(beta1)")
        try require((0..<1).contains(beta2), "beta2", "in [0, 1), got \(beta2)")
        try require(adamEps > 0, "adam_eps", "positive, got \(adamEps)")
        try require(weightDecay >= 0, "weight_decay", "non-negative, got \(weightDecay)")
        try require(clip >= 0, "clip", "non-negative (0 disables clipping), got \(clip)")
        try require(steps >= 0, "steps", "non-negative (0 derives the steps from epochs), got \(steps)")
        try require(epochs > 0, "epochs", "positive, got \(epochs)")
        try require(globalBatch > 0, "global_batch", "a positive number of sequences, got \(globalBatch)")
        try require(microBatch > 0, "micro_batch", "a positive number of sequences, got \(microBatch)")
        try require(maxLength >= 2, "max_length", "at least 2 tokens, got \(maxLength)")
        try require(sftWarmupSteps >= 0, "sft_warmup_steps", "non-negative, got \(sftWarmupSteps)")
        try require(logEvery > 0, "log_every", "positive, got \(logEvery)")
        try require(evalEvery >= 0, "eval_every", "non-negative (0: only before training and at the end), got \(evalEvery)")
        try require(evalEvery == 0 || !evalData.isEmpty, "eval_every", "0 when no eval_data is given, got \(evalEvery)")
        try require(["global", "micro-batch"].contains(lossNormalization), "loss_normalization",
                    "global or micro-batch, got '\(lossNormalization)'")
        try require(evalGenerate >= 0, "eval_generate", "non-negative (0: no generation), got \(evalGenerate)")
        try require(evalGenerate == 0 || !evalData.isEmpty, "eval_generate", "0 when no eval_data is given, got \(evalGenerate)")
        try require(evalTemperature >= 0, "eval_temperature", "0 (greedy) or more, got \(evalTemperature)")
        try require(evalTopP > 0 && evalTopP <= 1, "eval_top_p", "in (0, 1], got \(evalTopP)")
        try require(evalMaxNewTokens >= 1, "eval_max_new_tokens", "at least 1, got \(evalMaxNewTokens)")
        try require(threads >= 0, "threads", "non-negative (0 picks from Slurm, OMP_NUM_THREADS or the cores), got \(threads)")
        try require(zero == 0 || zero == 1, "zero", "0 (plain data parallelism) or 1 (sharded optimizer state), got \(zero)")
        try require(Recompute(rawValue: recompute) != nil, "recompute",
                    "one of \(Recompute.allCases.map(\.rawValue).joined(separator: ", ")), got '\(recompute)'")
        try require(bucketMb > 0, "bucket_mb", "positive, got \(bucketMb)")
        try require(maxSkips >= 1, "max_skips", "at least 1, got \(maxSkips)")
        try require(saveEvery >= 0, "save_every", "non-negative (0 saves only at the end and on a stop signal), got \(saveEvery)")
        try require(keepLast >= 1, "keep_last", "at least 1, got \(keepLast)")
        try require(keepEvery >= 0, "keep_every", "non-negative (0 keeps none extra), got \(keepEvery)")
        try require(!resume.isEmpty, "resume", "auto, never, or a checkpoint path")
        try require(clampFloor >= 0 && clampFloor <= 1, "clamp_floor", "in [0, 1], got \(clampFloor)")
        try require(powerAlpha >= 0, "power_alpha", "non-negative, got \(powerAlpha)")
        try require(asftLambda >= 0 && asftLambda.isFinite, "asft_lambda", "non-negative, got \(asftLambda)")
        try require(iwClipLow >= 0 && iwClipLow <= 1, "iw_clip_low", "in [0, 1], got \(iwClipLow)")
        try require(iwClipHigh >= 1 && iwClipHigh.isFinite, "iw_clip_high", "at least 1, got \(iwClipHigh)")
        try require(seed >= 0, "seed", "non-negative, got \(seed)")
        try require(loraR >= 0, "lora_r", "0 (full fine-tuning) or a positive rank, got \(loraR)")
        try require(loraAlpha > 0 && loraAlpha.isFinite, "lora_alpha", "positive, got \(loraAlpha)")
        try require((0..<1).contains(loraDropout), "lora_dropout", "in [0, 1), got \(loraDropout)")
        if case .failure(let error) = LoRASettings.parseTargets(loraTargets) {
            throw ConfigError("'lora_targets' must be all-linear or a comma-separated list of "
                + "\(PEFTAdapter.projections.joined(separator: ", ")): \(error.message)")
        }
        try require(!out.isEmpty, "out", "a directory path")
    }

    /// Reads a configuration written by `yaml()` (a checkpoint's config_yaml).
    public static func decode(yaml: String) throws -> TrainConfig {
        try YAMLDecoder().decode(TrainConfig.self, from: yaml)
    }

    /// The configuration as YAML, keys in declaration order, numbers in their shortest exact
    /// form (`lr: 5e-05`, `clip: 1.0`), strings quoted only when YAML would misread them.
    public func yaml() throws -> String {
        var text = ""
        for child in Mirror(reflecting: self).children {
            guard let label = child.label else { continue }
            let key = Self.snakeCase(label)
            precondition(Self.keys.contains(key), "TrainConfig.\(label) has no coding key \(key)")
            text += "\(key): \(Self.yamlScalar(child.value))\n"
        }
        return text
    }

    /// `sftWarmupSteps` -> `sft_warmup_steps` (the property and key naming rule of this type).
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    static func yamlScalar(_ value: Any) -> String {
        switch value {
        case let flag as Bool: return flag ? "true" : "false"
        case let integer as Int: return String(integer)
        case let number as Double: return String(number)
        default:
            let text = value as? String ?? "\(value)"
            let plain = text.range(of: "^[A-Za-z_./][A-Za-z0-9_./-]*$", options: .regularExpression) != nil
                && !["true", "false", "yes", "no", "on", "off", "null", "y", "n"].contains(text.lowercased())
            if plain { return text }
            return String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
        }
    }
}
