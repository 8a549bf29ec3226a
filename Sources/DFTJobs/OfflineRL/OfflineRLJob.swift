import DFTData
import DFTGeneration
import DFTRuntime
import DFTTrain
import Foundation

/// `dft-mpi offline-rl`: the paper's offline RL setting as one command. Each round samples
/// `samples` answers per problem from the current model (`generate`'s job: split over the
/// ranks, resumable), grades them against the problems' gold answers (`eval`'s grader), keeps
/// the correct ones (`RoundGrading`), trains on them with the configured objective (a whole
/// `train` run, resumable) and evaluates the result (`eval`'s job); round r + 1 samples from
/// round r's model. Before round 1 the base is evaluated as round 0.
///
/// Every stage leaves files in DIR/round-N/ (`RoundFiles`) and is skipped when its last file
/// exists, so the same command run again, on any number of ranks, goes on from the stage it
/// stopped in, mid-generation and mid-training included. Decisions (is a stage done? was
/// anything kept?) are rank 0's, shared with the others.
public struct OfflineRLJob {
    /// The training settings: `model` is the base, `data` and `out` are replaced per round.
    public let config: TrainConfig
    public let settings: OfflineRLSettings
    /// DIR: `config.out`.
    public var directory: String { config.out }
    /// Strings that end an answer besides the model's EOS ids (eval's harness stops).
    public let stops: [String]
    public let context: RankContext
    /// Prints a line on rank 0 (the CLI names built-in assets instead of their paths).
    let say: (String) -> Void
    var communicator: any Communicator { context.communicator }

    public init(config: TrainConfig, settings: OfflineRLSettings, stops: [String], context: RankContext,
                say: ((String) -> Void)? = nil) {
        self.config = config
        self.settings = settings
        self.stops = stops
        self.context = context
        self.say = say ?? context.say
    }

    /// Seconds between progress lines of the sampling and evaluation stages.
    static let progressInterval = 10.0
    /// Answers per evaluation problem when `eval_generate` is 0.
    public static let defaultEvalSamples = 16

    public var evalFiles: [String] { config.evalData.split(separator: ",").map(String.init) }
    public var evalSamples: Int { config.evalGenerate > 0 ? config.evalGenerate : Self.defaultEvalSamples }

    /// Rank 0's value of `value`, on every rank.
    func shared(_ value: Int) -> Int { communicator.allreduceSum(communicator.isRoot ? value : 0) }
    func shared(_ flag: Bool) -> Bool { shared(flag ? 1 : 0) != 0 }

    public func run() throws -> RankCommand.Outcome {
        let tokenizer = try tokenizerSource()
        if communicator.isRoot {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try RoundFiles.write(try configYAML(), to: (directory as NSString).appendingPathComponent("config.yaml"))
        }
        communicator.barrier()
        let summary = OfflineRLSummary(directory: directory, rounds: settings.rounds)

        if !evalFiles.isEmpty {
            let base = RoundFiles(root: directory, round: 0)
            if !shared(RoundFiles.exists(base.evalSummary)) {
                say("round 0: evaluating the base \(config.model)")
                if try !evaluate(model: config.model, tokenizer: tokenizer, into: base) { return .stopped }
            }
        }
        for round in 1...settings.rounds {
            let files = RoundFiles(root: directory, round: round)
            let previous = RoundFiles(root: directory, round: round - 1)
            let current = round == 1 ? config.model : try previous.finalCheckpoint()
            say("round \(round)/\(settings.rounds): model \(current)")

            // Sample and grade.
            if !shared(RoundFiles.exists(files.kept)) {
                guard let problems = try sample(model: current, tokenizer: tokenizer, round: round, files: files) else {
                    return .stopped
                }
                if communicator.isRoot { try grade(problems, model: current, round: round, files: files) }
                communicator.barrier()
            }
            let stats = try OfflineRLSummary.stats(files.stats)
            say(OfflineRLSummary.statsLine(stats))
            if shared(stats.kept) == 0 {
                throw OfflineRLError("round \(round) kept no answer: \(stats.correct) of \(stats.samples) answers were graded "
                    + "correct (\(stats.correctButCut) of them cut at max_new_tokens \(settings.maxNewTokens)), so there is "
                    + "nothing to train on. Sample more answers (--samples), at another temperature (--temperature), with "
                    + "room to finish (--max-new-tokens), or check the gold answers (--answer-field); \(files.graded) "
                    + "holds every answer and its verdict", collective: true)
            }

            // Train.
            if !shared(RoundFiles.exists(files.trained)) {
                let start = round == 1 || settings.trainFrom == .base ? config.model : current
                let run = try trainingConfig(round: round, start: start, tokenizer: tokenizer, files: files)
                say("round \(round): training \(config.objective) on \(stats.kept) kept answers from \(start)")
                let session = TrainingSession(config: run, communicator: communicator)
                guard try session.train(policy: context.threads) else { return .stopped }
                if communicator.isRoot {
                    let store = CheckpointStore(outputDirectory: run.out, keepLast: run.keepLast, keepEvery: run.keepEvery)
                    guard let last = store.checkpoints().last else {
                        throw OfflineRLError("round \(round): the training run left no checkpoint in \(store.directory)")
                    }
                    try RoundFiles.write(try RoundGrading.json(["checkpoint": last.path, "step": last.step]) + "\n",
                                         to: files.trained)
                }
                communicator.barrier()
            }

            // Evaluate.
            if !evalFiles.isEmpty && !shared(RoundFiles.exists(files.evalSummary)) {
                say("round \(round): evaluating \(try files.finalCheckpoint())")
                if try !evaluate(model: try files.finalCheckpoint(), tokenizer: tokenizer, into: files) { return .stopped }
            }
            if communicator.isRoot { try summary.write() }
        }
        if communicator.isRoot {
            try summary.write()
            say(try summary.table())
            say("done: \(settings.rounds) round\(settings.rounds == 1 ? "" : "s") -> \(summary.markdownPath), \(summary.jsonPath)")
        }
        return .finished
    }

    /// The tokenizer every stage reads text with: the configured one, else the base model
    /// directory's (or, for a checkpoint, its run's). Answers are graded as text, so there
    /// must be one.
    func tokenizerSource() throws -> String {
        if let source = ModelSources.tokenizer(config.tokenizer, model: config.model) { return source }
        throw OfflineRLError("offline-rl grades the answers' text, so it needs a tokenizer: '\(config.model)' has no "
            + "tokenizer.json; pass --tokenizer", collective: true)
    }

    /// The settings of a generation from `model` of `data` into `out`.
    func generation(model: String, data: String, out: String, tokenizer: String, template: String) -> GenerateSettings {
        var g = GenerateSettings(model: model, data: data, out: out)
        g.tokenizer = tokenizer
        g.template = template
        g.systemPrompt = config.systemPrompt.isEmpty ? nil : config.systemPrompt
        g.generation.promptField = config.promptField
        g.generation.skipInvalid = config.skipInvalid
        g.generation.precision = config.precision
        g.generation.logEvery = Self.progressInterval
        g.stop = stops
        g.stopStringsNeedTokenizer = false
        return g
    }

    /// Samples the round's answers into `files.generations`; returns the problems, or nil
    /// when a stop signal ended the stage (its finished answers saved).
    func sample(model: String, tokenizer: String, round: Int, files: RoundFiles) throws -> GradedProblems? {
        var g = generation(model: model, data: settings.problems, out: files.generations, tokenizer: tokenizer,
                           template: config.template.rawValue)
        g.generation.samples = settings.samples
        g.generation.temperature = settings.temperature
        g.generation.topP = settings.topP
        g.generation.topK = settings.topK
        g.generation.maxNewTokens = settings.maxNewTokens
        g.generation.maxBatch = settings.maxBatch
        // Another stream per round, and per seed of the run.
        g.generation.seed = config.seed &* 1000 &+ round
        if communicator.isRoot { try FileManager.default.createDirectory(atPath: files.directory, withIntermediateDirectories: true) }
        communicator.barrier()
        let job = GenerationJob(settings: g, communicator: communicator)
        let loaded = try job.loadModel()
        let all = try job.loadPrompts(settings.problems, for: loaded)
        let problems = try GradedProblems(all, field: settings.answerField.isEmpty ? nil : settings.answerField,
                                          skipInvalid: config.skipInvalid, hint: "name it with --answer-field")
        say("round \(round): sampling \(settings.samples) answer\(settings.samples == 1 ? "" : "s") to each of "
            + "\(problems.prompts.prompts.count) problems at temperature \(settings.temperature)"
            + (problems.prompts.skipped.isEmpty ? "" : " (\(problems.prompts.skipped.count) records skipped)"))
        let progress = communicator.isRoot ? GenerationProgress(label: "round \(round) sampling", interval: Self.progressInterval) : nil
        let summary = try job.run(GenerationJob.Inputs(loaded: loaded, prompts: problems.prompts), progress: progress)
        return summary.stopped ? nil : problems
    }

    /// Grades the round's answers and writes samples.jsonl, stats.json and, last, kept.jsonl.
    func grade(_ problems: GradedProblems, model: String, round: Int, files: RoundFiles) throws {
        let grading = try RoundGrading(round: round, sampledFrom: model, problems: problems,
                                       generations: GenerationOutput.lines(of: files.generations), samples: settings.samples,
                                       keep: settings.keep, maxPerProblem: settings.maxPerProblem,
                                       promptField: config.promptField)
        try RoundFiles.write(grading.gradedLines.map { $0 + "\n" }.joined(), to: files.graded)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try RoundFiles.write(String(decoding: try encoder.encode(grading.stats), as: UTF8.self) + "\n", to: files.stats)
        try RoundFiles.write(grading.keptLines.map { $0 + "\n" }.joined(), to: files.kept)
    }

    /// The round's training run: the configured one on the kept answers, from `start`, into
    /// DIR/round-N/train, without its own held-out evaluation (the round's evaluation follows).
    func trainingConfig(round: Int, start: String, tokenizer: String, files: RoundFiles) throws -> TrainConfig {
        var run = config
        run.model = start
        run.data = files.kept
        run.out = files.train
        run.tokenizer = tokenizer
        run.evalData = ""
        run.evalGenerate = 0
        run.evalEvery = 0
        // kept.jsonl has the standard field names.
        run.format = .auto
        run.promptField = ""
        run.responseField = ""
        run.messagesField = ""
        run.textField = ""
        run.skipInvalid = false
        // A LoRA adapter to start from belongs to the base; a later round's start has it merged.
        if start != config.model { run.loraAdapter = "" }
        try run.validate()
        return run
    }

    /// Evaluates `model` on the evaluation files into `files.eval`; false when a stop signal
    /// ended it (its finished answers saved).
    func evaluate(model: String, tokenizer: String, into files: RoundFiles) throws -> Bool {
        var g = generation(model: model, data: evalFiles[0], out: "", tokenizer: tokenizer,
                           template: config.evalTemplate.isEmpty ? config.template.rawValue : config.evalTemplate)
        g.generation.samples = evalSamples
        g.generation.temperature = config.evalTemperature
        g.generation.topP = config.evalTopP
        g.generation.topK = config.evalTopK
        g.generation.maxNewTokens = config.evalMaxNewTokens
        g.generation.maxBatch = settings.maxBatch
        // The same streams every round: rounds differ by their model, not their luck.
        g.generation.seed = config.seed
        let job = EvalJob(generate: g, files: evalFiles, directory: files.eval, answerField: nil, communicator: communicator)
        let report = try job.run(progressInterval: Self.progressInterval)
        if report.stopped { return false }
        if communicator.isRoot { say(EvalTable.render(report)) }
        return true
    }

    /// DIR/config.yaml: the training settings (the base as `model`) and offline-rl's.
    func configYAML() throws -> String {
        try config.yaml() + settings.settings.map { "\($0.key): \(TrainConfig.yamlScalar(SettingName.layerValue($0.value)))\n" }
            .joined()
    }
}
