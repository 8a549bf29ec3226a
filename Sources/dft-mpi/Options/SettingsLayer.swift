import ArgumentParser
import DFTCore
import DFTData
import DFTModel
import DFTRuntime
import DFTTrain

/// An option group whose properties are settings: the flags given become a layer of (YAML key,
/// value), the key derived from the property name by the settings' one rule
/// (`SettingName.key`). A flag not given (nil, or an unset switch) is left out, so lower
/// layers (a YAML file, the demo settings, the defaults) keep their value.
protocol SettingsLayer: ParsableArguments {}

extension SettingsLayer {
    var layer: [String: Any] {
        var layer: [String: Any] = [:]
        for child in Mirror(reflecting: self).children {
            guard let label = child.label, let given = (child.value as? GivenValue)?.given else { continue }
            layer[SettingName.key(label)] = SettingName.layerValue(given)
        }
        return layer
    }
}

/// The value of a flag the command line gave, nil when it gave none.
private protocol GivenValue {
    var given: Any? { get }
}

extension Option: GivenValue {
    fileprivate var given: Any? { unwrapped(wrappedValue) }
}

extension Flag: GivenValue {
    /// A switch (`--skip-invalid`) counts when set; an inversion (`--packing/--no-packing`)
    /// whenever given.
    fileprivate var given: Any? {
        if let on = wrappedValue as? Bool { return on ? true : nil }
        return unwrapped(wrappedValue)
    }
}

/// The value inside an Optional, nil for none; any other value as it is.
private func unwrapped(_ value: Any) -> Any? {
    let mirror = Mirror(reflecting: value)
    guard mirror.displayStyle == .optional else { return value }
    return mirror.children.first?.value
}

extension ObjectiveName: ExpressibleByArgument {}
extension LossNormalization: ExpressibleByArgument {}
extension OptimizerName: ExpressibleByArgument {}
extension LearningRateSchedule.Shape: ExpressibleByArgument {}
extension Recompute: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension TemplateName: ExpressibleByArgument {}
extension RecordFormatName: ExpressibleByArgument {}
