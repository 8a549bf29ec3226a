import DFTCore
import DFTData
import DFTGeneration
import DFTHDF5
import DFTModel
import DFTRuntime
import DFTTrain
import Foundation

/// `dft-mpi score`: the log-probability of every response token of every example, in data-set
/// order, written to HDF5 as a flat `logprobs` float32 dataset and int64 `offsets`
/// (example i's tokens are logprobs[offsets[i] ..< offsets[i + 1]]), with the mean NLL as an
/// attribute. Rank r scores examples r, r + N, r + 2N, ...; the pieces are summed into rank
/// 0's copy (every other rank holds zeros there), which writes the file.
public struct Scorer {
    /// What is scored, by what, in passes of how many rows of how many tokens.
    public struct Settings {
        public var model: String
        /// A PEFT LoRA adapter merged into the model ("" = none).
        public var adapter = ""
        public var data: String
        public var records = RecordSettings()
        public var maxLength = 2048
        public var microBatch = 4
        /// What the forward pass's products compute in.
        public var precision = Precision.fp32

        public init(model: String, data: String) {
            self.model = model
            self.data = data
        }
    }

    public let config: Settings
    public let communicator: any Communicator

    public init(config: Settings, communicator: any Communicator) {
        self.config = config
        self.communicator = communicator
    }

    public struct Summary {
        public let examples: Int
        public let tokens: Int
        public let meanNLL: Double
        public let truncated: Int
    }

    public func run(outputPath: String) throws -> Summary {
        // A preset or config.json is initialised as training initialises it by default.
        let source = try ModelSources.named(config.model, seed: BatchSettings().seed, adapter: config.adapter)
        let modelConfig = try source.config()
        let data = try DataSources.named(config.data, records: config.records, maxLength: config.maxLength,
                                         model: config.model, modelConfig: modelConfig)
        guard data.vocabularySize <= modelConfig.vocabSize else {
            throw ConfigError("data set '\(data.name)' has token ids up to \(data.vocabularySize - 1) "
                + "but the model's vocabulary has \(modelConfig.vocabSize) entries")
        }
        let rowsPerPass = config.microBatch
        // Scoring never runs a backward pass: no gradients or backward scratch, and the layers
        // share one layer's activation buffers (`full`; only each layer's input stays separate).
        let bf16: PackedMatrix.Kind? = try config.precision.resolved() == .bf16 ? Precision.bf16Kind : nil
        let model = try Transformer(config: modelConfig, maxRows: rowsPerPass, rowLength: config.maxLength,
                                    recompute: .full, trainable: false, bf16: bf16)
        try source.loadParameters(into: model.parameters, layout: model.layout)
        let batch = TokenBatch(maxRows: rowsPerPass, rowLength: config.maxLength)

        // Offsets from the masks alone, identical on every rank.
        var offsets = [Int64](repeating: 0, count: data.count + 1)
        var truncated = 0
        for i in 0..<data.count {
            let example = data.example(at: i)
            if example.count > config.maxLength { truncated += 1 }
            offsets[i + 1] = offsets[i] + Int64(example.trainedPredictions(keeping: config.maxLength))
        }
        let total = Int(offsets[data.count])
        let logprobs = FloatBuffer(count: total)               // [total response tokens]
        let slots = FloatBuffer(count: rowsPerPass * config.maxLength)  // [rows, length] log p per slot

        let mine = Array(stride(from: communicator.rank, to: data.count, by: communicator.size))
        var nll = [0.0]
        for first in stride(from: 0, to: mine.count, by: rowsPerPass) {
            let chosen = mine[first..<min(first + rowsPerPass, mine.count)]
            batch.clear(rows: chosen.count, padId: data.padId)
            for (row, index) in chosen.enumerated() {
                let example = data.example(at: index)
                batch.write(example, length: min(example.count, config.maxLength), segment: 0, at: row * config.maxLength)
            }
            model.forward(batch)
            let sums = model.loss(batch, objective: .sft, logProbabilities: slots.pointer)
            nll[0] += sums.nll
            for (row, index) in chosen.enumerated() {
                var out = Int(offsets[index])
                for t in 0..<config.maxLength where batch.lossMask[row * config.maxLength + t] != 0 {
                    logprobs[out] = slots[row * config.maxLength + t]
                    out += 1
                }
            }
        }
        communicator.allreduceSum(logprobs.pointer, count: total)
        communicator.allreduceSum(&nll)
        let mean = total > 0 ? nll[0] / Double(total) : .nan
        if communicator.isRoot {
            let temporary = outputPath + ".partial-\(getpid())"
            let file = try HDF5File.create(temporary)
            let root = try file.root()
            try root.writeFloats("logprobs", logprobs.pointer, shape: [total])
            try root.writeInt64s("offsets", offsets)
            try root.setAttribute("mean_nll", mean)
            try root.setAttribute("examples", data.count)
            try root.setAttribute("tokens", total)
            try root.setAttribute("truncated_examples", truncated)
            try root.setAttribute("model", source.description)
            try root.setAttribute("data", config.data)
            try root.setAttribute("max_length", config.maxLength)
            try file.close()
            guard rename(temporary, outputPath) == 0 else {
                throw ConfigError("cannot write '\(outputPath)': \(String(cString: strerror(errno)))")
            }
        }
        communicator.barrier()
        return Summary(examples: data.count, tokens: total, meanNLL: mean, truncated: truncated)
    }
}
