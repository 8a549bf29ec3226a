import ArgumentParser
import DFTData
import DFTEval
import DFTGeneration
import DFTJobs
import DFTRuntime
import Foundation

struct Grade: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grade completions against gold answers as the Qwen2.5-Math harness does (docs/EVALUATION.md).",
        discussion: """
            Every record of --data needs a completion (--completion-field) and a gold answer \
            (--answer-field): a string, a number (AMC23's 27.0) or a list (OlympiadBench's \
            final_answer, see --answer-list). With --gold auto a string holding "####" is a GSM8K \
            answer (the gold follows the marker) and any other string is the gold itself; --gold \
            boxed takes the last \\boxed{} of the field (Minerva Math: --answer-field solution). \
            The answer of a completion is extracted (the last \\boxed{}, else "the answer is", \
            else the last number), both sides are normalised and compared (numbers, percentages, \
            tuples, intervals, matrices, equations, expressions). OUT gets every record as it was, \
            with "prediction" (the normalised answer) and "correct" added, in file order. With the \
            n samples per problem of `generate --samples n` the accuracy printed is avg@n.
            """)

    @Option(help: "JSONL file of records with a completion and a gold answer.")
    var data: String

    @Option(help: "The JSONL file to write: each record with `prediction` and `correct` added.")
    var out: String

    @Option(name: .customLong("completion-field"), help: "The record field holding the completion.")
    var completionField = "completion"

    @Option(name: .customLong("answer-field"), help: "The record field holding the gold answer.")
    var answerField = "answer"

    @Option(help: ArgumentHelp("How the gold answer field is read: auto, plain, gsm8k (after ####) or boxed (the last \\boxed{}).",
                               valueName: "format"))
    var gold = "auto"

    @Option(name: .customLong("answer-list"),
            help: ArgumentHelp("A list of gold answers: joined (one tuple), each (right if any one matches) or first (the harness).",
                               valueName: "mode"))
    var answerList = GoldAnswers.ListMode.joined.rawValue

    @Flag(name: .customLong("keep-unit-words"), help: "Keep unit words in answers (the harness does for Minerva Math).")
    var keepUnitWords = false

    static let goldFormats = ["auto", "plain", "gsm8k", "boxed"]

    func validate() throws {
        guard Self.goldFormats.contains(gold) else {
            throw ValidationError("--gold must be one of \(Self.goldFormats.joined(separator: ", ")), got \(gold)")
        }
        guard GoldAnswers.ListMode(rawValue: answerList) != nil else {
            throw ValidationError("--answer-list must be joined, each or first, got \(answerList)")
        }
        guard URL(fileURLWithPath: out).standardizedFileURL != URL(fileURLWithPath: data).standardizedFileURL else {
            throw ValidationError("--out must not be the --data file (it is read while OUT is written)")
        }
    }

    func run() throws {
        let grader = Grader(removeUnitWords: !keepUnitWords)
        let reader = try JSONLLineReader(path: data)
        let partial = out + ".partial"
        guard FileManager.default.createFile(atPath: partial, contents: nil),
              let handle = FileHandle(forWritingAtPath: partial) else {
            throw DataError(.unreadableFile, file: partial, message: "cannot create the file",
                            hint: "check that the directory of --out exists and is writable")
        }
        var records = 0, correct = 0, unanswered = 0
        do {
            var buffer = Data()
            while let line = try reader.next() {
                let record = try self.record(line)
                let completion = try text(record, completionField, line: line.number, what: "the completion text", option: "--completion-field")
                let golds = try goldAnswers(record, line: line.number)
                let graded = grader.grade(completion: completion, golds: golds)
                records += 1
                if graded.correct { correct += 1 }
                if graded.prediction.isEmpty { unanswered += 1 }
                buffer.append(try Self.annotated(line.content, record, graded))
                buffer.append(0x0A)
                if buffer.count >= 1 << 20 {
                    try handle.write(contentsOf: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            guard records > 0 else {
                throw DataError(.emptyFile, file: data, message: "expected JSON lines of completions, found none")
            }
            try handle.write(contentsOf: buffer)
            try handle.close()
            guard rename(partial, out) == 0 else {
                throw DataError(.unreadableFile, file: out, message: "cannot replace the file: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
        print(String(format: "graded %d record%@ of %@: %d correct, accuracy %.2f%%%@ -> %@", records, records == 1 ? "" : "s", data, correct,
                     100 * Double(correct) / Double(records),
                     unanswered == 0 ? "" : " (\(unanswered) without an answer)", out))
    }

    func record(_ line: JSONLLineReader.Line) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: line.content, options: [.fragmentsAllowed]) else {
            throw DataError(.malformedJSON, file: data, line: line.number, message: "expected a JSON object, found text that is not JSON")
        }
        guard let record = object as? [String: Any] else {
            let kind = object is [Any] ? "an array" : object is String ? "a string" : object is NSNumber ? "a number" : "null"
            throw DataError(.wrongType, file: data, line: line.number, message: "expected a JSON object, found \(kind)")
        }
        return record
    }

    func text(_ record: [String: Any], _ field: String, line: Int, what: String, option: String) throws -> String {
        guard let value = record[field] else {
            throw DataError(.missingField, file: data, line: line, field: field,
                            message: "expected \(what), but the field is missing", hint: "name the field with \(option)")
        }
        guard let text = value as? String else {
            throw DataError(.wrongType, file: data, line: line, field: field, message: "expected \(what) as a string, found \(value)")
        }
        return text
    }

    /// The gold answers of a record: one, or (a list with --answer-list each) several.
    func goldAnswers(_ record: [String: Any], line: Int) throws -> [String] {
        guard let value = record[answerField] else {
            throw DataError(.missingField, file: data, line: line, field: answerField,
                            message: "expected the gold answer, but the field is missing", hint: "name the field with --answer-field")
        }
        func wrong(_ expected: String) -> DataError {
            DataError(.wrongType, file: data, line: line, field: answerField, message: "expected \(expected), found \(value)")
        }
        if let list = value as? [Any] {
            let answers = try list.map { element -> String in
                if let text = element as? String { return text }
                if let number = element as? NSNumber { return number.stringValue }
                throw wrong("a list of strings or numbers")
            }
            let golds = GoldAnswers.olympiadBench(answers, mode: GoldAnswers.ListMode(rawValue: answerList) ?? .joined)
            guard !golds.isEmpty else { throw wrong("at least one gold answer") }
            return golds
        }
        if let number = value as? NSNumber { return [number.stringValue] }
        guard let text = value as? String else { throw wrong("a string, a number or a list") }
        switch gold {
        case "gsm8k": return [GoldAnswers.gsm8k(text)]
        case "boxed":
            guard let boxed = GoldAnswers.minerva(solution: text) else { throw wrong("a text with a \\boxed{} answer") }
            return [boxed]
        case "plain": return [text]
        default: return [text.contains("####") ? GoldAnswers.gsm8k(text) : text]
        }
    }

    /// The record's line with `prediction` and `correct` added before its closing brace (so
    /// every other byte stays as it was); re-encoded, keys sorted, when it has them already.
    static func annotated(_ line: Data, _ record: [String: Any], _ graded: (prediction: String, correct: Bool)) throws -> Data {
        var bytes = [UInt8](line)
        while let last = bytes.last, last == 0x20 || last == 0x09 || last == 0x0D { bytes.removeLast() }
        guard record["prediction"] == nil, record["correct"] == nil, bytes.last == UInt8(ascii: "}") else {
            var updated = record
            updated["prediction"] = graded.prediction
            updated["correct"] = graded.correct
            return try JSONSerialization.data(withJSONObject: updated, options: [.sortedKeys, .withoutEscapingSlashes])
        }
        bytes.removeLast()
        let quoted = try JSONSerialization.data(withJSONObject: [graded.prediction], options: [.withoutEscapingSlashes])
        var out = Data(bytes)
        if !record.isEmpty { out.append(UInt8(ascii: ",")) }
        out.append(Data("\"prediction\":".utf8))
        out.append(quoted.dropFirst().dropLast())
        out.append(Data(",\"correct\":\(graded.correct)}".utf8))
        return out
    }
}
