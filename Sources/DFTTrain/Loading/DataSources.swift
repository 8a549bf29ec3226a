import DFTBuiltin
import DFTData
import DFTModel
import DFTRuntime

/// What a `--data` name names: `embedded` (the byte-level arithmetic set), a .jsonl file of
/// records (tokenized through `records`, or pre-tokenized when there is no tokenizer), or a .h5
/// file of `dft-mpi prepare`. Training, its held-out set and `score` read data through here.
public enum DataSources {
    /// `model` is the `--model` name (its tokenizer.json is the default tokenizer);
    /// `modelConfig` the model's, whose vocabulary bounds every id.
    public static func named(_ data: String, records: RecordSettings, maxLength: Int, model: String,
                             modelConfig: ModelConfig) throws -> any Dataset {
        if data == "embedded" {
            return EmbeddedArithmetic()
        }
        if data.hasSuffix(".jsonl") {
            guard let source = ModelSources.tokenizer(records.tokenizer, model: model) else {
                do {
                    return try PretokenizedJSONL(path: data, vocabularySize: modelConfig.vocabSize, padId: 0)
                } catch let error as DataError where error.kind == .missingField && error.field == PretokenizedJSONL.idsField {
                    throw ConfigError(withoutTokenizer: model, data: data, error: error)
                }
            }
            let tokenizer = try TokenizerLoader.load(source)
            guard tokenizer.vocabularySize <= modelConfig.vocabSize else {
                throw ConfigError("tokenizer '\(source)' has \(tokenizer.vocabularySize) tokens but the model's vocabulary has \(modelConfig.vocabSize)")
            }
            return try TokenizedJSONL(path: data, tokenizer: tokenizer, template: try records.chatTemplate(),
                                      options: .init(format: records.recordFormat, skipInvalid: records.skipInvalid,
                                                     maxLength: maxLength, vocabularySize: modelConfig.vocabSize))
        }
        if data.hasSuffix(".h5") {
            return try PreparedDataset(path: data, vocabularySize: modelConfig.vocabSize)
        }
        throw ConfigError("'data': '\(data)' is neither 'embedded', a .jsonl file of records, "
            + "nor a .h5 file written by `dft-mpi prepare`")
    }
}

extension ConfigError {
    /// Text records met by a model that has no tokenizer (a preset, a config.json, a checkpoint
    /// of such a run): say so, and the three ways out, rather than only that `input_ids` is missing.
    init(withoutTokenizer model: String, data: String, error: DataError) {
        let what = ModelPresets.names.contains(model) ? "is a preset (random weights) with no tokenizer" : "has no tokenizer.json"
        self.init("--model \(model) \(what), so it cannot read the text records of \(BuiltinAssets.abbreviate(data)) "
            + "(line \(error.line ?? 1) has no \"\(PretokenizedJSONL.idsField)\"). Pass one of: --data embedded "
            + "(byte-level arithmetic, with --model demo); pre-tokenized data ({\"input_ids\": [...], \"loss_mask\": [...]} "
            + "records, or a .h5 of `dft-mpi prepare`); or --tokenizer DIR (a Hugging Face tokenizer directory or "
            + "tokenizer.json whose vocabulary fits the model's)")
    }
}
