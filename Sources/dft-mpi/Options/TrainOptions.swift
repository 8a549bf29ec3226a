import ArgumentParser
import DFTCore
import DFTData
import DFTModel
import DFTRuntime
import DFTTrain

// The options of `train`, by concern, one group per settings group of TrainConfig (and shared
// by the other commands that take the same settings). A property's name is the setting's: the
// flag is its kebab-case, the YAML key its snake_case (`SettingsLayer` reads the given flags
// by that rule), so no setting is named again here. Optional values are the flags not given:
// they leave the setting to the lower layers (YAML, demo settings, defaults).

private let defaults = TrainConfig()
private func demo(_ key: String) -> String { TrainConfig.demoSettings[key].map { "\($0)" } ?? "-" }

/// The model and the data a run trains on.
struct RunInputOptions: SettingsLayer {
    @Option(help: ArgumentHelp("Model to train: a Hugging Face model directory (config.json + safetensors, Llama or Qwen2), a dft-mpi checkpoint (.h5, fresh optimizer), a config.json (random init), a preset (\(ModelPresets.names.joined(separator: ", ")), random init), or arith-base / arith-base-half (the built-in pretrained base, and the same halfway through its pretraining). (default: \(defaults.model))", valueName: "dir|ckpt.h5|config.json|preset"))
    var model: String?

    @Option(help: ArgumentHelp("Training data: a .jsonl file of records: {\"prompt\", \"response\"}, {\"messages\": [...]}, {\"problem\", \"solution\"}, {\"text\"} (with a tokenizer), or {\"input_ids\", \"loss_mask\"}; a .h5 file of `dft-mpi prepare`; arith-cot (the built-in demonstrations for the built-in bases); or embedded (byte-level arithmetic for the random-init demo preset). (default: \(defaults.data))", valueName: "FILE|arith-cot|embedded"))
    var data: String?
}

/// Held-out evaluation during training (loss, and the accuracy of generated answers).
struct EvaluationOptions: SettingsLayer {
    @Option(help: ArgumentHelp("Held-out data in the same formats as --data (or arith-heldout, arith-heldout-hard: built-in problems), evaluated (objective, NLL, mean p) before training, every --eval-every steps and at the end; rows written to metrics.h5 as eval_*. (demo: \(demo("eval_data")))", valueName: "FILE"))
    var evalData: String?

    @Option(help: "Steps between evaluations of --eval-data; 0: only before training and at the end. (default: \(defaults.evalEvery))")
    var evalEvery: Int?

    @Option(help: ArgumentHelp("At each evaluation also generate N answers per --eval-data problem and grade them against its gold answer (answer, final_answer, GSM8K ####, or the last \\boxed{} of solution): eval_accuracy (avg@N), eval_pass (pass@N), eval_length in metrics.h5; 0: no generation. (default: \(defaults.evalGenerate); demo: \(demo("eval_generate")))", valueName: "N"))
    var evalGenerate: Int?

    @Option(help: "Sampling temperature of --eval-generate (0: greedy). (default: \(defaults.evalTemperature))")
    var evalTemperature: Double?

    @Option(help: "Nucleus sampling of --eval-generate. (default: \(defaults.evalTopP))")
    var evalTopP: Double?

    @Option(help: "Keep the k most likely tokens in --eval-generate's sampling (0 keeps all, the paper's sampling). (default: \(defaults.evalTopK))")
    var evalTopK: Int?

    @Option(help: "Most tokens per --eval-generate answer. (default: \(defaults.evalMaxNewTokens); demo: \(demo("eval_max_new_tokens")))")
    var evalMaxNewTokens: Int?

    @Option(help: "Prompt template of --eval-generate (default: --template; qwen-boxed is the Qwen2.5-Math evaluation prompt).")
    var evalTemplate: String?
}

/// How the records of a JSONL data file are read: their shape, field names, bad records.
struct RecordFieldOptions: SettingsLayer {
    @Option(help: "Record shape of --data: auto (detected from the first record) or \(RecordFormat.names.joined(separator: ", ")). (default: \(defaults.format))")
    var format: RecordFormatName?

    @Option(help: "Field holding the prompt, for prompt/response records named otherwise (e.g. question).")
    var promptField: String?

    @Option(help: "Field holding the response (e.g. answer).")
    var responseField: String?

    @Option(help: "Field holding the list of {role, content} messages.")
    var messagesField: String?

    @Option(help: "Field holding plain text trained on every token.")
    var textField: String?

    @Flag(help: "Skip malformed or untrainable records (counted and reported per reason) instead of stopping at the first.")
    var skipInvalid = false
}

/// The per-token loss and its normalisation (docs/OBJECTIVES.md).
struct ObjectiveOptions: SettingsLayer {
    @Option(help: "Objective: \(Objective.names.joined(separator: ", ")). (default: \(defaults.objective))")
    var objective: ObjectiveName?

    @Option(help: ArgumentHelp("global: each token's loss over the trained tokens of the whole step (all micro-batches and ranks); micro-batch: each micro-batch over its own tokens, averaged over micro-batches and ranks (the DFT authors' code; depends on the split). (default: \(defaults.lossNormalization))", valueName: "global|micro-batch"))
    var lossNormalization: LossNormalization?

    @Option(help: "Optimizer steps trained with sft before --objective takes over (DFT needs a model that already gives its targets some probability). (default: \(defaults.sftWarmupSteps); embedded: \(TrainConfig.embeddedSettings["sft_warmup_steps"].map { "\($0)" } ?? "0"))")
    var sftWarmupSteps: Int?

    @Option(help: "Weight floor c of dft-clamp, -max(p, c) log p. (default: \(defaults.clampFloor))")
    var clampFloor: Double?

    @Option(help: "Exponent of dft-power, -p^alpha log p. (default: \(defaults.powerAlpha))")
    var powerAlpha: Double?

    @Option(help: "Weight lambda of asft's KL(pi_ref || pi_theta), pi_ref the frozen starting model. (default: \(defaults.asftLambda))")
    var asftLambda: Double?

    @Option(help: "Lower bound of iw-sft's weight p / p_ref. (default: \(defaults.iwClipLow))")
    var iwClipLow: Double?

    @Option(help: "Upper bound of iw-sft's weight p / p_ref. (default: \(defaults.iwClipHigh))")
    var iwClipHigh: Double?
}

/// LoRA adapters beside frozen weights (docs/LORA.md).
struct AdapterOptions: SettingsLayer {
    @Option(help: ArgumentHelp("LoRA rank: train rank-R adapters beside frozen weights (no gradients or optimizer state for the weights); 0: full fine-tuning. (default: \(defaults.loraR))", valueName: "R"))
    var loraR: Int?

    @Option(help: "LoRA alpha: the adapters are scaled by alpha / r. (default: \(defaults.loraAlpha))")
    var loraAlpha: Double?

    @Option(help: "Dropout on the adapters' input during training, as PEFT's lora_dropout. (default: \(defaults.loraDropout))")
    var loraDropout: Double?

    @Option(help: ArgumentHelp("Projections given adapters: all-linear, or a comma-separated list of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj. (default: \(defaults.loraTargets))", valueName: "LIST"))
    var loraTargets: String?

    @Flag(help: "rsLoRA: scale the adapters by alpha / sqrt(r) instead of alpha / r.")
    var useRslora = false

    @Option(help: ArgumentHelp("Start from this PEFT adapter (adapter_config.json + adapter_model.safetensors) instead of PEFT's initialisation; its r, alpha, targets and rsLoRA flag are the run's.", valueName: "DIR"))
    var loraAdapter: String?
}

/// The optimizer and its learning-rate schedule.
struct OptimizerOptions: SettingsLayer {
    @Option(help: "Optimizer: adamw or sgd (plain SGD, for checks). (default: \(defaults.optimizer))")
    var optimizer: OptimizerName?

    @Option(help: "Peak learning rate. (default: \(defaults.lr); demo: \(demo("lr")))")
    var lr: Double?

    @Option(help: "Learning rate at the end of the cosine decay. (default: \(defaults.minLr))")
    var minLr: Double?

    @Option(help: "Learning-rate schedule after warm-up: cosine or constant. (default: \(defaults.schedule))")
    var schedule: LearningRateSchedule.Shape?

    @Option(help: "Fraction of the steps with linear warm-up from 0. (default: \(defaults.warmupRatio))")
    var warmupRatio: Double?

    @Option(help: "AdamW beta1. (default: \(defaults.beta1))")
    var beta1: Double?

    @Option(help: "AdamW beta2. (default: \(defaults.beta2))")
    var beta2: Double?

    @Option(help: "AdamW epsilon. (default: \(defaults.adamEps))")
    var adamEps: Double?

    @Option(help: "Decoupled weight decay on matrices (not biases or norms). (default: \(defaults.weightDecay))")
    var weightDecay: Double?

    @Option(help: "Clip the global gradient norm to this value; 0 disables. (default: \(defaults.clip))")
    var clip: Double?

    @Option(help: "Abort after this many consecutive steps skipped for a non-finite loss or gradient norm. (default: \(defaults.maxSkips))")
    var maxSkips: Int?
}

/// How long, on how many rows of how many tokens, in which order.
struct BatchOptions: SettingsLayer {
    @Option(help: "Optimizer steps to run; overrides --epochs.")
    var steps: Int?

    @Option(help: "Passes over the data (fractions allowed), when --steps is not given. (default: \(defaults.epochs); demo: \(demo("epochs")))")
    var epochs: Double?

    @Option(help: "Sequences (rows) per optimizer step, over all ranks and micro-steps. (default: \(defaults.globalBatch); demo: \(demo("global_batch")))")
    var globalBatch: Int?

    @Option(help: "Sequences per forward pass per rank; the global batch must be a multiple of micro-batch x ranks. (default: \(defaults.microBatch); demo: \(demo("micro_batch")))")
    var microBatch: Int?

    @Option(help: "Tokens per row; longer examples are cut from the right. (default: \(defaults.maxLength); demo: \(demo("max_length")))")
    var maxLength: Int?

    @Flag(inversion: .prefixedNo, help: "Pack several examples into each row (attention stays inside each example). (default: \(defaults.packing); demo: \(demo("packing")))")
    var packing: Bool?

    @Option(help: "Seed of initialisation and data order. (default: \(defaults.seed))")
    var seed: Int?
}

/// Where a run writes and what it prints.
struct OutputOptions: SettingsLayer {
    @Option(help: "Output directory. (default: \(defaults.out); demo: \(demo("out")))")
    var out: String?

    @Option(help: "Steps per printed progress line. (default: \(defaults.logEvery); demo: \(demo("log_every")))")
    var logEvery: Int?

    @Flag(help: "Every rank prints its progress, prefixed by [rank N] (default: rank 0 only).")
    var logAllRanks = false
}

/// How a step runs on the machine: ZeRO-1, recomputation, gradient buckets, precision (threads: `ThreadOptions`).
struct ExecutionOptions: SettingsLayer {

    @Option(help: "1 shards AdamW's moments across ranks (ZeRO-1); 0 is plain data parallelism. (default: \(defaults.zero))")
    var zero: Int?

    @Option(help: ArgumentHelp("What the backward pass recomputes instead of keeping, trading time for memory on long rows: none; selective (keep no [rows, heads, T, T] attention probabilities, recompute them per panel); full (also keep nothing but each layer's input and rerun the layer). (default: \(defaults.recompute))", valueName: "none|selective|full"))
    var recompute: Recompute?

    @Option(help: "Gradient allreduce bucket size in MB, started during the backward pass. (default: \(defaults.bucketMb))")
    var bucketMb: Double?

    @Option(help: ArgumentHelp("What the matrix products compute in: fp32 (bit-reproducible); bf16 (oneDNN, on CPUs with AVX512-BF16 or AMX, an error elsewhere: products of bf16-rounded operands accumulated in fp32, as PyTorch's CPU autocast; attention's products too; master weights, gradients, optimizer state, allreduce, norms, softmax, the loss and DFT's weight stay fp32); auto (bf16 where native, fp32 elsewhere). (default: \(defaults.precision))", valueName: "fp32|bf16|auto"))
    var precision: Precision?
}

/// When checkpoints are written and kept, and where a run continues from.
struct CheckpointOptions: SettingsLayer {
    @Option(help: "Checkpoint every this many steps; 0 saves only at the end and on SIGTERM/SIGUSR1. (default: \(defaults.saveEvery))")
    var saveEvery: Int?

    @Option(help: "Checkpoints to keep (older ones are deleted after a successful save). (default: \(defaults.keepLast))")
    var keepLast: Int?

    @Option(help: "Also keep every checkpoint whose step is a multiple of this; 0 keeps none extra. (default: \(defaults.keepEvery))")
    var keepEvery: Int?

    @Option(help: ArgumentHelp("auto: continue from the newest loadable checkpoint in OUT/checkpoints (a damaged one is reported and the previous used); never: start over; or a checkpoint path. (default: \(defaults.resume))", valueName: "auto|never|PATH"))
    var resume: String?
}

/// Hidden flags that inject failures for the tests.
struct DebugOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Debugging: rank 0 kills itself (SIGKILL) while saving the checkpoint of this step.", visibility: .hidden))
    var debugKillDuringSave: Int?

    @Option(help: ArgumentHelp("Debugging: stop after this step as if rank 0 got SIGUSR1.", visibility: .hidden))
    var debugStopAtStep: Int?

    @Option(help: ArgumentHelp("Debugging: rank 0 writes per-step metrics and the final parameters to this JSON file.", visibility: .hidden))
    var debugDump: String?

    @Option(help: ArgumentHelp("Debugging: this rank fails at --debug-fail-step.", visibility: .hidden))
    var debugFailRank: Int?

    @Option(help: ArgumentHelp("Debugging: step at which --debug-fail-rank fails.", visibility: .hidden))
    var debugFailStep: Int?

    @Option(help: ArgumentHelp("Debugging: this rank stops at --debug-hang-step and never reaches another collective.", visibility: .hidden))
    var debugHangRank: Int?

    @Option(help: ArgumentHelp("Debugging: step at which --debug-hang-rank stops.", visibility: .hidden))
    var debugHangStep: Int?

    @Option(help: ArgumentHelp("Debugging: this rank's loss becomes NaN at --debug-nan-step.", visibility: .hidden))
    var debugNanRank: Int?

    @Option(help: ArgumentHelp("Debugging: step at which --debug-nan-rank's loss is NaN.", visibility: .hidden))
    var debugNanStep: Int?
}
