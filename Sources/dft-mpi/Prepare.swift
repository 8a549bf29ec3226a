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

    @Option(help: "The HDF5 file to write.")
    var out: String

    @Option(help: "Only counts the examples training will cut to this length; examples are stored whole.")
    var maxLength: Int?

    @OptionGroup(title: "Text records") var template: TemplateOptions
    @OptionGroup(title: "Text records") var records: RecordFieldOptions

    func validate() throws {
        guard template.tokenizer != nil else { throw ValidationError("Missing expected argument '--tokenizer <dir|tokenizer.json|byte>'") }
        if let maxLength, maxLength < 2 { throw ValidationError("--max-length must be at least 2, got \(maxLength)") }
    }

    func run() throws {
        let settings = try RecordSettings.resolve(template.layer.merging(records.layer) { _, new in new })
        let code = try RankCommand.run(threads: 0, stopsOnSignal: false) { context in
            let options = DataPreparation.Options(
                data: data, out: out, tokenizer: settings.tokenizer, template: settings.template.rawValue,
                systemPrompt: settings.systemPrompt.isEmpty ? nil : settings.systemPrompt, format: settings.recordFormat,
                skipInvalid: settings.skipInvalid, maxLength: maxLength)
            let summary = try DataPreparation(options: options, communicator: context.communicator).run()
            context.say("prepared \(summary)")
            return .finished
        }
        if code != 0 { throw ExitCode(code) }
    }
}
