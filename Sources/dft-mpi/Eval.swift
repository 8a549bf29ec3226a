import ArgumentParser
import DFTBuiltin
import DFTCore
import DFTDecode
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain
import Foundation

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate and grade: the DFT paper's avg@n accuracy on benchmark files, over MPI, resumable.",
        discussion: """
            Each file's problems are generated --samples times (as `generate` does, through the \
            Qwen2.5-Math evaluation prompt by default) and every completion's final answer (the last \
            \\boxed{}, else "the answer is", else the last number) is compared with the gold answer \
            by the harness's math_equal rules (docs/EVALUATION.md). The gold answer is `answer` \
            (MATH500, AIME24, AMC23), `final_answer` (OlympiadBench), the text after #### of GSM8K's \
            `answer`, or the last \\boxed{} of `solution` (Minerva Math): detected per file, or \
            --answer-field. DIR gets generations/NAME.jsonl (resumable), samples.jsonl and \
            summary.json: per file and averaged, avg@n (mean accuracy of the n sample columns), \
            pass@n, maj@n, each column's accuracy, mean completion tokens, the share that hit the \
            length limit, tokens/s. The same command run again continues a stopped evaluation.
            """)

    @OptionGroup var options: GenerationOptions

    @Option(help: "Benchmark JSONL files, comma-separated (arith-heldout and arith-heldout-hard are the built-in base model's).")
    var data: String

    @Option(help: "Output directory.")
    var out: String

    @Option(name: .customLong("answer-field"), help: "The record field holding the gold answer (default: detected per file).")
    var answerField: String?

    /// The Qwen2.5-Math harness's stop strings, besides the model's EOS ids.
    static let harnessStops = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>"]

    func run() throws {
        let files = data.split(separator: ",").map { BuiltinAssets.resolve(String($0)) }.filter { !$0.isEmpty }
        guard !files.isEmpty else { throw ValidationError("--data names no file") }
        var settings = try options.settings(data: files[0], out: "", template: .qwenBoxed,
                                            commandDefaults: ["max_new_tokens": 4096, "samples": 16],
                                            extraStops: Self.harnessStops)
        // The harness's stop strings need a tokenizer; without one (pre-tokenized problems)
        // only the EOS ids stop.
        settings.stopStringsNeedTokenizer = false
        let code = try RankCommand.run(threads: options.threading.requested, commTimeout: options.threading.timeout,
                                       stopsOnSignal: true) { context in
            func say(_ text: String) { context.say(BuiltinAssets.abbreviate(text)) }
            let compute = try options.computeLine(settings)
            let loaded = try GenerationJob(settings: settings, communicator: context.communicator).loadModel()
            say(context.header("eval"))
            say("model:  \(loaded.description) | template \(settings.template)")
            say("sample: " + options.samplingLine(settings))
            say("compute: " + compute)
            let job = EvalJob(generate: settings, files: files, directory: out, answerField: answerField,
                              communicator: context.communicator)
            let report = try job.run(progressInterval: settings.logEvery, loaded: loaded) { file, problems, skipped in
                say("eval \(file): \(problems) problems" + (skipped > 0 ? " (\(skipped) records skipped)" : ""))
            }
            if report.stopped {
                say("stopped by \(StopSignal.name(StopSignal.received)): the finished samples are saved; run the same command to continue (exit 75)")
                return .stopped
            }
            say(EvalTable.render(report))
            let total = report.files.reduce(0) { $0 + $1.scores.problems * $1.scores.samples }
            say("done: \(total) samples graded -> \(out)/summary.json, \(out)/samples.jsonl")
            return .finished
        }
        if code != 0 { throw ExitCode(code) }
    }
}
