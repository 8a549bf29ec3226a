import ArgumentParser
import DFTTrain
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training throughput of a benchmark shape against this machine's sgemm rate.",
        discussion: """
            Trains --steps optimizer steps (after one untimed warm-up step) of a Qwen2-shaped model on \
            random tokens, 3/4 of them trained, with AdamW, as shared/BASELINES.md measured PyTorch. \
            Prints tokens/s, achieved GFLOP/s, the sgemm rate measured in the same process with the \
            same threads, MFU as their ratio, and peak resident memory. Runs under mpirun too.
            """)

    @Option(help: "tiny (4 x 256 tokens), small (2 x 512) or qwen05b (1 x 512).")
    var shape = "tiny"

    @Option(help: "Timed optimizer steps.")
    var steps = 5

    @Option(help: "OpenBLAS threads per rank (0: cores / ranks on the node).")
    var threads = 0

    @Option(help: "Objective.")
    var objective = "dft"

    @Option(help: "1 for ZeRO-1.")
    var zero = 0

    @Option(help: "Tokens per row instead of the shape's own (256 for tiny, 512 otherwise).")
    var length: Int?

    @Option(help: ArgumentHelp("What the backward pass recomputes: none, selective (attention probabilities recomputed, none kept) or full (all but each layer's input recomputed).", valueName: "none|selective|full"))
    var recompute = "none"

    func run() throws {
        let communicator = try Communicators.make()
        let policy = ThreadPolicy.forThisProcess(requested: threads, ranksOnNode: communicator.localSize)
        let result = try Benchmark(shape: shape, steps: steps, objective: objective, threads: policy.threads,
                                   zero: zero, length: length, recompute: recompute, communicator: communicator).run()
        if communicator.isRoot {
            print(String(format: "bench %@: %d rank(s) x %d thread(s) | %.1f tokens/s | %.3f s/step | %.1f GFLOP/s achieved "
                + "(%.2f GFLOP/token) | sgemm %.1f GFLOP/s per rank | MFU %.1f%% | peak RSS %.2f GB (rank 0) | comm wait %.1f%%",
                shape, communicator.size, policy.threads, result.tokensPerSecond, result.secondsPerStep,
                result.achievedFLOPs / 1e9, result.modelFLOPsPerToken / 1e9, result.sgemmFLOPs / 1e9,
                100 * result.mfu, Double(result.peakResidentBytes) / 1e9, 100 * result.commWaitFraction))
            print(MachineDescription.line)
            print(String(format: "rows of %d tokens | recompute %@ | activations and backward scratch %.2f GB (rank 0)",
                         result.rowLength, recompute, Double(result.activationBytes) / 1e9))
            let measured = result.split.reduce(0) { $0 + $1.1 }
            let parts = result.split.map { String(format: "%@ %.1f%%", $0.0, 100 * $0.1 / result.secondsPerStep) }
            print("time per step (rank 0): " + parts.joined(separator: " | ")
                + String(format: " | data and the rest %.1f%%", 100 * (result.secondsPerStep - measured) / result.secondsPerStep))
        }
        communicator.finalize()
    }
}
