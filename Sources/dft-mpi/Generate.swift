import ArgumentParser
import DFTCore
import DFTDecode
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

    @Option(help: "A Hugging Face model directory, a dft-mpi checkpoint (.h5), a config.json or a preset.")
    var model: String

    @Option(help: "JSONL file of prompts.")
    var data: String

    @Option(help: "The JSONL file to write (and to continue).")
    var out: String

    @Option(help: "A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) merged into the model.")
    var adapter = ""

    @Option(help: "Tokenizer directory or tokenizer.json (default: the model directory's).")
    var tokenizer = ""

    @Option(help: ArgumentHelp("Chat template for text prompts: chatml, llama3, plain, qwen-math-boxed, or qwen-boxed (the Qwen2.5-Math evaluation prompt).", valueName: "name"))
    var template = "chatml"

    @Option(name: .customLong("system-prompt"), help: "System message (replaces the template's default).")
    var systemPrompt: String?

    @Option(name: .customLong("prompt-field"), help: "The record field holding the prompt (default: prompt, problem or question).")
    var promptField: String?

    @Option(name: .customLong("max-new-tokens"), help: "Most tokens per completion.")
    var maxNewTokens = 1024

    @Option(help: "0 is greedy.")
    var temperature: Float = 1.0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the most likely tokens up to this probability (1 keeps all).")
    var topP: Float = 1.0

    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0 keeps all).")
    var topK = 0

    @Option(help: "Completions per prompt.")
    var samples = 1

    @Option(help: "Seed of the sampling streams.")
    var seed: UInt64 = 0

    @Option(name: .customLong("max-batch"), help: "Sequences decoded together per rank (memory: max-batch x context of KV cache).")
    var maxBatch = 16

    @Option(parsing: .singleValue, help: "A string that ends a completion (repeatable).")
    var stop: [String] = []

    @Flag(name: .customLong("skip-invalid"), help: "Skip records without a usable prompt (counted) instead of stopping.")
    var skipInvalid = false

    @Option(help: "OpenBLAS threads per rank (0: cores / ranks on the node).")
    var threads = 0

    @Option(name: .customLong("log-every"), help: "Seconds between progress lines in a log (a terminal redraws every second).")
    var logEvery = 10.0

    func validate() throws {
        guard maxNewTokens >= 1 else { throw ValidationError("--max-new-tokens must be at least 1, got \(maxNewTokens)") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be 0 (greedy) or more, got \(temperature)") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
        guard topK >= 0 else { throw ValidationError("--top-k must be 0 (off) or more, got \(topK)") }
        guard samples >= 1 else { throw ValidationError("--samples must be at least 1, got \(samples)") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be at least 1, got \(maxBatch)") }
    }

    func run() throws {
        var settings = GenerateSettings(model: model, data: data, out: out)
        settings.tokenizer = tokenizer
        settings.adapter = adapter
        settings.template = template
        settings.systemPrompt = systemPrompt
        settings.promptField = promptField
        settings.maxNewTokens = maxNewTokens
        settings.sampling = SamplingSettings(temperature: temperature, topP: topP, topK: topK, seed: seed)
        settings.samples = samples
        settings.maxBatch = maxBatch
        settings.stopStrings = stop
        settings.skipInvalid = skipInvalid
        settings.logSeconds = logEvery
        let communicator = try Communicators.make()
        StopSignal.install()
        let policy = ThreadPolicy.forThisProcess(requested: threads, ranksOnNode: communicator.localSize)
        Parallel.configure(threads: policy.threads)
        do {
            let job = GenerationJob(settings: settings, communicator: communicator)
            let inputs = try job.loadInputs()
            if communicator.isRoot {
                let c = inputs.model.config
                // Unbuffered, like the progress lines that follow.
                func print(_ text: String) { FileHandleOutput.standardOutput.write(text + "\n") }
                print("dft-mpi \(DFTVersionInfo.version) generate | \(communicator.size) rank\(communicator.size == 1 ? "" : "s") x "
                    + "\(policy.threads) thread\(policy.threads == 1 ? "" : "s") | OpenBLAS \(MachineDescription.openBLAS)")
                print("model:  \(inputs.modelDescription): \(c.numHiddenLayers) layers, hidden \(c.hiddenSize), vocab \(c.vocabSize)")
                print("data:   \(data): \(inputs.prompts.prompts.count) prompts"
                    + (inputs.prompts.skipped.isEmpty ? "" : " (\(inputs.prompts.skipped.count) records skipped)")
                    + " x \(samples) sample\(samples == 1 ? "" : "s"), template \(template)")
                print("sample: " + (temperature == 0 ? "greedy" : "temperature \(temperature), top-p \(topP), top-k \(topK)")
                    + ", seed \(seed), up to \(maxNewTokens) new tokens, stop at EOS ids "
                    + inputs.stop.endOfSequence.sorted().map(String.init).joined(separator: ",")
                    + (stop.isEmpty ? "" : " or \(stop.map { "\"\($0)\"" }.joined(separator: ", "))")
                    + " | batch \(maxBatch) per rank")
                for skip in inputs.prompts.skipped.prefix(5) { print("skipped: \(skip)") }
            }
            let progress = communicator.isRoot ? GenerationProgress(interval: logEvery) : nil
            let summary = try job.run(inputs, progress: progress)
            if communicator.isRoot {
                func print(_ text: String) { FileHandleOutput.standardOutput.write(text + "\n") }
                let reasons = summary.finishReasons.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print(String(format: "done: %d samples in %@ (%d new, %d tokens, %.0f tok/s)%@ -> %@", summary.generations,
                             ProgressReporter.duration(summary.seconds), summary.newlyGenerated, summary.tokens,
                             summary.seconds > 0 ? Double(summary.tokens) / summary.seconds : 0,
                             reasons.isEmpty || communicator.size > 1 ? "" : "; finish: \(reasons)", out))
                if summary.stopped {
                    print("stopped by \(StopSignal.name(StopSignal.received)) before the end: the finished samples are in "
                        + "\(out); run the same command to continue (exit 75)")
                }
            }
            communicator.finalize()
            if summary.stopped { throw ExitCode(TrainingSession.stoppedEarlyExitCode) }
        } catch {
            if communicator.size > 1 { communicator.abort(message: "\(error)", code: 1) }
            throw error
        }
    }
}
