import DFTBuiltin
import DFTRuntime

/// What is trained on what.
public struct RunInputs: SettingsGroup {
    /// A model directory, checkpoint, config.json, preset, or `arith-base` (the built-in
    /// pretrained base, `BuiltinAssets`).
    public var model = BuiltinAssets.baseModel
    /// A data file, `arith-cot` (the built-in demonstrations), or `embedded` (the byte-level
    /// arithmetic set of the random-init `demo` preset).
    public var data = BuiltinAssets.demonstrations

    public init() {}

    public func validate() throws {}
}
