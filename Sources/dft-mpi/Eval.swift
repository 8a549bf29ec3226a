import ArgumentParser
import DFTCore
import DFTDecode
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

    @Option(help: "A Hugging Face model directory, a dft-mpi checkpoint (.h5), a config.json or a preset.")
    var model: String

    @Option(help: "Benchmark JSONL files, comma-separated.")
    var data: String

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) merged into the model.")
    var adapter = ""

    @Option(help: "Tokenizer directory or tokenizer.json (default: the model directory's).")
    var tokenizer = ""

    @Option(help: ArgumentHelp("Prompt template: qwen-boxed (the Qwen2.5-Math evaluation prompt, the paper's), chatml, llama3, plain or qwen-math-boxed.", valueName: "name"))
    var template = "qwen-boxed"

    @Option(name: .customLong("system-prompt"), help: "System message (replaces the template's default).")
    var systemPrompt: String?

    @Option(name: .customLong("prompt-field"), help: "The record field holding the problem (default: prompt, problem or question).")
    var promptField: String?

    @Option(name: .customLong("answer-field"), help: "The record field holding the gold answer (default: detected per file).")
    var answerField: String?

    @Option(help: "Completions per problem (n of avg@n).")
    var samples = 16

    @Option(help: "0 is greedy.")
    var temperature: Float = 1.0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling (1 keeps all).")
    var topP: Float = 1.0

    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0 keeps all).")
    var topK = 0

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens per completion.")
    var maxNewTokens = 4096

    @Option(help: "Seed of the sampling streams.")
    var seed: UInt64 = 0

    @Option(name: .customLong("max-batch"), help: "Sequences decoded together per rank.")
    var maxBatch = 16

    @Option(parsing: .singleValue, help: "A string that ends a completion (repeatable; the model's EOS ids always do).")
    var stop: [String] = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>"]

    @Flag(name: .customLong("skip-invalid"), help: "Skip records without a prompt or a gold answer (counted) instead of stopping.")
    var skipInvalid = false

    @Option(help: "OpenBLAS threads per rank (0: cores / ranks on the node).")
    var threads = 0

    @Option(name: .customLong("log-every"), help: "Seconds between progress lines in a log.")
    var logEvery = 10.0

    func run() throws {
        let files = data.split(separator: ",").map(String.init).filter { !$0.isEmpty }
        guard !files.isEmpty else { throw ValidationError("--data names no file") }
        var settings = GenerateSettings(model: model, data: files[0], out: "")
        settings.tokenizer = tokenizer
        settings.adapter = adapter
        settings.template = template
        settings.systemPrompt = systemPrompt
        settings.promptField = promptField
        settings.maxNewTokens = maxNewTokens
        settings.sampling = SamplingSettings(temperature: temperature, topP: topP, topK: topK, seed: seed)
        settings.samples = samples
        settings.maxBatch = maxBatch
        settings.skipInvalid = skipInvalid
        settings.logSeconds = logEvery
        let communicator = try Communicators.make()
        StopSignal.install()
        let policy = ThreadPolicy.forThisProcess(requested: threads, ranksOnNode: communicator.localSize)
        Parallel.configure(threads: policy.threads)
        func say(_ text: String) { if communicator.isRoot { FileHandleOutput.standardOutput.write(text + "\n") } }
        do {
            // The harness's stop strings need a tokenizer; without one (pre-tokenized
            // problems) only the EOS ids stop.
            settings.stopStrings = stop
            settings.stopStringsNeedTokenizer = false
            let loaded = try GenerationJob(settings: settings, communicator: communicator).loadModel()
            say("dft-mpi \(DFTVersionInfo.version) eval | \(communicator.size) rank\(communicator.size == 1 ? "" : "s") x "
                + "\(policy.threads) thread\(policy.threads == 1 ? "" : "s") | OpenBLAS \(MachineDescription.openBLAS)")
            say("model:  \(loaded.description) | template \(template) | \(samples) samples, "
                + (temperature == 0 ? "greedy" : "temperature \(temperature), top-p \(topP), top-k \(topK)")
                + ", up to \(maxNewTokens) new tokens, seed \(seed)")
            let job = EvalJob(generate: settings, files: files, directory: out, answerField: answerField, communicator: communicator)
            let report = try job.run(progressInterval: logEvery, loaded: loaded) { file, problems, skipped in
                say("eval \(file): \(problems) problems" + (skipped > 0 ? " (\(skipped) records skipped)" : ""))
            }
            if communicator.isRoot && !report.stopped {
                say(EvalTable.render(report))
                let total = report.files.reduce(0) { $0 + $1.scores.problems * $1.scores.samples }
                say("done: \(total) samples graded -> \(out)/summary.json, \(out)/samples.jsonl")
            }
            communicator.finalize()
            if report.stopped {
                say("stopped by \(StopSignal.name(StopSignal.received)): the finished samples are saved; run the same command to continue (exit 75)")
                throw ExitCode(TrainingSession.stoppedEarlyExitCode)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            if communicator.size > 1 { communicator.abort(message: "\(error)", code: 1) }
            throw error
        }
    }
}
