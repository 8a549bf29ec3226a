import ArgumentParser
import DFTBuiltin
import DFTCore
import DFTDecode
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample completions of the prompts of a JSONL file (KV cache, continuous batching, over MPI).",
        discussion: """
            Prompts: the record shapes `train` reads, prompt part only ({"prompt"}, {"problem"}, \
            {"question"}, {"messages"} up to the last assistant turn), through --template; or \
            pre-tokenized {"input_ids": [...]}, the whole list. OUT gets one JSON line per (record, \
            sample), sorted: index (the record's position in the file), sample, completion (text, \
            when a tokenizer is known), completion_ids, finish_reason (eos | stop | length), tokens, \
            prompt_tokens. Samples depend only on --seed and (index, sample): 1, 2 or 4 ranks write \
            the same file. Finished samples are saved as they end; the same command run again \
            continues where a stopped run ended. Stops: the model's EOS ids (generation_config.json, \
            config.json, the tokenizer's eos_token), --stop strings, --max-new-tokens. \
            --top-k 0 keeps every token (as vLLM; transformers defaults to 50).
            """)

    @OptionGroup var options: GenerationOptions

    @Option(help: "JSONL file of prompts.")
    var data: String

    @Option(help: "The JSONL file to write (and to continue).")
    var out: String

    func run() throws {
        let settings = try options.settings(data: data, out: out, template: .chatml)
        let code = try RankCommand.run(threads: options.threading.requested, commTimeout: options.threading.timeout,
                                       stopsOnSignal: true) { context in
            let communicator = context.communicator
            let compute = try options.computeLine(settings)
            let job = GenerationJob(settings: settings, communicator: communicator)
            let inputs = try job.loadInputs()
            let (samples, stop) = (settings.samples, settings.stop)
            let c = inputs.model.config
            context.say(context.header("generate"))
            context.say("model:  \(BuiltinAssets.abbreviate(inputs.modelDescription)): \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), vocab \(c.vocabSize)")
            context.say("data:   \(data): \(inputs.prompts.prompts.count) prompts"
                + (inputs.prompts.skipped.isEmpty ? "" : " (\(inputs.prompts.skipped.count) records skipped)")
                + " x \(samples) sample\(samples == 1 ? "" : "s"), template \(settings.template)")
            context.say("sample: " + options.samplingLine(settings) + "; stop at EOS ids "
                + inputs.stop.endOfSequence.sorted().map(String.init).joined(separator: ",")
                + (stop.isEmpty ? "" : " or \(stop.map { "\"\($0)\"" }.joined(separator: ", "))"))
            context.say("compute: " + compute)
            for skip in inputs.prompts.skipped.prefix(5) { context.say("skipped: \(skip)") }
            let progress = communicator.isRoot ? GenerationProgress(interval: settings.logEvery) : nil
            let summary = try job.run(inputs, progress: progress)
            let reasons = summary.finishReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            context.say(String(format: "done: %d samples in %@ (%d new, %d tokens, %.0f tok/s)%@ -> %@", summary.generations,
                               DurationText.of(summary.seconds), summary.newlyGenerated, summary.tokens,
                               summary.seconds > 0 ? Double(summary.tokens) / summary.seconds : 0,
                               reasons.isEmpty || communicator.size > 1 ? "" : "; finish: \(reasons)", out))
            if summary.stopped {
                context.say("stopped by \(StopSignal.name(StopSignal.received)) before the end: the finished samples are in "
                    + "\(out); run the same command to continue (exit 75)")
            }
            return summary.stopped ? .stopped : .finished
        }
        if code != 0 { throw ExitCode(code) }
    }
}
