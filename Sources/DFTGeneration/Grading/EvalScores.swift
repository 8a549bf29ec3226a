import DFTRuntime

/// One graded sample, as summarised.
public struct GradedSample: Sendable {
    public var index: Int
    public var sample: Int
    public var prediction: String
    public var correct: Bool
    public var tokens: Int
    public var finishReason: String

    public init(index: Int, sample: Int, prediction: String, correct: Bool, tokens: Int, finishReason: String) {
        self.index = index
        self.sample = sample
        self.prediction = prediction
        self.correct = correct
        self.tokens = tokens
        self.finishReason = finishReason
    }
}

/// The scores of one benchmark file over n samples per problem, as the DFT paper reports
/// them: avg@n (the mean over the n sample columns of their accuracy, i.e. the mean of every
/// verdict), pass@n (a problem counts when any of its samples is right), maj@n (the most
/// frequent prediction of a problem, ties to the earliest sample, is right), each column's
/// accuracy, the mean completion length and the share that hit the length limit.
public struct EvalScores: Codable, Sendable, Equatable {
    public var problems: Int
    public var samples: Int
    public var avgAtN: Double
    public var passAtN: Double
    public var majAtN: Double
    public var columnAccuracy: [Double]
    public var meanCompletionTokens: Double
    public var lengthLimitedFraction: Double

    enum CodingKeys: String, CodingKey {
        case problems, samples, avgAtN = "avg_at_n", passAtN = "pass_at_n", majAtN = "maj_at_n"
        case columnAccuracy = "column_accuracy", meanCompletionTokens = "mean_completion_tokens"
        case lengthLimitedFraction = "length_limited_fraction"
    }

    /// `graded`: every (problem, sample) of the file, n samples per problem.
    public init(_ graded: [GradedSample], samples n: Int) {
        var byProblem: [Int: [GradedSample]] = [:]
        for g in graded { byProblem[g.index, default: []].append(g) }
        problems = byProblem.count
        samples = n
        let total = Double(max(1, graded.count))
        avgAtN = Double(graded.filter(\.correct).count) / total
        passAtN = Double(byProblem.values.filter { $0.contains(where: \.correct) }.count) / Double(max(1, problems))
        var majority = 0
        for group in byProblem.values {
            let ordered = group.sorted { $0.sample < $1.sample }
            var votes: [String: (count: Int, first: Int)] = [:]
            for (position, g) in ordered.enumerated() where !g.prediction.isEmpty {
                let v = votes[g.prediction]
                votes[g.prediction] = ((v?.count ?? 0) + 1, v?.first ?? position)
            }
            if let winner = votes.max(by: { ($0.value.count, -$0.value.first) < ($1.value.count, -$1.value.first) }),
               ordered[winner.value.first].correct {
                majority += 1
            }
        }
        majAtN = Double(majority) / Double(max(1, problems))
        columnAccuracy = (0..<n).map { column in
            let cells = graded.filter { $0.sample == column }
            return Double(cells.filter(\.correct).count) / Double(max(1, cells.count))
        }
        meanCompletionTokens = Double(graded.reduce(0) { $0 + $1.tokens }) / total
        lengthLimitedFraction = Double(graded.filter { $0.finishReason == "length" }.count) / total
    }
}

extension EvalScores {
    /// The plain mean of several files' scores (the paper's "average of the benchmarks").
    public static func average(_ scores: [EvalScores]) -> EvalScores? {
        guard !scores.isEmpty else { return nil }
        let n = Double(scores.count)
        var mean = scores[0]
        mean.problems = scores.reduce(0) { $0 + $1.problems }
        mean.avgAtN = scores.reduce(0) { $0 + $1.avgAtN } / n
        mean.passAtN = scores.reduce(0) { $0 + $1.passAtN } / n
        mean.majAtN = scores.reduce(0) { $0 + $1.majAtN } / n
        mean.columnAccuracy = (0..<mean.samples).map { c in scores.reduce(0) { $0 + ($1.columnAccuracy.count > c ? $1.columnAccuracy[c] : 0) } / n }
        mean.meanCompletionTokens = scores.reduce(0) { $0 + $1.meanCompletionTokens } / n
        mean.lengthLimitedFraction = scores.reduce(0) { $0 + $1.lengthLimitedFraction } / n
        return mean
    }
}
