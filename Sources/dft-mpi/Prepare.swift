import ArgumentParser
import DFTData
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain
import Foundation

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Tokenize a JSONL data set once into an HDF5 file that `train --data FILE.h5` reads.",
        discussion: """
            Reads the records in blocks of lines (memory: one block plus the tokenizer, whatever the \
            file size) and writes int32 `input_ids`, uint8 `loss_mask` and int64 `offsets`: example i \
            is input_ids[offsets[i]:offsets[i+1]], in file order (docs/DATA.md). Runs on N ranks under \
            mpirun, each encoding a share of the file; the output is the same for any N. A bad record \
            stops every rank with its file, line and field, or with --skip-invalid is skipped and counted.
            """)

    @Option(help: "The .jsonl file (the record shapes `train` reads).")
    var data: String

    @Option(help: "A Hugging Face tokenizer directory or tokenizer.json, or `byte`.")
    var tokenizer: String

    @Option(help: "Chat template: \(ChatTemplates.names.joined(separator: ", ")).")
    var template = "chatml"

    @Option(help: "The HDF5 file to write.")
    var out: String

    @Option(name: .customLong("max-length"), help: "Only counts the examples training will cut to this length; examples are stored whole.")
    var maxLength: Int?

    @Flag(name: .customLong("skip-invalid"), help: "Skip bad records (counted by reason) instead of stopping.")
    var skipInvalid = false

    @Option(help: "Record shape: auto or one of \(RecordFormat.names.joined(separator: ", ")).")
    var format = "auto"

    @Option(name: .customLong("system-prompt"), help: "System message the template adds.")
    var systemPrompt: String?

    @Option(name: .customLong("prompt-field"), help: "Prompt field of prompt/response records.")
    var promptField = ""

    @Option(name: .customLong("response-field"), help: "Response field of prompt/response records.")
    var responseField = ""

    @Option(name: .customLong("messages-field"), help: "Messages field of conversation records.")
    var messagesField = ""

    @Option(name: .customLong("text-field"), help: "Text field of plain-text records.")
    var textField = ""

    func run() throws {
        let code = try RankCommand.run(threads: 0, stopsOnSignal: false) { context in
            let config = try TrainConfig.resolve(layers: [[
                "data": data, "tokenizer": tokenizer, "template": template, "format": format,
                "prompt_field": promptField, "response_field": responseField, "messages_field": messagesField,
                "text_field": textField, "skip_invalid": skipInvalid,
            ]])
            let options = DataPreparation.Options(
                data: data, out: out, tokenizer: tokenizer, template: template, systemPrompt: systemPrompt,
                format: try RunComponents.recordFormat(config), skipInvalid: skipInvalid, maxLength: maxLength)
            if let maxLength, maxLength < 2 { throw ValidationError("--max-length must be at least 2, got \(maxLength)") }
            let summary = try DataPreparation(options: options, communicator: context.communicator).run()
            context.say("prepared \(summary)")
            return .finished
        }
        if code != 0 { throw ExitCode(code) }
    }
}
