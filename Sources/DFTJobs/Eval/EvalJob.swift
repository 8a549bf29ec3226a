import DFTCore
import DFTData
import DFTEval
import DFTGeneration
import DFTRuntime
import DFTTrain
import Foundation

/// `dft-mpi eval`: generate + grade, the paper's protocol. For every benchmark file the
/// (problem, sample) pairs are generated as `generate` does (DIR/generations/NAME.jsonl:
/// split over the ranks, saved as they finish, resumable), then rank 0 grades every
/// completion against the file's gold answers and writes DIR/samples.jsonl (the generation
/// fields plus file, gold, prediction, correct) and DIR/summary.json (per file and their
/// average: avg@n, pass@n, maj@n, each sample column's accuracy, mean completion tokens,
/// the share that hit the length limit, tokens/s).
public struct EvalJob {
    public let generate: GenerateSettings
    public let files: [String]
    public let directory: String
    public let answerField: String?
    public let communicator: any Communicator

    public init(generate: GenerateSettings, files: [String], directory: String, answerField: String?,
                communicator: any Communicator) {
        self.generate = generate
        self.files = files
        self.directory = directory
        self.answerField = answerField
        self.communicator = communicator
    }

    public struct FileReport: Sendable {
        public var file: String
        public var gold: String
        public var scores: EvalScores
        public var tokensPerSecond: Double
        public var skippedRecords: Int
    }

    public struct Report: Sendable {
        public var files: [FileReport] = []
        public var average: EvalScores?
        public var stopped = false
    }

    /// The generations file of a benchmark file (named by its base name, made unique).
    func generationsPath(_ index: Int) -> String {
        let base = ((files[index] as NSString).lastPathComponent as NSString).deletingPathExtension
        let clash = files.indices.contains { $0 != index && (((files[$0] as NSString).lastPathComponent as NSString)
            .deletingPathExtension) == base }
        let name = clash ? "\(index)-\(base)" : base
        return ((directory as NSString).appendingPathComponent("generations") as NSString).appendingPathComponent(name + ".jsonl")
    }

    public func run(progressInterval: Double, loaded: GenerationJob.LoadedModel? = nil,
                    onFile: ((String, Int, Int) -> Void)? = nil) throws -> Report {
        if communicator.isRoot {
            try FileManager.default.createDirectory(atPath: (directory as NSString).appendingPathComponent("generations"),
                                                    withIntermediateDirectories: true)
        }
        communicator.barrier()
        let base = GenerationJob(settings: generate, communicator: communicator)
        let model = try loaded ?? base.loadModel()
        var report = Report()
        var graded: [(file: Int, rule: GoldAnswer, golds: [Int: [String]], seconds: Double, tokens: Int, skipped: Int)] = []
        for (i, file) in files.enumerated() {
            // Every prompt needs a gold answer before anything is generated for it.
            var settings = generate
            settings.data = file
            settings.out = generationsPath(i)
            let job = GenerationJob(settings: settings, communicator: communicator)
            let all = try job.loadPrompts(file, for: model)
            let problems = try GradedProblems(all, field: answerField, skipInvalid: generate.skipInvalid,
                                              hint: "name it with --answer-field")
            let (rule, prompts) = (problems.rule, problems.prompts)
            var golds: [Int: [String]] = [:]
            for (prompt, gold) in zip(prompts.prompts, problems.golds) { golds[prompt.index] = gold }
            onFile?(file, prompts.prompts.count, prompts.skipped.count)
            let progress = communicator.isRoot
                ? GenerationProgress(label: "eval \((file as NSString).lastPathComponent)", interval: progressInterval) : nil
            let summary = try job.run(GenerationJob.Inputs(loaded: model, prompts: prompts), progress: progress)
            if summary.stopped {
                report.stopped = true
                return report
            }
            graded.append((i, rule, golds, summary.seconds, summary.tokens, prompts.skipped.count))
        }
        guard communicator.isRoot else { return report }

        // Rank 0 grades every file and writes samples.jsonl and summary.json.
        var lines: [String] = []
        for entry in graded {
            let file = files[entry.file]
            var samples: [GradedSample] = []
            let grader = Grader(removeUnitWords: entry.rule.removesUnitWords)
            for line in GenerationOutput.lines(of: generationsPath(entry.file)) {
                guard var object = try JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any],
                      let golds = entry.golds[line.index] else { continue }
                let completion = object["completion"] as? String ?? ""
                let verdict = grader.grade(completion: completion, golds: golds)
                object["file"] = file
                object["gold"] = golds.count == 1 ? golds[0] as Any : golds as Any
                object["prediction"] = verdict.prediction
                object["correct"] = verdict.correct
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                lines.append(String(decoding: data, as: UTF8.self))
                samples.append(GradedSample(index: line.index, sample: line.sample, prediction: verdict.prediction,
                                            correct: verdict.correct, tokens: object["tokens"] as? Int ?? 0,
                                            finishReason: object["finish_reason"] as? String ?? ""))
            }
            let scores = EvalScores(samples, samples: generate.samples)
            report.files.append(FileReport(file: file, gold: entry.rule.description, scores: scores,
                                           tokensPerSecond: entry.seconds > 0 ? Double(entry.tokens) / entry.seconds : 0,
                                           skippedRecords: entry.skipped))
        }
        report.average = EvalScores.average(report.files.map(\.scores))
        try Self.writeAtomically(lines.map { $0 + "\n" }.joined(), to: (directory as NSString).appendingPathComponent("samples.jsonl"))
        try Self.writeAtomically(try summaryJSON(report), to: (directory as NSString).appendingPathComponent("summary.json"))
        return report
    }

    func summaryJSON(_ report: Report) throws -> String {
        func scores(_ s: EvalScores) throws -> Any { try JSONSerialization.jsonObject(with: JSONEncoder().encode(s)) }
        var files: [[String: Any]] = []
        var timing: [[String: Any]] = []
        for f in report.files {
            var entry = try scores(f.scores) as? [String: Any] ?? [:]
            entry["file"] = f.file
            entry["gold"] = f.gold
            entry["skipped_records"] = f.skippedRecords
            files.append(entry)
            // Apart: the only part that differs between runs (a resumed run times only its share).
            timing.append(["file": f.file, "tokens_per_second": f.tokensPerSecond])
        }
        let s = generate.sampling
        let object: [String: Any] = [
            "model": generate.model, "template": generate.template, "samples": generate.samples,
            "temperature": Double(s.temperature), "top_p": Double(s.topP), "top_k": s.topK, "seed": Int(s.seed),
            "max_new_tokens": generate.maxNewTokens, "files": files, "timing": timing,
            "average": try report.average.map(scores) ?? NSNull(),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static func writeAtomically(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            throw GenerationError("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
