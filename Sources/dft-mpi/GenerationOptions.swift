import ArgumentParser
import DFTBuiltin
import DFTDecode
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain

/// The options `generate` and `eval` share: the model, how prompts are made, how tokens are
/// sampled and batched. Options whose default differs between the two are optional here and
/// resolved by the command (`settings(...)`), so each is written once.
struct GenerationOptions: ParsableArguments {
    @OptionGroup var model: ModelOptions
    @OptionGroup var threading: ThreadOptions

    @OptionGroup(title: "Prompts") var text: TemplateOptions

    @Option(name: .customLong("prompt-field"), help: "The record field holding the prompt (default: prompt, problem or question).")
    var promptField: String?

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens per completion (default: 1024 for generate, 4096 for eval).")
    var maxNewTokens: Int?

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 1.0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the most likely tokens up to this probability (1 keeps all).")
    var topP: Float = 1.0

    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0 keeps all, as vLLM; transformers defaults to 50).")
    var topK = 0

    @Option(help: "Completions per prompt (default: 1 for generate, 16 for eval: the n of avg@n).")
    var samples: Int?

    @Option(help: "Seed of the sampling streams.")
    var seed: UInt64 = 0

    @Option(name: .customLong("max-batch"), help: "Sequences decoded together per rank (memory: max-batch x context of KV cache).")
    var maxBatch = 16

    @Option(parsing: .singleValue, help: "A string that ends a completion (repeatable; eval adds the harness's stop strings).")
    var stop: [String] = []

    @Flag(name: .customLong("skip-invalid"), help: "Skip records without a usable prompt (or, for eval, gold answer), counted, instead of stopping.")
    var skipInvalid = false

    @Option(name: .customLong("log-every"), help: "Seconds between progress lines in a log (a terminal redraws every second).")
    var logEvery = 10.0

    func validate() throws {
        if let maxNewTokens, maxNewTokens < 1 { throw ValidationError("--max-new-tokens must be at least 1, got \(maxNewTokens)") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be 0 (greedy) or more, got \(temperature)") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
        guard topK >= 0 else { throw ValidationError("--top-k must be 0 (off) or more, got \(topK)") }
        if let samples, samples < 1 { throw ValidationError("--samples must be at least 1, got \(samples)") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1, got \(maxBatch)") }
    }

    /// The settings of a job writing `out` from `data`, with the command's defaults; built-in
    /// names (arith-base, arith-heldout, ...) become their paths.
    func settings(data: String, out: String, template defaultTemplate: TemplateName, maxNewTokens defaultMaxNew: Int,
                  samples defaultSamples: Int, extraStops: [String] = []) -> GenerateSettings {
        var settings = GenerateSettings(model: BuiltinAssets.resolve(model.model), data: BuiltinAssets.resolve(data), out: out)
        settings.adapter = model.adapter
        settings.tokenizer = text.tokenizer ?? ""
        settings.template = (text.template ?? defaultTemplate).rawValue
        settings.systemPrompt = text.systemPrompt
        settings.promptField = promptField
        settings.maxNewTokens = maxNewTokens ?? defaultMaxNew
        settings.sampling = SamplingSettings(temperature: temperature, topP: topP, topK: topK, seed: seed)
        settings.samples = samples ?? defaultSamples
        settings.maxBatch = maxBatch
        settings.stopStrings = extraStops + stop.filter { !extraStops.contains($0) }
        settings.skipInvalid = skipInvalid
        settings.logSeconds = logEvery
        return settings
    }

    /// One line describing the sampling, for the headers.
    func samplingLine(_ settings: GenerateSettings) -> String {
        (temperature == 0 ? "greedy" : "temperature \(temperature), top-p \(topP), top-k \(topK)")
            + ", seed \(seed), up to \(settings.maxNewTokens) new tokens, \(settings.samples) sample\(settings.samples == 1 ? "" : "s")"
            + " per prompt, batch \(maxBatch) per rank"
    }
}
