import ArgumentParser
import DFTGeneration
import DFTJobs
import DFTRuntime
import DFTTrain

@main
struct DFTMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dft-mpi",
        abstract: "Fine-tune Llama / Qwen2 language models with Dynamic Fine-Tuning (DFT) on CPUs and MPI clusters.",
        discussion: """
            With no arguments, `dft-mpi train` fine-tunes a small built-in model on a built-in \
            data set of arithmetic word problems, in a few minutes on two cores.
            """,
        version: DFTVersionInfo.version,
        subcommands: [Train.self, OfflineRL.self, Score.self, Export.self, Tokenize.self, Prepare.self, Generate.self, Eval.self, Grade.self, Inspect.self, Bench.self, Info.self],
        defaultSubcommand: nil)
}

