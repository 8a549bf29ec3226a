import DFTData
import DFTEval
import DFTGeneration
import Foundation

/// What one round's answers came to: how many were right, how many were kept.
public struct RoundStats: Codable, Sendable, Equatable {
    public var round: Int
    /// The model the answers were sampled from.
    public var sampledFrom: String
    public var problems: Int
    public var skippedRecords: Int
    public var samplesPerProblem: Int
    public var samples: Int
    /// Answers graded correct (cut ones included).
    public var correct: Int
    /// Correct answers that hit max_new_tokens: never kept (training on them would teach the
    /// model not to stop).
    public var correctButCut: Int
    /// correct / samples.
    public var accuracy: Double
    /// Problems with at least one correct answer among their samples, over problems.
    public var passAtK: Double
    /// Problems with at least one kept answer.
    public var problemsKept: Int
    public var kept: Int
    /// Correct, uncut answers left out because an earlier sample of the problem said the same.
    public var duplicatesDropped: Int
    /// Correct, uncut, distinct answers left out by the keep policy.
    public var droppedByPolicy: Int
    public var meanTokens: Double
    public var meanKeptTokens: Double
    public var keep: String

    enum CodingKeys: String, CodingKey {
        case round, sampledFrom = "sampled_from", problems, skippedRecords = "skipped_records"
        case samplesPerProblem = "samples_per_problem", samples, correct, correctButCut = "correct_but_cut"
        case accuracy, passAtK = "pass_at_k", problemsKept = "problems_kept", kept
        case duplicatesDropped = "duplicates_dropped", droppedByPolicy = "dropped_by_policy"
        case meanTokens = "mean_tokens", meanKeptTokens = "mean_kept_tokens", keep
    }
}

/// Grades a round's generations against the problems' gold answers with the project's grader
/// (as `eval` does) and picks the training set: per problem, its correct answers that ended
/// on their own (EOS or a stop string), each distinct completion once in sample order, as
/// many as the keep policy allows. Pure: the same generations give the same files.
public struct RoundGrading {
    /// One line per (problem, sample): the generation's fields plus gold, prediction, correct.
    public var gradedLines: [String] = []
    /// One training record per kept answer: {prompt, response} (or {messages} for a messages
    /// problem) plus the problem's index, the sample and the gold answer.
    public var keptLines: [String] = []
    public var stats: RoundStats

    /// problems: the file's prompts with their gold answers; generations: the merged
    /// `generate` output (one line per pair); promptField: the record field the prompts were
    /// read from (empty: the first of `PromptEncoder.defaultPromptFields` present).
    public init(round: Int, sampledFrom: String, problems: GradedProblems, generations: [GenerationOutput.Line],
                samples: Int, keep: KeepPolicy, maxPerProblem: Int, promptField: String) throws {
        let grader = Grader(removeUnitWords: problems.rule.removesUnitWords)
        var golds: [Int: [String]] = [:]
        var records: [Int: [String: Any]] = [:]
        for (prompt, gold) in zip(problems.prompts.prompts, problems.golds) {
            golds[prompt.index] = gold
            records[prompt.index] = prompt.record
        }
        stats = RoundStats(round: round, sampledFrom: sampledFrom, problems: golds.count,
                           skippedRecords: problems.prompts.skipped.count, samplesPerProblem: samples,
                           samples: 0, correct: 0, correctButCut: 0, accuracy: 0, passAtK: 0, problemsKept: 0,
                           kept: 0, duplicatesDropped: 0, droppedByPolicy: 0, meanTokens: 0, meanKeptTokens: 0,
                           keep: keep == .maxPerProblem ? "\(keep.rawValue) \(maxPerProblem)" : keep.rawValue)
        let limit = keep == .all ? Int.max : keep == .onePerProblem ? 1 : maxPerProblem
        var solved = Set<Int>()
        var keptTexts: [Int: Set<String>] = [:]  // per problem, the completions kept so far
        var tokens = 0, keptTokens = 0
        // The merged output is sorted by (index, sample): a problem's samples come in order.
        for line in generations {
            guard let gold = golds[line.index], let record = records[line.index],
                  var object = try JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any] else { continue }
            let completion = object["completion"] as? String ?? ""
            let verdict = grader.grade(completion: completion, golds: gold)
            let length = object["tokens"] as? Int ?? 0
            let cut = (object["finish_reason"] as? String) == "length"
            object["gold"] = gold.count == 1 ? gold[0] as Any : gold as Any
            object["prediction"] = verdict.prediction
            object["correct"] = verdict.correct
            gradedLines.append(try Self.json(object))
            stats.samples += 1
            tokens += length
            guard verdict.correct else { continue }
            stats.correct += 1
            solved.insert(line.index)
            if cut {
                stats.correctButCut += 1
                continue
            }
            var seen = keptTexts[line.index, default: []]
            if seen.contains(completion) {
                stats.duplicatesDropped += 1
                continue
            }
            if seen.count >= limit {
                stats.droppedByPolicy += 1
                continue
            }
            seen.insert(completion)
            keptTexts[line.index] = seen
            keptLines.append(try Self.json(Self.trainingRecord(record, completion: completion, promptField: promptField,
                                                               problem: line.index, sample: line.sample, gold: gold[0])))
            stats.kept += 1
            keptTokens += length
        }
        stats.accuracy = stats.samples > 0 ? Double(stats.correct) / Double(stats.samples) : 0
        stats.passAtK = stats.problems > 0 ? Double(solved.count) / Double(stats.problems) : 0
        stats.problemsKept = keptTexts.count
        stats.meanTokens = stats.samples > 0 ? Double(tokens) / Double(stats.samples) : 0
        stats.meanKeptTokens = stats.kept > 0 ? Double(keptTokens) / Double(stats.kept) : 0
    }

    /// The problem's prompt with the answer as its response, in the shape training reads
    /// through the same template the answer was sampled with.
    static func trainingRecord(_ record: [String: Any], completion: String, promptField: String, problem: Int,
                               sample: Int, gold: String) -> [String: Any] {
        var out: [String: Any] = ["problem": problem, "sample": sample, "answer": gold]
        // As `PromptEncoder` read the prompt: a conversation first, else the prompt field.
        if var messages = record["messages"] as? [[String: Any]] {
            // The conversation up to its last assistant message, as the prompt was made.
            if let last = messages.lastIndex(where: { ($0["role"] as? String) == "assistant" }) {
                messages.removeSubrange(last...)
            }
            out["messages"] = messages + [["role": "assistant", "content": completion]]
        } else {
            let fields = promptField.isEmpty ? PromptEncoder.defaultPromptFields : [promptField]
            out["prompt"] = fields.lazy.compactMap { record[$0] as? String }.first ?? ""
            out["response"] = completion
        }
        return out
    }

    static func json(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
