import ArgumentParser
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a checkpoint or metrics file holds.",
        discussion: "A checkpoint: step, model, tensors and shapes, optimizer, configuration. "
            + "A metrics file (also while a run writes it): the last rows and the newest probability histogram.")

    @Argument(help: "A checkpoint (OUT/checkpoints/step-NNNNNNNN.h5) or a metrics file (OUT/metrics.h5).")
    var file: String

    @Option(help: "Metrics rows to show.")
    var rows = 5

    func run() throws {
        for line in try Inspection.describe(path: file, lastRows: rows) { print(line) }
    }
}
