import ArgumentParser
import DFTBuiltin
import DFTJobs
import DFTRuntime
import DFTTrain
import Foundation

private let defaults = OfflineRLSettings()

/// The settings `offline-rl` adds to training's: the base, the problems, the rounds, the
/// sampling of the answers and which correct ones are kept (`OfflineRLSettings`).
struct OfflineRLOptions: SettingsLayer {
    @Option(help: ArgumentHelp("The base model: a Hugging Face directory, a dft-mpi checkpoint (.h5), or arith-base / arith-base-half (the built-in bases). (default: \(TrainConfig().model))", valueName: "dir|ckpt.h5"))
    var model: String?

    @Option(help: ArgumentHelp("Problems with gold answers, JSONL in any shape `eval` reads (answer, final_answer, GSM8K's ####, or the last \\boxed{} of solution), or arith-cot (the built-in base's 4000 problems). (default: \(defaults.problems))", valueName: "FILE"))
    var problems: String?

    @Option(help: "Rounds of sample -> verify -> train -> evaluate; round r + 1 samples from round r's model. (default: \(defaults.rounds))")
    var rounds: Int?

    @Option(help: "Answers sampled per problem in each round. (default: \(defaults.samples))")
    var samples: Int?

    @Option(help: ArgumentHelp("Which correct answers are trained on: all, one-per-problem, or max-per-problem (--max-per-problem of them); each distinct answer once, none cut at --max-new-tokens. (default: \(defaults.keep))", valueName: "all|one-per-problem|max-per-problem"))
    var keep: KeepPolicy?

    @Option(help: "The most answers kept per problem with --keep max-per-problem. (default: \(defaults.maxPerProblem))")
    var maxPerProblem: Int?

    @Option(help: ArgumentHelp("What rounds after the first train from: last (the previous round's model: expert iteration) or base (the base again, on the new answers: ReST-EM). (default: \(defaults.trainFrom))", valueName: "last|base"))
    var trainFrom: RoundStart?

    @Option(help: "The problems' field holding the gold answer (default: detected as eval does).")
    var answerField: String?

    @Option(help: "Sampling temperature of the answers. (default: \(defaults.temperature))")
    var temperature: Double?

    @Option(help: "Nucleus sampling of the answers (1 keeps all). (default: \(defaults.topP))")
    var topP: Double?

    @Option(help: "Keep the k most likely tokens when sampling the answers (0 keeps all). (default: \(defaults.topK))")
    var topK: Int?

    @Option(help: "Most tokens per answer. (default: \(defaults.maxNewTokens); built-in problems: \(OfflineRLSettings.builtinSettings["max_new_tokens"]!))")
    var maxNewTokens: Int?

    @Option(help: "Sequences decoded together per rank, when sampling and evaluating. (default: \(defaults.maxBatch))")
    var maxBatch: Int?
}

struct OfflineRL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offline-rl",
        abstract: "The DFT paper's offline RL: sample answers, keep the verified ones, train on them, evaluate; in rounds, over MPI, resumable.",
        discussion: """
            Each round samples --samples answers to every problem from the current model \
            (temperature 1 by default), grades them against the problems' gold answers as `eval` \
            does, keeps the correct ones (--keep), trains on them with --objective (dft by \
            default: DFT on verified answers is the paper's offline RL; --objective sft is RFT) \
            and evaluates the trained model on --eval-data (avg@--eval-generate, 16 by default). \
            Round r + 1 samples from round r's model. The base is evaluated first, as round 0. \
            DIR (--out) holds per round: generations.jsonl, samples.jsonl (every answer and its \
            verdict), kept.jsonl (the training set), stats.json, train/ (a training run: \
            config.yaml, metrics.h5, checkpoints/), eval/; and summary.md, summary.json (a row \
            per round). Training settings are train's flags and YAML keys (--config; the file \
            may also hold this command's keys: rounds, samples, keep, ...). The same command \
            run again continues from the stage it stopped in, on any number of ranks. With the \
            built-in problems (arith-cot) the demo's settings apply (docs/OFFLINE_RL.md).
            """)

    @Option(help: "YAML file of settings: train's keys and this command's (snake_case, e.g. `samples: 8`).")
    var config: String?

    @OptionGroup(title: "Offline RL") var offline: OfflineRLOptions
    @OptionGroup(title: "Evaluation of each round") var evaluation: EvaluationOptions
    @OptionGroup(title: "Text records") var template: TemplateOptions
    @OptionGroup(title: "Text records") var records: RecordFieldOptions
    @OptionGroup(title: "Objective") var objective: ObjectiveOptions
    @OptionGroup(title: "LoRA") var lora: AdapterOptions
    @OptionGroup(title: "Optimizer") var optimizer: OptimizerOptions
    @OptionGroup(title: "Steps and batches") var batching: BatchOptions
    @OptionGroup(title: "Output") var output: OutputOptions
    @OptionGroup(title: "Execution") var threads: ThreadOptions
    @OptionGroup(title: "Execution") var execution: ExecutionOptions
    @OptionGroup(title: "Checkpoints") var checkpoints: CheckpointOptions

    /// The command's own defaults, under the YAML file and the flags.
    static var commandDefaults: [String: Any] { ["out": "runs/offline-rl", "objective": "dft"] }

    /// Training's settings and this command's, from the defaults, the YAML file and the flags.
    func resolve() throws -> (TrainConfig, OfflineRLSettings) {
        var merged = Self.commandDefaults
        if let config {
            merged.merge(try TrainConfig.layer(fromYAMLFile: config, extraKeys: OfflineRLSettings.keys)) { _, new in new }
        }
        merged.merge(Train.flagLayer([offline, evaluation, template, records, objective, lora, optimizer, batching, output,
                                      threads, execution, checkpoints], batching: batching)) { _, new in new }

        let own = Set(OfflineRLSettings.keys)
        var offlineLayer = merged.filter { own.contains($0.key) }
        var trainLayer = merged.filter { !own.contains($0.key) }
        let problems = offlineLayer["problems"] as? String ?? OfflineRLSettings().problems
        // Training reads the problems' demo settings when they are the built-in ones.
        trainLayer["data"] = problems
        if problems == BuiltinAssets.demonstrations {
            offlineLayer = OfflineRLSettings.builtinSettings.merging(offlineLayer) { _, user in user }
        }
        let source = config.map { "config '\($0)' and flags" } ?? "flags"
        var settings: OfflineRLSettings
        do {
            settings = try OfflineRLSettings.resolve(offlineLayer)
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        settings.problems = BuiltinAssets.resolve(settings.problems)
        guard FileManager.default.fileExists(atPath: settings.problems) else {
            throw ConfigError("'problems' (--problems): no such file '\(settings.problems)'")
        }
        return (try TrainConfig.resolve(layers: [trainLayer], source: source), settings)
    }

    func run() throws {
        let (config, settings) = try resolve()
        let code = try RankCommand.run(threads: config.threads, commTimeout: config.commTimeout, stopsOnSignal: true) { context in
            func say(_ text: String) { context.say(BuiltinAssets.abbreviate(text)) }
            say(context.header("offline-rl"))
            say("problems: \(settings.problems) | \(settings.rounds) round\(settings.rounds == 1 ? "" : "s") of "
                + "\(settings.samples) answer\(settings.samples == 1 ? "" : "s") per problem at temperature "
                + "\(settings.temperature), up to \(settings.maxNewTokens) tokens | keep \(settings.keep)"
                + (settings.keep == .maxPerProblem ? " \(settings.maxPerProblem)" : "")
                + " | rounds after the first train from the \(settings.trainFrom == .last ? "previous round's model" : "base")")
            say("train:    \(config.objective) from \(config.model) | template \(config.template) | lr \(config.lr), "
                + (config.steps > 0 ? "\(config.steps) steps" : "\(config.epochs) epoch\(config.epochs == 1 ? "" : "s")")
                + " of the kept answers per round, global batch \(config.globalBatch)")
            let evalFiles = config.evalData.split(separator: ",")
            say("eval:     " + (evalFiles.isEmpty ? "none (--eval-data)"
                : "\(evalFiles.joined(separator: ", ")) | avg@\(config.evalGenerate > 0 ? config.evalGenerate : OfflineRLJob.defaultEvalSamples) "
                    + "at temperature \(config.evalTemperature), up to \(config.evalMaxNewTokens) tokens"))
            say("output:   \(config.out)/round-N/, summary.md, summary.json, config.yaml")
            let job = OfflineRLJob(config: config, settings: settings, stops: Eval.harnessStops, context: context, say: say)
            let outcome = try job.run()
            if outcome == .stopped {
                say("stopped by \(StopSignal.name(StopSignal.received)): finished work is saved; run the same command to continue (exit 75)")
            }
            return outcome
        }
        if code != 0 { throw ExitCode(code) }
    }
}

extension KeepPolicy: ExpressibleByArgument {}
extension RoundStart: ExpressibleByArgument {}
