import Foundation

/// Finds and loads a tokenizer from what a user passes on the command line.
public enum TokenizerLoader {
    /// The name that selects the built-in `ByteTokenizer`.
    public static let builtInByteTokenizerName = "byte"

    /// `byte` for the built-in byte tokenizer; a directory holding `tokenizer.json` (and
    /// usually `tokenizer_config.json`), as a Hugging Face model directory does; or the path
    /// of a `tokenizer.json` file itself, with `tokenizer_config.json` read from beside it.
    public static func load(_ source: String) throws -> any TextTokenizer {
        if source == builtInByteTokenizerName { return ByteTokenizer() }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), !isDirectory.boolValue {
            let directory = URL(fileURLWithPath: source).deletingLastPathComponent().path
            return try load(tokenizerFile: source, directory: directory)
        }
        return try load(directory: source)
    }

    /// Reads `DIR/tokenizer.json` and, if present, `DIR/tokenizer_config.json`.
    public static func load(directory: String) throws -> ByteLevelBPETokenizer {
        let tokenizerFile = URL(fileURLWithPath: directory).appendingPathComponent("tokenizer.json").path
        guard FileManager.default.fileExists(atPath: tokenizerFile) else {
            throw TokenizerError(.fileMissing, file: tokenizerFile, message: "file not found",
                                 hint: "pass a directory with tokenizer.json (a Hugging Face model directory), a tokenizer.json file, or \"\(builtInByteTokenizerName)\"")
        }
        return try load(tokenizerFile: tokenizerFile, directory: directory)
    }

    private static func load(tokenizerFile: String, directory: String) throws -> ByteLevelBPETokenizer {
        let configFile = URL(fileURLWithPath: directory).appendingPathComponent("tokenizer_config.json").path
        let hasConfig = FileManager.default.fileExists(atPath: configFile)
        return try ByteLevelBPETokenizer(tokenizerFile: tokenizerFile, configFile: hasConfig ? configFile : nil)
    }
}

/// `TokenizerLoader.load(directory:)`: the tokenizer of a Hugging Face model directory.
public func loadTokenizer(directory: String) throws -> ByteLevelBPETokenizer {
    try TokenizerLoader.load(directory: directory)
}
