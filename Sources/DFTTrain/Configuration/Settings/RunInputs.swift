import DFTBuiltin
import DFTRuntime

/// What is trained on what.
public struct RunInputs: SettingsGroup {
    /// A model directory, checkpoint, config.json, preset, or a built-in base (`BuiltinAssets`):
    /// `arith-base-half` by default, the demo's, whose accuracy has room to move.
    public var model = BuiltinAssets.halfTrainedBase
    /// A data file, `arith-cot` (the built-in demonstrations), or `embedded` (the byte-level
    /// arithmetic set of the random-init `demo` preset).
    public var data = BuiltinAssets.demonstrations

    public init() {}

    public func validate() throws {}
}
