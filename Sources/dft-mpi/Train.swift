import ArgumentParser
import DFTCore
import DFTData
import DFTGeneration
import DFTJobs
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model with DFT, SFT or a relative.",
        discussion: """
            With no arguments: the demo. The built-in half-trained base model (arith-base-half, a \
            small Qwen2 halfway through its pretraining on arithmetic) is fine-tuned with DFT on \
            the built-in chain-of-thought demonstrations (arith-cot), and its accuracy on the \
            held-out problems (arith-heldout) is measured before and after (about 27% -> 48% in \
            two minutes on two cores; arith-base, fully pretrained, already scores 81%). Settings come from, later winning: the defaults (the \
            DFT paper's recipe), the demo settings when --data is a built-in set, the YAML file \
            given by --config (keys are the option names in snake_case, e.g. global_batch), then \
            the flags. The resolved configuration is written to OUT/config.yaml.
            """)

    @Option(help: "YAML file of settings (snake_case keys, e.g. `global_batch: 256`).")
    var config: String?

    @OptionGroup(title: "Model and data") var inputs: RunInputOptions
    @OptionGroup(title: "Held-out evaluation") var evaluation: EvaluationOptions
    @OptionGroup(title: "Text records") var template: TemplateOptions
    @OptionGroup(title: "Text records") var records: RecordFieldOptions
    @OptionGroup(title: "Objective") var objective: ObjectiveOptions
    @OptionGroup(title: "LoRA") var lora: AdapterOptions
    @OptionGroup(title: "Optimizer") var optimizer: OptimizerOptions
    @OptionGroup(title: "Steps and batches") var batching: BatchOptions
    @OptionGroup(title: "Output") var output: OutputOptions
    @OptionGroup(title: "Execution") var threads: ThreadOptions
    @OptionGroup(title: "Execution") var execution: ExecutionOptions
    @OptionGroup(title: "Checkpoints") var checkpoints: CheckpointOptions
    @OptionGroup var debug: DebugOptions

    /// The flags given on the command line, as a configuration layer.
    func flagLayer() -> [String: Any] {
        Self.flagLayer([inputs, evaluation, template, records, objective, lora, optimizer, batching, output, threads,
                        execution, checkpoints], batching: batching)
    }

    /// The flags of `groups` as one layer (`train`'s and `offline-rl`'s).
    static func flagLayer(_ groups: [any SettingsLayer], batching: BatchOptions) -> [String: Any] {
        var layer: [String: Any] = [:]
        for group in groups { layer.merge(group.layer) { _, new in new } }
        // --epochs on the command line beats `steps:` from a config file.
        if batching.epochs != nil && batching.steps == nil { layer["steps"] = 0 }
        return layer
    }

    func run() throws {
        var layers: [[String: Any]] = []
        if let config { layers.append(try TrainConfig.layer(fromYAMLFile: config)) }
        layers.append(flagLayer())
        // MPI starts only once the configuration is known to be valid: a bad flag is
        // reported by every rank and ends them without any collective.
        let resolved = try TrainConfig.resolve(layers: layers, source: config.map { "config '\($0)' and flags" } ?? "flags")
        let injection = DebugInjection(failRank: debug.debugFailRank, failStep: debug.debugFailStep,
                                       nanRank: debug.debugNanRank, nanStep: debug.debugNanStep, stopStep: debug.debugStopAtStep,
                                       hangRank: debug.debugHangRank, hangStep: debug.debugHangStep)
        let code = try TrainingSession.run(config: resolved, debug: injection, debugDumpPath: debug.debugDump,
                                           debugKillDuringSave: debug.debugKillDuringSave)
        if code != 0 { throw ExitCode(code) }
    }
}
