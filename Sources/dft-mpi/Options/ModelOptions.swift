import ArgumentParser
import DFTRuntime

/// The model a job that does not train runs (`generate`, `eval`, `score`): its weights, and a
/// PEFT adapter merged into them.
struct ModelOptions: ParsableArguments {
    @Option(help: "A Hugging Face model directory, a dft-mpi checkpoint (.h5), a config.json, a preset, or arith-base / arith-base-half (the built-in base models).")
    var model: String

    @Option(help: "A PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) merged into the model (docs/LORA.md).")
    var adapter = ""
}

/// How every command that computes runs on its ranks: OpenBLAS threads per rank, and the
/// communication watchdog.
struct ThreadOptions: SettingsLayer {
    @Option(help: "OpenBLAS threads per rank; 0 takes SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else the node's cores / ranks on the node. (default: 0)")
    var threads: Int?

    @Option(help: ArgumentHelp("Seconds any collective between ranks may take before the job ends on every rank with an error naming the collective, the step and the ranks that did not answer (a lost node or link; exit code \(ExitCodes.communicationTimeout), the last checkpoint intact); 0 waits forever. (default: \(Int(CommunicationTimeout.defaultSeconds)))", valueName: "seconds"))
    var commTimeout: Double?

    /// The watchdog's timeout (the default when not given).
    var timeout: Double { commTimeout ?? CommunicationTimeout.defaultSeconds }

    /// What `ThreadPolicy` is asked for (0: decide from the environment).
    var requested: Int { threads ?? 0 }
}
