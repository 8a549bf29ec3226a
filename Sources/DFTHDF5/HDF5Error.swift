import CHDF5

/// An HDF5 call failed. `message` is HDF5's own error stack, innermost cause first.
public struct HDF5Error: Error, CustomStringConvertible {
    public let operation: String
    public let message: String

    public var description: String {
        message.isEmpty ? "HDF5: \(operation) failed" : "HDF5: \(operation) failed: \(message)"
    }

    /// Reads and clears HDF5's error stack.
    static func take(_ operation: String) -> HDF5Error {
        var buffer = [CChar](repeating: 0, count: 1024)
        dft_h5_take_error(&buffer)
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return HDF5Error(operation: operation, message: String(decoding: bytes, as: UTF8.self))
    }
}

enum HDF5 {
    /// HDF5 prints every error to stderr by default; the library reports them as Swift
    /// errors instead. Called before any HDF5 use.
    static let initialised: Bool = {
        dft_h5_silence_errors()
        return true
    }()

    @discardableResult
    static func check(_ status: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
        if status < 0 { throw HDF5Error.take(operation()) }
        return status
    }

    static func id(_ value: hid_t, _ operation: @autoclosure () -> String) throws -> hid_t {
        if value < 0 { throw HDF5Error.take(operation()) }
        return value
    }
}
