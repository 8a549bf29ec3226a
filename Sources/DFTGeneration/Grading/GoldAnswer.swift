import DFTData
import DFTEval
import DFTRuntime
import Foundation

/// Where a benchmark file keeps its reference answer, as the Qwen2.5-Math harness reads the
/// five benchmarks of the DFT paper and GSM8K: MATH500, AIME24 and AMC23 `answer`;
/// OlympiadBench `final_answer` (a list); GSM8K the text after `####` of `answer`; Minerva
/// Math the last `\boxed{}` of `solution`. Chosen per file from its first record, or named.
public enum GoldAnswer: Sendable, Equatable, CustomStringConvertible {
    case field(String)
    case finalAnswerList(String)
    case afterHashes(String)
    case lastBoxed(String)

    /// The rule for a file whose first record is `record`; nil when none applies.
    public static func detect(_ record: [String: Any], field: String? = nil) -> GoldAnswer? {
        if let field { return record[field].map { $0 is [Any] ? .finalAnswerList(field) : .field(field) } }
        if let answer = record["answer"] {
            if let text = answer as? String, text.contains("####") { return .afterHashes("answer") }
            return .field("answer")
        }
        if record["final_answer"] != nil { return .finalAnswerList("final_answer") }
        if record["solution"] != nil { return .lastBoxed("solution") }
        return nil
    }

    public var fieldName: String {
        switch self {
        case .field(let f), .finalAnswerList(let f), .afterHashes(let f), .lastBoxed(let f): f
        }
    }

    public var description: String {
        switch self {
        case .field(let f): f
        case .finalAnswerList(let f): "\(f) (a list)"
        case .afterHashes(let f): "\(f) after ####"
        case .lastBoxed(let f): "the last \\boxed{} of \(f)"
        }
    }

    /// Whether unit words are dropped in normalising (the harness keeps them for Minerva Math,
    /// whose answers often are quantities with units).
    public var removesUnitWords: Bool {
        if case .lastBoxed = self { return false }
        return true
    }

    /// The gold answers of `record` (one, except when a list holds several); throws a
    /// `DataError` naming the file, line and field.
    public func read(_ record: [String: Any], file: String, line: Int) throws -> [String] {
        let field = fieldName
        guard let raw = record[field], !(raw is NSNull) else {
            throw DataError(.missingField, file: file, line: line, field: field, message: "the record has no gold answer")
        }
        func text(_ value: Any) -> String? {
            if let s = value as? String { return s }
            if let n = value as? NSNumber { return n.stringValue }
            return nil
        }
        switch self {
        case .field:
            if let list = raw as? [Any], !list.isEmpty { return [list.compactMap(text).joined(separator: ",")] }
            guard let value = text(raw), !value.isEmpty else {
                throw DataError(.wrongType, file: file, line: line, field: field, message: "must be a string or a number")
            }
            return [value]
        case .finalAnswerList:
            let items = (raw as? [Any])?.compactMap(text) ?? text(raw).map { [$0] } ?? []
            let golds = GoldAnswers.olympiadBench(items, mode: .first)
            guard !golds.isEmpty else {
                throw DataError(.wrongType, file: file, line: line, field: field, message: "must be a non-empty list of answers")
            }
            return golds
        case .afterHashes:
            guard let value = text(raw), value.contains("####") else {
                throw DataError(.wrongType, file: file, line: line, field: field, message: "has no '####' before the answer")
            }
            return [GoldAnswers.gsm8k(value)]
        case .lastBoxed:
            guard let value = text(raw), let boxed = GoldAnswers.minerva(solution: value) else {
                throw DataError(.wrongType, file: file, line: line, field: field, message: "has no \\boxed{} answer")
            }
            return [boxed]
        }
    }
}
