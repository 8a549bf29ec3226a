import ArgumentParser
import DFTBuiltin
import DFTCore
import DFTDecode
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain

private let defaults = GenerationSettings()

/// The options `generate` and `eval` share: the model, how prompts are made, how tokens are
/// sampled and batched. The sampling options are `GenerationSettings`' (named once there and
/// once here); where the two commands' defaults differ, the command gives its own as a layer
/// under the flags (`settings(...)`).
struct GenerationOptions: SettingsLayer {
    @OptionGroup var model: ModelOptions
    @OptionGroup var threading: ThreadOptions

    @OptionGroup(title: "Prompts") var text: TemplateOptions

    @Option(help: "The record field holding the prompt (default: prompt, problem or question).")
    var promptField: String?

    @Option(help: "Most tokens per completion (default: 1024 for generate, 4096 for eval).")
    var maxNewTokens: Int?

    @Option(help: "Sampling temperature; 0 is greedy. (default: \(defaults.temperature))")
    var temperature: Double?

    @Option(help: "Nucleus sampling: keep the most likely tokens up to this probability (1 keeps all). (default: \(defaults.topP))")
    var topP: Double?

    @Option(help: "Keep the k most likely tokens (0 keeps all, as vLLM; transformers defaults to 50). (default: \(defaults.topK))")
    var topK: Int?

    @Option(help: "Completions per prompt (default: 1 for generate, 16 for eval: the n of avg@n).")
    var samples: Int?

    @Option(help: "Seed of the sampling streams. (default: \(defaults.seed))")
    var seed: Int?

    @Option(help: "Sequences decoded together per rank (memory: max-batch x context of KV cache). (default: \(defaults.maxBatch))")
    var maxBatch: Int?

    @Option(parsing: .singleValue, help: "A string that ends a completion (repeatable; eval adds the harness's stop strings).")
    var stop: [String] = []

    @Flag(help: "Skip records without a usable prompt (or, for eval, gold answer), counted, instead of stopping.")
    var skipInvalid = false

    @Option(help: "Seconds between progress lines in a log (a terminal redraws every second). (default: \(defaults.logEvery))")
    var logEvery: Double?

    @Option(help: "What the products compute in: fp32, bf16 (oneDNN, on CPUs with AVX512-BF16 or AMX; an error elsewhere) or auto (bf16 where native, fp32 elsewhere). Norms, attention, softmax and sampling stay fp32. (default: \(defaults.precision))")
    var precision: Precision?

    /// A flag out of range is a usage error, reported before anything starts.
    func validate() throws {
        do {
            _ = try GenerationSettings.resolve(layer)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The settings of a job writing `out` from `data`: the command's defaults (`commandDefaults`,
    /// YAML keys) under the flags, the command's stop strings before the user's; built-in names
    /// (arith-base, arith-heldout, ...) become their paths.
    func settings(data: String, out: String, template defaultTemplate: TemplateName, commandDefaults: [String: Any] = [:],
                  extraStops: [String] = []) throws -> GenerateSettings {
        var settings = GenerateSettings(model: BuiltinAssets.resolve(model.model), data: BuiltinAssets.resolve(data), out: out)
        settings.adapter = model.adapter
        settings.tokenizer = text.tokenizer ?? ""
        settings.template = (text.template ?? defaultTemplate).rawValue
        settings.systemPrompt = text.systemPrompt
        settings.generation = try GenerationSettings.resolve(commandDefaults.merging(layer) { _, flag in flag })
        settings.stop = extraStops + stop.filter { !extraStops.contains($0) }
        return settings
    }

    /// One line describing the sampling, for the headers.
    func samplingLine(_ settings: GenerateSettings) -> String {
        let s = settings.generation
        return (s.temperature == 0 ? "greedy" : "temperature \(s.temperature), top-p \(s.topP), top-k \(s.topK)")
            + ", seed \(s.seed), up to \(s.maxNewTokens) new tokens, \(s.samples) sample\(s.samples == 1 ? "" : "s")"
            + " per prompt, batch \(s.maxBatch) per rank"
    }

    /// One line naming what the products compute in, for the headers; throws where bf16 was
    /// asked for on a CPU without it.
    func computeLine(_ settings: GenerateSettings) throws -> String {
        let weights = try settings.decodeWeights()
        return "\(weights)" + (settings.precision == .auto ? " (chosen by --precision auto)" : "")
    }
}
