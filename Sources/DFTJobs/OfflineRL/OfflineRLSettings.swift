import DFTBuiltin
import DFTRuntime

/// Which correct answers of a problem go into a round's training set (each distinct completion
/// once, whatever the policy).
public enum KeepPolicy: String, SettingChoice {
    /// Every distinct correct answer.
    case all
    /// The first correct answer (lowest sample number).
    case onePerProblem = "one-per-problem"
    /// The first `max_per_problem` distinct correct answers.
    case maxPerProblem = "max-per-problem"
}

/// What round r + 1 trains from: the model round r trained (expert iteration: the fine-tune
/// goes on), or the base again on round r + 1's answers (ReST-EM's choice). Round r + 1
/// samples from round r's model either way.
public enum RoundStart: String, SettingChoice {
    case last
    case base
}

/// The settings `offline-rl` adds to training's (`TrainConfig`): the problems, the rounds, how
/// answers are sampled and which are kept. YAML keys and flags by the settings' one rule
/// (`max_per_problem` = `--max-per-problem`); none shares a key with `TrainConfig`, so one
/// YAML file holds both.
public struct OfflineRLSettings: SettingsGroup {
    /// JSONL problems with gold answers, in any record shape `eval` reads (or a built-in set:
    /// arith-cot's 4000 problems, their demonstrations unused).
    public var problems = BuiltinAssets.demonstrations
    /// Rounds of sample -> verify -> train -> evaluate; round r + 1 samples from round r's model.
    public var rounds = 1
    /// Answers sampled per problem in each round.
    public var samples = 4
    public var keep = KeepPolicy.all
    /// The most answers kept per problem under `keep: max-per-problem`.
    public var maxPerProblem = 2
    public var trainFrom = RoundStart.last
    /// The record field holding the gold answer (empty: detected as `eval` detects it).
    public var answerField = ""
    // Sampling of the answers (the streams seeded by `seed` and the round).
    public var temperature = 1.0
    public var topP = 1.0
    public var topK = 0
    public var maxNewTokens = 1024
    /// Sequences decoded together per rank.
    public var maxBatch = 16

    public init() {}

    public func validate() throws {
        try require(rounds >= 1, "rounds", "at least 1, got \(rounds)")
        try require(samples >= 1, "samples", "at least 1, got \(samples)")
        try require(maxPerProblem >= 1, "max_per_problem", "at least 1, got \(maxPerProblem)")
        try require(temperature >= 0, "temperature", "0 (greedy) or more, got \(temperature)")
        try require(topP > 0 && topP <= 1, "top_p", "in (0, 1], got \(topP)")
        try require(topK >= 0, "top_k", "0 (off) or more, got \(topK)")
        try require(maxNewTokens >= 1, "max_new_tokens", "at least 1, got \(maxNewTokens)")
        try require(maxBatch >= 1, "max_batch", "at least 1, got \(maxBatch)")
    }

    /// The YAML keys of this group.
    public static var keys: [String] { OfflineRLSettings().settings.map(\.key) }

    /// Settings for the built-in problems (the demo's, `TrainConfig.demoSettings`, plus these):
    /// answers as long as the built-in base's (96 tokens).
    public static var builtinSettings: [String: Any] { ["max_new_tokens": 96] }
}
