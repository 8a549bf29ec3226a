import ArgumentParser
import DFTData
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain
import Foundation

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the token ids (and loss mask) the trainer would use, for JSON lines on stdin.",
        discussion: """
            Each input line is JSON. A string is raw text, answered with {"ids": [...]} and no special \
            tokens added. An object is an example in one of the record shapes (prompt/response, messages, \
            problem/solution, text, input_ids/loss_mask), answered after the chat template with \
            {"ids": [...], "loss_mask": [...]}, where loss_mask[i] = 1 marks a trained token. A bad line \
            is reported on stderr with its number and the run goes on; the exit code is 1 if any failed.
            """)

    @OptionGroup var text: TemplateOptions

    func validate() throws {
        guard text.tokenizer != nil else { throw ValidationError("Missing expected argument '--tokenizer <dir|tokenizer.json|byte>'") }
    }

    func run() throws {
        let settings = try RecordSettings.resolve(text.layer)
        let tok = try TokenizerLoader.load(settings.tokenizer)
        let records = try RecordTokenizer(tokenizer: tok, template: settings.chatTemplate())
        var line = 0
        var failures = 0
        while let text = readLine(strippingNewline: true) {
            line += 1
            if text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            do {
                let value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
                let answer: [String: Any]
                if let raw = value as? String {
                    answer = ["ids": tok.encode(raw, addSpecialTokens: false).map(Int.init)]
                } else {
                    let example = try records.encode(value, line: line, source: "stdin")
                    answer = ["ids": example.tokens.map(Int.init), "loss_mask": example.lossMask.map(Int.init)]
                }
                let data = try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } catch {
                failures += 1
                // Data errors name the place themselves; JSON syntax errors do not.
                let place = error is DataError ? "" : "stdin, line \(line): "
                FileHandle.standardError.write(Data("\(place)\(error)\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }
}
