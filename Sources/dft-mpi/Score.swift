import ArgumentParser
import DFTBuiltin
import DFTCore
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain
import Foundation

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the log-probability of every response token of a data set to HDF5.",
        discussion: """
            FILE.h5 gets a flat float32 dataset `logprobs` and int64 `offsets`: example i's response \
            tokens are logprobs[offsets[i]:offsets[i+1]], in data-set order; the attribute `mean_nll` \
            is their mean -log p. Runs on N ranks (mpirun), each scoring a share. Use it for the target-\
            probability histograms of a model before and after fine-tuning.
            """)

    @OptionGroup var model: ModelOptions

    @Option(help: "A .jsonl file (the formats `train` reads), arith-cot, or embedded.")
    var data: String

    @Option(help: "The HDF5 file to write.")
    var out: String

    @OptionGroup var threading: ThreadOptions
    @OptionGroup(title: "Text records") var template: TemplateOptions
    @OptionGroup(title: "Text records") var records: RecordFieldOptions

    @Option(help: "Tokens per example; longer ones are cut from the right.")
    var maxLength = 2048

    @Option(help: "Examples per forward pass.")
    var microBatch = 4

    @Option(help: "What the products compute in: fp32, bf16 (oneDNN, CPUs with AVX512-BF16 or AMX; an error elsewhere) or auto (bf16 where native).")
    var precision: Precision = .fp32

    func validate() throws {
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2 tokens, got \(maxLength)") }
        guard microBatch >= 1 else { throw ValidationError("--micro-batch must be at least 1, got \(microBatch)") }
    }

    func run() throws {
        var settings = Scorer.Settings(model: BuiltinAssets.resolve(model.model), data: BuiltinAssets.resolve(data))
        var layer = template.layer.merging(records.layer) { _, new in new }
        if template.template == nil && settings.data != data {
            // A built-in set (arith-cot, arith-heldout, ...) is written in the plain template.
            layer["template"] = TemplateName.plain.rawValue
        }
        settings.records = try RecordSettings.resolve(layer)
        settings.adapter = model.adapter
        settings.maxLength = maxLength
        settings.microBatch = microBatch
        settings.precision = precision
        let code = try RankCommand.run(threads: threading.requested, commTimeout: threading.timeout, stopsOnSignal: false) { context in
            let summary = try Scorer(config: settings, communicator: context.communicator).run(outputPath: out)
            context.say(String(format: "scored %d examples, %d response tokens, mean NLL %.4f -> %@%@", summary.examples,
                               summary.tokens, summary.meanNLL, out,
                               summary.truncated > 0 ? " (\(summary.truncated) examples cut at \(maxLength) tokens)" : ""))
            return .finished
        }
        if code != 0 { throw ExitCode(code) }
    }
}
