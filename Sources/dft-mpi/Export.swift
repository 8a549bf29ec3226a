import ArgumentParser
import DFTGeneration
import DFTJobs
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint as a Hugging Face model directory (config.json + safetensors), or a LoRA run's as a PEFT adapter.",
        discussion: "transformers' AutoModelForCausalLM.from_pretrained(OUT) and vLLM load the result. "
            + "The run's tokenizer files are copied too: those of --tokenizer when the run gave one, else "
            + "the base model's when it started from a Hugging Face directory. A LoRA run's checkpoint "
            + "(--lora-r) is written as adapter_config.json + adapter_model.safetensors, which "
            + "peft.PeftModel.from_pretrained(base, OUT) and vLLM load; with --merge, as the full model with "
            + "W + scaling * B A (the base is read from the run's --model and checked against its checksum).")

    @Argument(help: "A checkpoint, OUT/checkpoints/step-NNNNNNNN.h5.")
    var checkpoint: String

    @Option(help: "Output directory.")
    var out: String

    @Option(help: "bf16 or fp32.")
    var dtype = "bf16"

    @Flag(help: "For a LoRA run's checkpoint: write the full model with the adapters merged in, not the adapter.")
    var merge = false

    func run() throws {
        let type: SafetensorsWriter.OutputType
        switch dtype {
        case "bf16", "bfloat16": type = .bf16
        case "fp32", "f32", "float32": type = .f32
        default: throw ValidationError("--dtype must be bf16 or fp32, got '\(dtype)'")
        }
        let result = try Exporter.export(checkpoint: checkpoint, to: out, as: type, merge: merge)
        print("exported step \(result.step) to \(out): \(result.weightFiles.joined(separator: ", "))"
            + (result.copiedFiles.isEmpty ? "" : "; copied \(result.copiedFiles.joined(separator: ", "))"))
        for warning in result.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
    }
}
