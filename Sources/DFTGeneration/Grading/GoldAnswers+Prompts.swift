import DFTData

/// The problems of a prompt file that can be graded: those with a gold answer, by the rule of
/// the file (`GoldAnswer.detect` on its first record, or a named field).
public struct GradedProblems {
    public let rule: GoldAnswer
    /// The kept prompts, in file order (the skipped ones added to the file's skips).
    public let prompts: PromptFile
    /// [kept prompts] the gold answers of each.
    public let golds: [[String]]

    /// `skipInvalid`: a record without a usable gold answer is skipped and counted instead of
    /// ending the job; `hint` says how to name the field when none is found.
    public init(_ file: PromptFile, field: String? = nil, skipInvalid: Bool, hint: String? = nil) throws {
        guard let first = file.prompts.first, let rule = GoldAnswer.detect(first.record, field: field) else {
            throw DataError(.missingField, file: file.path, line: file.prompts.first?.line,
                            field: field ?? "answer/final_answer/solution",
                            message: "no gold answer field in the first record", hint: hint)
        }
        var kept: [PromptFile.Prompt] = [], golds: [[String]] = [], skipped: [DataError] = []
        for prompt in file.prompts {
            do {
                golds.append(try rule.read(prompt.record, file: file.path, line: prompt.line))
                kept.append(prompt)
            } catch let error as DataError where skipInvalid {
                skipped.append(error)
            }
        }
        guard !kept.isEmpty else {
            throw DataError(.emptyFile, file: file.path, message: "no record has both a prompt and a gold answer")
        }
        self.rule = rule
        prompts = PromptFile(file, keeping: kept, skippedAlso: skipped)
        self.golds = golds
    }
}
