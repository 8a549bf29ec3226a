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

/// OpenBLAS threads per rank, for every command that computes.
struct ThreadOptions: SettingsLayer {
    @Option(help: "OpenBLAS threads per rank; 0 takes SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else the node's cores / ranks on the node. (default: 0)")
    var threads: Int?

    /// What `ThreadPolicy` is asked for (0: decide from the environment).
    var requested: Int { threads ?? 0 }
}
