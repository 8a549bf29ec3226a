/// Why a safetensors file or a Hugging Face model directory could not be read or written.
/// Every message names the file, and the tensor where one is at fault.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be opened, sized or mapped.
    case unreadable(path: String, reason: String)
    /// The file ends before the header or a tensor's data does.
    case truncated(path: String, tensor: String?, reason: String)
    /// The 8-byte length or the JSON header is malformed.
    case badHeader(path: String, reason: String)
    /// One tensor's header entry is malformed (dtype, shape or offsets).
    case badTensorEntry(path: String, tensor: String, reason: String)
    /// A tensor is stored in a type that cannot be converted to float32.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// The model needs a tensor that the file (or, for a sharded model, its index) lacks.
    case missingTensor(path: String, tensor: String)
    /// The tensor's shape is not the one the model config implies.
    case wrongShape(path: String, tensor: String, expected: [Int], found: [Int])
    /// A tied model's checkpoint has an lm_head.weight that is not its embedding.
    case tiedHeadDiffers(path: String, maxDifference: Float)
    /// The directory has no safetensors weights, or its index is malformed.
    case badDirectory(path: String, reason: String)
    /// Writing failed.
    case notWritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "safetensors '\(path)': cannot be read (\(reason))"
        case .truncated(let path, let tensor?, let reason):
            "safetensors '\(path)': truncated at tensor '\(tensor)': \(reason); the file is incomplete, download or write it again"
        case .truncated(let path, nil, let reason):
            "safetensors '\(path)': truncated: \(reason); the file is incomplete, download or write it again"
        case .badHeader(let path, let reason):
            "safetensors '\(path)': bad header: \(reason)"
        case .badTensorEntry(let path, let tensor, let reason):
            "safetensors '\(path)': tensor '\(tensor)': \(reason)"
        case .unsupportedDType(let path, let tensor, let dtype):
            "safetensors '\(path)': tensor '\(tensor)' has dtype \(dtype); supported are F32, BF16 and F16"
        case .missingTensor(let path, let tensor):
            "safetensors '\(path)': missing tensor '\(tensor)'"
        case .wrongShape(let path, let tensor, let expected, let found):
            "safetensors '\(path)': tensor '\(tensor)' has shape \(found), expected \(expected) from config.json"
        case .tiedHeadDiffers(let path, let difference):
            "safetensors '\(path)': config.json ties the LM head to the embedding, but 'lm_head.weight' differs from "
                + "'model.embed_tokens.weight' (max |difference| \(difference)); set tie_word_embeddings to false"
        case .badDirectory(let path, let reason):
            "Hugging Face model '\(path)': \(reason)"
        case .notWritable(let path, let reason):
            "safetensors '\(path)': cannot be written (\(reason))"
        }
    }
}
