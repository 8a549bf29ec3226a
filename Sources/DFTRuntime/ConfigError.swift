/// A setting that cannot be used as given: the message names the setting (flag or YAML key)
/// and what was expected.
public struct ConfigError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
