import DFTBuiltin
import DFTCore
import DFTModel
import DFTRuntime
import Foundation
import Yams

/// Everything a training run is configured by, in groups of one concern each
/// (`SettingsGroup`); a setting is read as `config.lr`, whichever group holds it. YAML keys are
/// the property names in snake_case and flags the same names in kebab-case (`global_batch` =
/// `--global-batch`): one rule, so a setting is written once here (name, default, check) and
/// once in the command's option group (flag help).
///
/// Resolution, later layers winning: built-in defaults (the paper's reference recipe), then
/// for a built-in data set its demo settings (`TrainConfig.demoSettings`,
/// `embeddedSettings`), then the YAML file, then flags. The names of built-in assets
/// (`arith-base`, `arith-cot`, ...) are then replaced by their paths. The resolved
/// configuration is written to OUT/config.yaml.
@dynamicMemberLookup
public struct TrainConfig: Decodable, Equatable, Sendable {
    public var inputs = RunInputs()
    public var evaluation = EvaluationSettings()
    public var records = RecordSettings()
    public var loss = ObjectiveSettings()
    public var lora = AdapterSettings()
    public var optimization = OptimizerSettings()
    public var batching = BatchSettings()
    public var output = OutputSettings()
    public var execution = ExecutionSettings()
    public var checkpointing = CheckpointSettings()

    public init() {}

    /// The groups in the order of config.yaml.
    var groups: [any SettingsGroup] {
        [inputs, evaluation, records, loss, lora, optimization, batching, output, execution, checkpointing]
    }

    /// Every group reads its own keys from the same flat mapping.
    public init(from decoder: Decoder) throws {
        inputs = try RunInputs(from: decoder)
        evaluation = try EvaluationSettings(from: decoder)
        records = try RecordSettings(from: decoder)
        loss = try ObjectiveSettings(from: decoder)
        lora = try AdapterSettings(from: decoder)
        optimization = try OptimizerSettings(from: decoder)
        batching = try BatchSettings(from: decoder)
        output = try OutputSettings(from: decoder)
        execution = try ExecutionSettings(from: decoder)
        checkpointing = try CheckpointSettings(from: decoder)
    }

    public subscript<T>(dynamicMember path: WritableKeyPath<RunInputs, T>) -> T {
        get { inputs[keyPath: path] } set { inputs[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<EvaluationSettings, T>) -> T {
        get { evaluation[keyPath: path] } set { evaluation[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<RecordSettings, T>) -> T {
        get { records[keyPath: path] } set { records[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<ObjectiveSettings, T>) -> T {
        get { loss[keyPath: path] } set { loss[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<AdapterSettings, T>) -> T {
        get { lora[keyPath: path] } set { lora[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<OptimizerSettings, T>) -> T {
        get { optimization[keyPath: path] } set { optimization[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<BatchSettings, T>) -> T {
        get { batching[keyPath: path] } set { batching[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<OutputSettings, T>) -> T {
        get { output[keyPath: path] } set { output[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<ExecutionSettings, T>) -> T {
        get { execution[keyPath: path] } set { execution[keyPath: path] = newValue }
    }
    public subscript<T>(dynamicMember path: WritableKeyPath<CheckpointSettings, T>) -> T {
        get { checkpointing[keyPath: path] } set { checkpointing[keyPath: path] = newValue }
    }

    /// Every setting as (YAML key, value), in the order of config.yaml.
    public var settings: [(key: String, value: Any)] { groups.flatMap(\.settings) }

    /// The YAML keys (and, in kebab-case, the flags) of every setting.
    public static var keys: [String] { TrainConfig().settings.map(\.key) }

    /// Settings of the built-in demo (`data: arith-cot`): the built-in base model fine-tuned on
    /// its chain-of-thought demonstrations, with its accuracy on the held-out problems measured
    /// before and after (4 answers per problem at temperature 1, the paper's sampling), in a few
    /// minutes on two cores. A 3M-parameter model wants a higher rate than a 1.5B one.
    public static var demoSettings: [String: Any] {
        ["template": "plain", "eval_data": BuiltinAssets.heldOut, "eval_generate": 4, "eval_max_new_tokens": 96,
         "lr": 3e-4, "global_batch": 32, "micro_batch": 16, "max_length": 128, "packing": true, "epochs": 1.0,
         "log_every": 10, "out": "runs/demo"]
    }

    /// Settings of the byte-level arithmetic set (`data: embedded`), meant for the random-init
    /// `demo` preset: DFT weights each token's gradient by its probability, so from random
    /// weights (p = 1/vocab everywhere) it starves every token it does not already predict and
    /// collapses; these settings first build a base with SFT steps, then fine-tune it with the
    /// configured objective.
    public static var embeddedSettings: [String: Any] {
        ["lr": 2e-3, "global_batch": 32, "micro_batch": 16, "max_length": 128,
         "packing": true, "epochs": 1.5, "sft_warmup_steps": 60, "log_every": 10, "out": "runs/embedded"]
    }
}

extension TrainConfig {
    /// Reads a YAML config file into a key -> value layer, rejecting unknown keys (a typo
    /// must never silently drop a hyper-parameter).
    /// `extraKeys`: more keys a command reads from the same file (`offline-rl`'s).
    public static func layer(fromYAMLFile path: String, extraKeys: [String] = []) throws -> [String: Any] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("config file '\(path)': cannot be read")
        }
        let node: Any?
        do {
            node = try Yams.load(yaml: text)
        } catch {
            throw ConfigError("config file '\(path)': not valid YAML: \(error)")
        }
        guard let node else { return [:] }
        guard let mapping = node as? [String: Any] else {
            throw ConfigError("config file '\(path)': expected a mapping of keys to values at the top level")
        }
        let keys = Self.keys + extraKeys
        for key in mapping.keys.sorted() where !keys.contains(key) {
            let hint = keys.first { $0.replacingOccurrences(of: "_", with: "") == key.replacingOccurrences(of: "-", with: "").replacingOccurrences(of: "_", with: "") }
            throw ConfigError("config file '\(path)': unknown key '\(key)'"
                + (hint.map { " (did you mean '\($0)'?)" } ?? "")
                + "; known keys: \(keys.joined(separator: ", "))")
        }
        return mapping
    }

    /// Merges layers (later wins) over the defaults, applying a built-in data set's demo
    /// settings underneath, replaces built-in asset names by their paths, and validates.
    public static func resolve(layers: [[String: Any]], source: String = "configuration") throws -> TrainConfig {
        var merged: [String: Any] = [:]
        for layer in layers { merged.merge(layer) { _, new in new } }
        let data = merged["data"] as? String ?? TrainConfig().data
        if data == BuiltinAssets.demonstrations {
            merged = demoSettings.merging(merged) { _, user in user }
        } else if data == "embedded" {
            merged = embeddedSettings.merging(merged) { _, user in user }
        }
        var config: TrainConfig
        do {
            config = try decode(layer: merged)
        } catch let DecodingError.typeMismatch(type, context) {
            let key = context.codingPath.last.map { SettingName.key($0.stringValue) } ?? "?"
            throw ConfigError("\(source): '\(key)' (\(SettingName.flag(key))) must be \(describe(type)), got \(merged[key].map { "\($0)" } ?? "nothing")")
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        config.model = BuiltinAssets.resolve(config.model)
        config.data = BuiltinAssets.resolve(config.data)
        config.evalData = BuiltinAssets.resolve(config.evalData)
        try config.validate()
        return config
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }

    /// Range checks of every group, each naming the key and what it expects.
    public func validate() throws {
        for group in groups { try group.validate() }
    }

    /// A layer over the defaults, decoded (no demo layer, no validation).
    static func decode(layer: [String: Any]) throws -> TrainConfig {
        try SettingName.decode(TrainConfig.self, defaults: TrainConfig().settings, layer: layer)
    }

    /// Reads a configuration written by `yaml()` (a checkpoint's config_yaml).
    public static func decode(yaml: String) throws -> TrainConfig {
        try decode(layer: (try Yams.load(yaml: yaml) as? [String: Any]) ?? [:])
    }

    /// The configuration as YAML, keys in declaration order, numbers in their shortest exact
    /// form (`lr: 5e-05`, `clip: 1.0`), strings quoted only when YAML would misread them.
    public func yaml() throws -> String {
        settings.map { "\($0.key): \(Self.yamlScalar(SettingName.layerValue($0.value)))\n" }.joined()
    }

    public static func yamlScalar(_ value: Any) -> String {
        switch value {
        case let flag as Bool: return flag ? "true" : "false"
        case let integer as Int: return String(integer)
        case let number as Double: return String(number)
        default:
            let text = value as? String ?? "\(value)"
            let plain = text.range(of: "^[A-Za-z_./][A-Za-z0-9_./-]*$", options: .regularExpression) != nil
                && !["true", "false", "yes", "no", "on", "off", "null", "y", "n"].contains(text.lowercased())
            if plain { return text }
            return String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
        }
    }
}
