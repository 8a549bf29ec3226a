import ArgumentParser
import DFTCore
import DFTGeneration
import DFTJobs
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure training throughput against this machine's sgemm rate, or decoding against its memory bandwidth.",
        discussion: """
            Training (the default): trains --steps optimizer steps (after one untimed warm-up step) of a \
            Qwen2-shaped model on random tokens, 3/4 of them trained, with AdamW, as shared/BASELINES.md \
            measured PyTorch. Prints tokens/s, achieved GFLOP/s, the sgemm rate measured in the same \
            process with the same threads, MFU as their ratio, and peak resident memory. Runs under mpirun too. \
            The objective, LoRA and execution options are `train`'s; with --precision bf16 the MFU is \
            against the same run's bf16 matmul rate instead of sgemm's. With --lora-r R, a full \
            fine-tuning trainer of the same shape runs in the same process, its steps interleaved \
            with LoRA's; both are printed and the ratio of their median step times.

            Decoding (--decode): a random-weight model of the shape prefills --batch prompts of \
            --prompt-length random tokens (each alone in its slot), then decodes the --batch sequences \
            together, greedily, for --new-tokens steps (after a few untimed warm-up steps). Prints \
            prefill and decode tokens/s, end to end tokens/s (new tokens / prefill and decode time, \
            the figure transformers' generate gives), the weight bytes (fp32, or bf16 with --precision bf16) and KV-cache bytes one decode step reads, a \
            STREAM-like triad bandwidth measured in the same process with the same threads, the batch-1 \
            bound (bandwidth / bytes per token) and the fraction of it reached, and peak resident memory. \
            One process only: refused under mpirun with more than one rank.

            Communication (--allreduce, under mpirun): in-place float sums from 4 KB up to the \
            shape's whole gradient, through the calls training makes, each timed for about half a \
            second: time per allreduce, algorithm bandwidth (bytes / time) and bus bandwidth \
            (x 2(n-1)/n, what each rank's link carries in a ring allreduce, as nccl-tests and the OSU \
            benchmarks report it). Then --steps training steps of the shape: the communication they \
            wait for after the backward pass against the same gradient buckets' allreduces alone, \
            i.e. how much of it the overlap with the backward pass hides (--steps 0 skips this).
            """)

    @Option(help: "tiny, small or qwen05b (trained in batches of 4 x 256 tokens, 2 x 512 and 1 x 512).")
    var shape = "tiny"

    @Option(help: "Timed optimizer steps (training).")
    var steps = 5

    @Option(help: "Tokens per row instead of the shape's own (256 for tiny, 512 otherwise; training).")
    var length: Int?

    @OptionGroup(title: "Objective (training)") var objective: ObjectiveOptions
    @OptionGroup(title: "LoRA (training)") var lora: AdapterOptions
    @OptionGroup(title: "Execution") var threads: ThreadOptions
    @OptionGroup(title: "Execution") var execution: ExecutionOptions

    @Flag(help: "Measure decoding (prefill and batched greedy decode steps) instead of training.")
    var decode = false

    @Flag(help: "Measure the allreduce between the ranks (4 KB to the shape's gradient) and its overlap with the backward pass, instead of training.")
    var allreduce = false

    @Option(help: "Sequences decoded together (--decode).")
    var batch = 1

    @Option(help: "Random prompt tokens per sequence (--decode).")
    var promptLength = 64

    @Option(help: "Timed decode steps, one new token per sequence each (--decode).")
    var newTokens = 128

    func run() throws {
        let code = try RankCommand.run(threads: threads.requested, commTimeout: threads.timeout, stopsOnSignal: false) { context in
            let communicator = context.communicator
            if decode {
                // Ranks on one node would share its memory bandwidth, the very figure measured.
                if communicator.size > 1 {
                    communicator.abort(message: "bench --decode runs in one process: launch it without mpirun", code: 1)
                }
                try runDecode(threads: context.threads.threads)
                return .finished
            }
            if allreduce {
                try runAllreduce(context)
                return .finished
            }
            try runTraining(context)
            return .finished
        }
        if code != 0 { throw ExitCode(code) }
    }

    private func runTraining(_ context: RankContext) throws {
        let (communicator, policy) = (context.communicator, context.threads)
        let settings = objective.layer.merging(lora.layer) { _, new in new }.merging(execution.layer) { _, new in new }
        let benchmark = Benchmark(shape: shape, steps: steps, threads: policy.threads, length: length, settings: settings,
                                  communicator: communicator)
        let loraR = lora.loraR ?? 0
        let result: Benchmark.Result
        var full: (result: Benchmark.Result, ratio: Double)?
        if loraR > 0 {
            let compared = try Benchmark.compareLoRA(benchmark, against: benchmark.with(settings: ["lora_r": 0]))
            result = compared.lora
            full = (compared.full, compared.medianRatio)
        } else {
            result = try benchmark.run()
        }
        if communicator.isRoot {
            print(String(format: "bench %@: %d rank(s) x %d thread(s) | %.1f tokens/s | %.3f s/step | %.1f GFLOP/s achieved "
                + "(%.2f GFLOP/token) | %@ %.1f GFLOP/s per rank | MFU %.1f%% | peak RSS %.2f GB (rank 0) | comm wait %.1f%%",
                shape, communicator.size, policy.threads, result.tokensPerSecond, result.secondsPerStep,
                result.achievedFLOPs / 1e9, result.modelFLOPsPerToken / 1e9,
                result.precision == .bf16 ? "bf16 matmul" : "sgemm", result.sgemmFLOPs / 1e9,
                100 * result.mfu, Double(result.peakResidentBytes) / 1e9, 100 * result.commWaitFraction))
            print(MachineDescription.line)
            print("compute: " + TrainingSession.compute(precision: result.precision, asked: execution.precision ?? .fp32))
            printMatmulKernels()
            print(String(format: "rows of %d tokens | recompute %@ | activations and backward scratch %.2f GB (rank 0)",
                         result.rowLength, "\(execution.recompute ?? .none)", Double(result.activationBytes) / 1e9))
            let measured = result.split.reduce(0) { $0 + $1.1 }
            let parts = result.split.filter { loraR > 0 || $0.0 != PhaseTimer.Phase.adapters.label }.map { String(format: "%@ %.1f%%", $0.0, 100 * $0.1 / result.secondsPerStep) }
            print("time per step (rank 0): " + parts.joined(separator: " | ")
                + String(format: " | data and the rest %.1f%%", 100 * (result.secondsPerStep - measured) / result.secondsPerStep))
            if let (f, ratio) = full {
                print(String(format: "LoRA r %d: %d trained parameters (%.2f%% of the model) | peak RSS above read before "
                    + "the full fine-tuning trainer existed | full fine-tuning, steps interleaved with LoRA's: %.1f tokens/s, "
                    + "%.3f s/step, MFU %.1f%% | LoRA step / full step %.3f (medians)", loraR, result.trainedParameters,
                    100 * Double(result.trainedParameters) / Double(f.trainedParameters), f.tokensPerSecond,
                    f.secondsPerStep, 100 * f.mfu, ratio))
            }
        }
    }

    private func runAllreduce(_ context: RankContext) throws {
        let communicator = context.communicator
        let bench = AllreduceBenchmark(communicator: communicator)
        let gradientBytes = ParameterLayout(config: try ModelPresets.config(named: shape)).count * MemoryLayout<Float>.stride
        let n = communicator.size, perNode = communicator.localSize, nodes = communicator.nodeCount
        context.say(context.header("bench --allreduce"))
        context.say("\(n) rank\(n == 1 ? "" : "s"), \(perNode) per node (\(nodes) node\(nodes == 1 ? "" : "s")) | "
            + String(format: "sizes 4 KB to the gradient of %@ (%.1f MB)", shape, Double(gradientBytes) / 1e6))
        if n == 1 { context.say("one rank: every allreduce is a no-op; launch under mpirun") }
        context.say("      bytes        time   algbw GB/s   busbw GB/s  iterations")
        for row in bench.sweep(sizes: AllreduceBenchmark.sizes(upTo: gradientBytes)) {
            context.say(String(format: "%11d  %8.1f us  %11.3f  %11.3f  %10d", row.bytes, row.seconds * 1e6,
                               row.algorithmBandwidth / 1e9, row.busBandwidth / 1e9, row.iterations))
        }
        guard steps > 0 else { return }
        if (execution.zero ?? 0) == 1 {
            context.say("overlap: not measured with --zero 1 (its reduce-scatter runs after the backward pass; nothing to hide it)")
            return
        }
        let settings = objective.layer.merging(lora.layer) { _, new in new }.merging(execution.layer) { _, new in new }
        let benchmark = Benchmark(shape: shape, steps: steps, threads: context.threads.threads, length: length,
                                  settings: settings, communicator: communicator)
        let o = try bench.overlap(benchmark)
        context.say(String(format: "overlap, %@, %d steps: %d bucket%@ of the %.1f MB gradient | step %.3f s (median) | waited "
            + "for after the backward pass %.3f s per step | the buckets' allreduces alone %.3f s | hidden by the backward "
            + "pass %.0f%%", shape, steps, o.buckets, o.buckets == 1 ? "" : "s", Double(o.gradientBytes) / 1e6, o.stepSeconds,
            o.exposedSeconds, o.aloneSeconds, 100 * o.hiddenFraction))
    }

    private func runDecode(threads: Int) throws {
        let precision = execution.precision ?? .fp32
        let r = try DecodeBenchmark(shape: shape, batch: batch, promptLength: promptLength, newTokens: newTokens,
                                    threads: threads, precision: precision).run()
        let fraction = r.decodeTokensPerSecond / r.batchOneBound
        let against = batch == 1
            ? String(format: "bound %.1f tokens/s | %.1f%% of bound", r.batchOneBound, 100 * fraction)
            : String(format: "batch-1 bound %.1f tokens/s | %.2fx the batch-1 bound | memory bound at batch %d "
                + "%.1f tokens/s (%.1f%%)", r.batchOneBound, fraction, batch, r.batchBound,
                100 * r.decodeTokensPerSecond / r.batchBound)
        print(String(format: "bench %@ --decode: batch %d | prompt %d + %d new | %d thread(s) | prefill %.1f tokens/s "
            + "| decode %.1f tokens/s (%.2f ms/step) | end to end %.1f tokens/s | weights %.1f MB per step "
            + "| KV cache read %.1f MB per step | triad %.1f GB/s | %@ | peak RSS %.2f GB",
            shape, batch, promptLength, newTokens, threads, r.prefillTokensPerSecond, r.decodeTokensPerSecond,
            1e3 * r.secondsPerStep, r.endToEndTokensPerSecond, Double(r.weightBytesPerStep) / 1e6, r.kvBytesPerStep / 1e6,
            r.triadBytesPerSecond / 1e9, against, Double(r.peakResidentBytes) / 1e9))
        print(MachineDescription.line)
        print(String(format: "context %d positions | up to %d tokens per step | KV cache (%@), step buffers, logits and "
            + "packed weights %.1f MB | weights initialised%@ in %.3f s | weights to the decoding layout (or packed) and "
            + "back %.3f s (once per job)", r.context, r.maxTokens, r.kvStorage.description, Double(r.decoderBytes) / 1e6,
            r.weights.releasesModelMatrices ? " and packed, fp32 matrices released," : "", r.loadSeconds,
            r.layoutSwitchSeconds))
        print("compute: \(r.weights)" + (precision == .auto ? " (chosen by --precision auto)" : ""))
        printMatmulKernels()
    }

    /// The kernels oneDNN ran the products on (nothing when every product went to OpenBLAS).
    private func printMatmulKernels() {
        let kernels = OneDNN.matmulKernels
        if kernels.isEmpty { return }
        print("oneDNN kernels: " + kernels.map { "\($0.name) (\($0.shapes) shape\($0.shapes == 1 ? "" : "s"))" }
            .joined(separator: ", "))
    }
}
