import ArgumentParser
import DFTCore
import DFTData
import DFTGeneration
import DFTJobs
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

private let defaults = TrainConfig()
private func demo(_ key: String) -> String { TrainConfig.demoSettings[key].map { "\($0)" } ?? "-" }

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model with DFT, SFT or a relative.",
        discussion: """
            With no arguments: the demo. The built-in base model (arith-base, a small Qwen2 \
            pretrained on arithmetic) is fine-tuned with DFT on the built-in chain-of-thought \
            demonstrations (arith-cot), and its accuracy on the held-out problems (arith-heldout) \
            is measured before and after. Settings come from, later winning: the defaults (the \
            DFT paper's recipe), the demo settings when --data is a built-in set, the YAML file \
            given by --config (keys are the option names in snake_case, e.g. global_batch), then \
            the flags. The resolved configuration is written to OUT/config.yaml.
            """)

    @Option(help: "YAML file of settings (snake_case keys, e.g. `global_batch: 256`).")
    var config: String?

    @Option(help: ArgumentHelp("Model to train: a Hugging Face model directory (config.json + safetensors, Llama or Qwen2), a dft-mpi checkpoint (.h5, fresh optimizer), a config.json (random init), a preset (\(ModelPresets.names.joined(separator: ", ")), random init), or arith-base (the built-in pretrained base). (default: \(defaults.model))", valueName: "dir|ckpt.h5|config.json|preset"))
    var model: String?

    @Option(help: ArgumentHelp("Training data: a .jsonl file of records: {\"prompt\", \"response\"}, {\"messages\": [...]}, {\"problem\", \"solution\"}, {\"text\"} (with a tokenizer), or {\"input_ids\", \"loss_mask\"}; a .h5 file of `dft-mpi prepare`; arith-cot (the built-in demonstrations for arith-base); or embedded (byte-level arithmetic for the random-init demo preset). (default: \(defaults.data))", valueName: "FILE|arith-cot|embedded"))
    var data: String?

    @Option(name: .customLong("eval-data"), help: ArgumentHelp("Held-out data in the same formats as --data (or arith-heldout, arith-heldout-hard: built-in problems), evaluated (objective, NLL, mean p) before training, every --eval-every steps and at the end; rows written to metrics.h5 as eval_*. (demo: \(demo("eval_data")))", valueName: "FILE"))
    var evalData: String?

    @Option(name: .customLong("eval-every"), help: "Steps between evaluations of --eval-data; 0: only before training and at the end. (default: \(defaults.evalEvery))")
    var evalEvery: Int?

    @Option(name: .customLong("loss-normalization"), help: ArgumentHelp("global: each token's loss over the trained tokens of the whole step (all micro-batches and ranks); micro-batch: each micro-batch over its own tokens, averaged over micro-batches and ranks (the DFT authors' code; depends on the split). (default: \(defaults.lossNormalization))", valueName: "global|micro-batch"))
    var lossNormalization: String?

    @Option(name: .customLong("eval-generate"), help: ArgumentHelp("At each evaluation also generate N answers per --eval-data problem and grade them against its gold answer (answer, final_answer, GSM8K ####, or the last \\boxed{} of solution): eval_accuracy (avg@N), eval_pass (pass@N), eval_length in metrics.h5; 0: no generation. (default: \(defaults.evalGenerate); demo: \(demo("eval_generate")))", valueName: "N"))
    var evalGenerate: Int?

    @Option(name: .customLong("eval-temperature"), help: "Sampling temperature of --eval-generate (0: greedy). (default: \(defaults.evalTemperature))")
    var evalTemperature: Double?

    @Option(name: .customLong("eval-top-p"), help: "Nucleus sampling of --eval-generate. (default: \(defaults.evalTopP))")
    var evalTopP: Double?

    @Option(name: .customLong("eval-max-new-tokens"), help: "Most tokens per --eval-generate answer. (default: \(defaults.evalMaxNewTokens); demo: \(demo("eval_max_new_tokens")))")
    var evalMaxNewTokens: Int?

    @Option(name: .customLong("eval-template"), help: "Prompt template of --eval-generate (default: --template; qwen-boxed is the Qwen2.5-Math evaluation prompt).")
    var evalTemplate: String?

    @Option(help: ArgumentHelp("Tokenizer for text JSONL: a Hugging Face tokenizer directory (tokenizer.json + tokenizer_config.json) or tokenizer.json, or `byte`. Default: the model directory's own when it has tokenizer.json; without one the data must be pre-tokenized.", valueName: "dir|tokenizer.json|byte"))
    var tokenizer: String?

    @Option(help: "Chat template for prompt/response and messages records: \(ChatTemplates.names.joined(separator: ", ")). (default: \(defaults.template); demo: \(demo("template")))")
    var template: String?

    @Option(name: .customLong("system-prompt"), help: "System message the template adds (qwen-math-boxed brings its own).")
    var systemPrompt: String?

    @Option(help: "Record shape of --data: auto (detected from the first record) or \(RecordFormat.names.joined(separator: ", ")). (default: \(defaults.format))")
    var format: String?

    @Option(name: .customLong("prompt-field"), help: "Field holding the prompt, for prompt/response records named otherwise (e.g. question).")
    var promptField: String?

    @Option(name: .customLong("response-field"), help: "Field holding the response (e.g. answer).")
    var responseField: String?

    @Option(name: .customLong("messages-field"), help: "Field holding the list of {role, content} messages.")
    var messagesField: String?

    @Option(name: .customLong("text-field"), help: "Field holding plain text trained on every token.")
    var textField: String?

    @Flag(name: .customLong("skip-invalid"), help: "Skip malformed or untrainable records (counted and reported per reason) instead of stopping at the first.")
    var skipInvalid = false

    @Option(help: "Objective: \(Objective.names.joined(separator: ", ")). (default: \(defaults.objective))")
    var objective: String?

    @Option(name: .customLong("sft-warmup-steps"), help: "Optimizer steps trained with sft before --objective takes over (DFT needs a model that already gives its targets some probability). (default: \(defaults.sftWarmupSteps); embedded: \(TrainConfig.embeddedSettings["sft_warmup_steps"].map { "\($0)" } ?? "0"))")
    var sftWarmupSteps: Int?

    @Option(name: .customLong("clamp-floor"), help: "Weight floor c of dft-clamp, -max(p, c) log p. (default: \(defaults.clampFloor))")
    var clampFloor: Double?

    @Option(name: .customLong("power-alpha"), help: "Exponent of dft-power, -p^alpha log p. (default: \(defaults.powerAlpha))")
    var powerAlpha: Double?

    @Option(name: .customLong("asft-lambda"), help: "Weight lambda of asft's KL(pi_ref || pi_theta), pi_ref the frozen starting model. (default: \(defaults.asftLambda))")
    var asftLambda: Double?

    @Option(name: .customLong("iw-clip-low"), help: "Lower bound of iw-sft's weight p / p_ref. (default: \(defaults.iwClipLow))")
    var iwClipLow: Double?

    @Option(name: .customLong("iw-clip-high"), help: "Upper bound of iw-sft's weight p / p_ref. (default: \(defaults.iwClipHigh))")
    var iwClipHigh: Double?

    @Option(name: .customLong("lora-r"), help: ArgumentHelp("LoRA rank: train rank-R adapters beside frozen weights (no gradients or optimizer state for the weights); 0: full fine-tuning. (default: \(defaults.loraR))", valueName: "R"))
    var loraR: Int?

    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha: the adapters are scaled by alpha / r. (default: \(defaults.loraAlpha))")
    var loraAlpha: Double?

    @Option(name: .customLong("lora-dropout"), help: "Dropout on the adapters' input during training, as PEFT's lora_dropout. (default: \(defaults.loraDropout))")
    var loraDropout: Double?

    @Option(name: .customLong("lora-targets"), help: ArgumentHelp("Projections given adapters: all-linear, or a comma-separated list of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj. (default: \(defaults.loraTargets))", valueName: "LIST"))
    var loraTargets: String?

    @Flag(name: .customLong("use-rslora"), help: "rsLoRA: scale the adapters by alpha / sqrt(r) instead of alpha / r.")
    var useRslora = false

    @Option(name: .customLong("lora-adapter"), help: ArgumentHelp("Start from this PEFT adapter (adapter_config.json + adapter_model.safetensors) instead of PEFT's initialisation; its r, alpha, targets and rsLoRA flag are the run's.", valueName: "DIR"))
    var loraAdapter: String?

    @Option(help: "Peak learning rate. (default: \(defaults.lr); demo: \(demo("lr")))")
    var lr: Double?

    @Option(name: .customLong("min-lr"), help: "Learning rate at the end of the cosine decay. (default: \(defaults.minLr))")
    var minLr: Double?

    @Option(help: "Learning-rate schedule after warm-up: cosine or constant. (default: \(defaults.schedule))")
    var schedule: String?

    @Option(name: .customLong("warmup-ratio"), help: "Fraction of the steps with linear warm-up from 0. (default: \(defaults.warmupRatio))")
    var warmupRatio: Double?

    @Option(help: "Optimizer: adamw or sgd (plain SGD, for checks). (default: \(defaults.optimizer))")
    var optimizer: String?

    @Option(help: "AdamW beta1. (default: \(defaults.beta1))")
    var beta1: Double?

    @Option(help: "AdamW beta2. (default: \(defaults.beta2))")
    var beta2: Double?

    @Option(name: .customLong("adam-eps"), help: "AdamW epsilon. (default: \(defaults.adamEps))")
    var adamEps: Double?

    @Option(name: .customLong("weight-decay"), help: "Decoupled weight decay on matrices (not biases or norms). (default: \(defaults.weightDecay))")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this value; 0 disables. (default: \(defaults.clip))")
    var clip: Double?

    @Option(help: "Optimizer steps to run; overrides --epochs.")
    var steps: Int?

    @Option(help: "Passes over the data (fractions allowed), when --steps is not given. (default: \(defaults.epochs); demo: \(demo("epochs")))")
    var epochs: Double?

    @Option(name: .customLong("global-batch"), help: "Sequences (rows) per optimizer step, over all ranks and micro-steps. (default: \(defaults.globalBatch); demo: \(demo("global_batch")))")
    var globalBatch: Int?

    @Option(name: .customLong("micro-batch"), help: "Sequences per forward pass per rank; the global batch must be a multiple of micro-batch x ranks. (default: \(defaults.microBatch); demo: \(demo("micro_batch")))")
    var microBatch: Int?

    @Option(name: .customLong("max-length"), help: "Tokens per row; longer examples are cut from the right. (default: \(defaults.maxLength); demo: \(demo("max_length")))")
    var maxLength: Int?

    @Flag(inversion: .prefixedNo, help: "Pack several examples into each row (attention stays inside each example). (default: \(defaults.packing); demo: \(demo("packing")))")
    var packing: Bool?

    @Option(help: "Seed of initialisation and data order. (default: \(defaults.seed))")
    var seed: Int?

    @Option(help: "Output directory. (default: \(defaults.out); demo: \(demo("out")))")
    var out: String?

    @Option(name: .customLong("log-every"), help: "Steps per printed progress line. (default: \(defaults.logEvery); demo: \(demo("log_every")))")
    var logEvery: Int?

    @Option(help: "OpenBLAS threads per rank; 0 takes SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else the node's cores / ranks on the node. (default: \(defaults.threads))")
    var threads: Int?

    @Option(help: "1 shards AdamW's moments across ranks (ZeRO-1); 0 is plain data parallelism. (default: \(defaults.zero))")
    var zero: Int?

    @Option(help: ArgumentHelp("What the backward pass recomputes instead of keeping, trading time for memory on long rows: none; selective (keep no [rows, heads, T, T] attention probabilities, recompute them per panel); full (also keep nothing but each layer's input and rerun the layer). (default: \(defaults.recompute))", valueName: "none|selective|full"))
    var recompute: String?

    @Option(name: .customLong("bucket-mb"), help: "Gradient allreduce bucket size in MB, started during the backward pass. (default: \(defaults.bucketMb))")
    var bucketMb: Double?

    @Option(name: .customLong("max-skips"), help: "Abort after this many consecutive steps skipped for a non-finite loss or gradient norm. (default: \(defaults.maxSkips))")
    var maxSkips: Int?

    @Flag(name: .customLong("log-all-ranks"), help: "Every rank prints its progress, prefixed by [rank N] (default: rank 0 only).")
    var logAllRanks = false

    @Option(name: .customLong("save-every"), help: "Checkpoint every this many steps; 0 saves only at the end and on SIGTERM/SIGUSR1. (default: \(defaults.saveEvery))")
    var saveEvery: Int?

    @Option(name: .customLong("keep-last"), help: "Checkpoints to keep (older ones are deleted after a successful save). (default: \(defaults.keepLast))")
    var keepLast: Int?

    @Option(name: .customLong("keep-every"), help: "Also keep every checkpoint whose step is a multiple of this; 0 keeps none extra. (default: \(defaults.keepEvery))")
    var keepEvery: Int?

    @Option(help: ArgumentHelp("auto: continue from the newest loadable checkpoint in OUT/checkpoints (a damaged one is reported and the previous used); never: start over; or a checkpoint path. (default: \(defaults.resume))", valueName: "auto|never|PATH"))
    var resume: String?

    @Option(name: .customLong("debug-kill-during-save"), help: ArgumentHelp("Debugging: rank 0 kills itself (SIGKILL) while saving the checkpoint of this step.", visibility: .hidden))
    var debugKillDuringSave: Int?

    @Option(name: .customLong("debug-stop-at-step"), help: ArgumentHelp("Debugging: stop after this step as if rank 0 got SIGUSR1.", visibility: .hidden))
    var debugStopAtStep: Int?

    @Option(name: .customLong("debug-dump"), help: ArgumentHelp("Debugging: rank 0 writes per-step metrics and the final parameters to this JSON file.", visibility: .hidden))
    var debugDump: String?

    @Option(name: .customLong("debug-fail-rank"), help: ArgumentHelp("Debugging: this rank fails at --debug-fail-step.", visibility: .hidden))
    var debugFailRank: Int?

    @Option(name: .customLong("debug-fail-step"), help: ArgumentHelp("Debugging: step at which --debug-fail-rank fails.", visibility: .hidden))
    var debugFailStep: Int?

    @Option(name: .customLong("debug-nan-rank"), help: ArgumentHelp("Debugging: this rank's loss becomes NaN at --debug-nan-step.", visibility: .hidden))
    var debugNanRank: Int?

    @Option(name: .customLong("debug-nan-step"), help: ArgumentHelp("Debugging: step at which --debug-nan-rank's loss is NaN.", visibility: .hidden))
    var debugNanStep: Int?

    /// The flags given on the command line, as a configuration layer.
    func flagLayer() -> [String: Any] {
        var layer: [String: Any] = [:]
        func set(_ key: String, _ value: Any?) { if let value { layer[key] = value } }
        set("model", model); set("data", data); set("objective", objective)
        set("eval_data", evalData); set("eval_every", evalEvery)
        set("loss_normalization", lossNormalization); set("eval_generate", evalGenerate); set("eval_temperature", evalTemperature); set("eval_top_p", evalTopP)
        set("eval_max_new_tokens", evalMaxNewTokens); set("eval_template", evalTemplate)
        set("tokenizer", tokenizer); set("template", template); set("system_prompt", systemPrompt); set("format", format)
        if skipInvalid { layer["skip_invalid"] = true }
        set("prompt_field", promptField); set("response_field", responseField)
        set("messages_field", messagesField); set("text_field", textField)
        set("sft_warmup_steps", sftWarmupSteps); set("clamp_floor", clampFloor); set("power_alpha", powerAlpha)
        set("asft_lambda", asftLambda); set("iw_clip_low", iwClipLow); set("iw_clip_high", iwClipHigh)
        set("lora_r", loraR); set("lora_alpha", loraAlpha); set("lora_dropout", loraDropout)
        set("lora_targets", loraTargets); set("lora_adapter", loraAdapter)
        if useRslora { layer["use_rslora"] = true }
        set("lr", lr); set("min_lr", minLr); set("schedule", schedule); set("warmup_ratio", warmupRatio)
        set("optimizer", optimizer); set("beta1", beta1); set("beta2", beta2); set("adam_eps", adamEps)
        set("weight_decay", weightDecay); set("clip", clip)
        set("steps", steps); set("epochs", epochs)
        // --epochs on the command line beats `steps:` from a config file.
        if epochs != nil && steps == nil { layer["steps"] = 0 }
        set("global_batch", globalBatch); set("micro_batch", microBatch); set("max_length", maxLength)
        set("packing", packing); set("seed", seed); set("out", out); set("log_every", logEvery)
        set("threads", threads); set("zero", zero); set("recompute", recompute); set("bucket_mb", bucketMb); set("max_skips", maxSkips)
        if logAllRanks { layer["log_all_ranks"] = true }
        set("save_every", saveEvery); set("keep_last", keepLast); set("keep_every", keepEvery); set("resume", resume)
        return layer
    }

    func run() throws {
        var layers: [[String: Any]] = []
        if let config { layers.append(try TrainConfig.layer(fromYAMLFile: config)) }
        layers.append(flagLayer())
        // MPI starts only once the configuration is known to be valid: a bad flag is
        // reported by every rank and ends them without any collective.
        let resolved = try TrainConfig.resolve(layers: layers, source: config.map { "config '\($0)' and flags" } ?? "flags")
        let debug = DebugInjection(failRank: debugFailRank, failStep: debugFailStep,
                                   nanRank: debugNanRank, nanStep: debugNanStep, stopStep: debugStopAtStep)
        let code = try TrainingSession.run(config: resolved, debug: debug, debugDumpPath: debugDump,
                                           debugKillDuringSave: debugKillDuringSave)
        if code != 0 { throw ExitCode(code) }
    }
}
