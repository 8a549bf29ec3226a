import DFTCore
import Foundation

/// Settings of one concern (the model and data, the objective, LoRA, the optimizer, ...).
///
/// A setting is a stored property with its default: its YAML key is the property name in
/// snake_case (`sftWarmupSteps` -> `sft_warmup_steps`), its flag the name in kebab-case
/// (`--sft-warmup-steps`, declared with its help by the command's option group). Nothing else
/// names it: configuration files are decoded by the same rule, `TrainConfig.keys` and
/// `TrainConfig.yaml()` read the properties, and `validate()` checks the group's ranges.
public protocol SettingsGroup: Decodable, Equatable, Sendable {
    init()
    /// Range checks, each error naming the setting's key and what it expects.
    func validate() throws
}

extension SettingsGroup {
    /// The settings as (YAML key, value) in declaration order.
    public var settings: [(key: String, value: Any)] {
        Mirror(reflecting: self).children.compactMap { child in
            child.label.map { (SettingName.key($0), child.value) }
        }
    }

    /// The group from a layer of (YAML key, value) over its defaults, checked; unknown keys are
    /// left to the caller.
    public static func resolve(_ layer: [String: Any]) throws -> Self {
        let group = try SettingName.decode(Self.self, defaults: Self().settings, layer: layer)
        try group.validate()
        return group
    }

    /// Throws unless `ok`: "'key' (--flag) must be expected", naming the setting both ways a
    /// user may have given it.
    public func require(_ ok: Bool, _ key: String, _ expected: String) throws {
        if !ok { throw ConfigError("'\(key)' (\(SettingName.flag(key))) must be \(expected)") }
    }
}

/// A setting with a fixed set of values (an objective, a schedule, ...): read from YAML or a
/// flag by its name, and an unknown name is an error that lists the choices.
public protocol SettingChoice: RawRepresentable, CaseIterable, Codable, Sendable, CustomStringConvertible
where RawValue == String {}

extension SettingChoice {
    public static var choices: [String] { allCases.map(\.rawValue) }

    /// The name a user writes (`micro-batch`), also in messages and headers.
    public var description: String { rawValue }

    public init(from decoder: Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: name) else {
            let key = decoder.codingPath.last.map { SettingName.key($0.stringValue) } ?? "\(Self.self)"
            throw ConfigError("'\(key)' (\(SettingName.flag(key))) must be one of \(Self.choices.joined(separator: ", ")), got '\(name)'")
        }
        self = value
    }
}

/// The one naming rule of settings: Swift property names in camelCase, YAML keys in snake_case.
public enum SettingName {
    /// `sftWarmupSteps` -> `sft_warmup_steps`, `evalTopP` -> `eval_top_p`, `beta1` -> `beta1`.
    public static func key(_ property: String) -> String {
        var out = ""
        for character in property.drop(while: { $0 == "_" }) {
            if character.isUppercase {
                out += "_" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// `sft_warmup_steps` -> `--sft-warmup-steps`.
    public static func flag(_ key: String) -> String {
        "--" + key.replacingOccurrences(of: "_", with: "-")
    }

    /// `T` decoded from `layer` over `defaults` (both keyed by YAML key), the keys mapped to
    /// property names by the naming rule. YAML timestamps, which JSON cannot hold, go as text.
    public static func decode<T: Decodable>(_ type: T.Type, defaults: [(key: String, value: Any)],
                                            layer: [String: Any]) throws -> T {
        var merged = Dictionary(uniqueKeysWithValues: defaults.map { ($0.key, layerValue($0.value)) })
        merged.merge(layer) { _, new in new }
        let json = try JSONSerialization.data(withJSONObject: merged.mapValues { ($0 as? Date).map { "\($0)" } ?? $0 })
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(type, from: json)
    }

    /// A setting's value as it goes into a layer of settings (and JSON): choices by name.
    public static func layerValue(_ value: Any) -> Any {
        (value as? any SettingChoice)?.rawValue ?? value
    }
}

/// `precision` (train, generate, eval, bench): fp32, bf16 or auto.
extension Precision: SettingChoice {}
